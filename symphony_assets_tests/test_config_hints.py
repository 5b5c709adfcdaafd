"""Config files that cannot hold a port site are skipped from their text: the sites (and the rows
recording a limit) are what the full read gives, on generated JSON and YAML with and without the words,
escapes, anchors, variables, broken syntax, and limits lowered so that they are reached."""

from __future__ import annotations

import json
import random

import pytest

from symphony_assets.analysis import limits
from symphony_assets.analysis.ports import config, config_hints
from symphony_assets.analysis.ports.sites import PortSite

_WORDS = ["name", "value", "count", "metrics", "p95", "ok", "items", "ts", "host", "mode", "sport"]
_HINTED = ["port", "db_port", "serverPort", "listen", "bind_addr", "endpoint", "url", "REPORT", "Support"]
_VALUES = ["1", "80", "x", "http://h:8080/a", "${P:-9000}", "$HOME", "h:80", "true", "null", "2.5", ""]
_ESCAPED_JSON = ['"\\u0070ort"', '"http:\\/\\/h:81"', '"a\\nb"', '"\\"q\\""']


def _json_value(rng: random.Random, depth: int, hinted: bool) -> object:
    if depth > 0 and rng.random() < 0.45:
        if rng.random() < 0.5:
            return [_json_value(rng, depth - 1, hinted) for _ in range(rng.randint(0, 4))]
        keys = _WORDS + (_HINTED if hinted else [])
        return {rng.choice(keys): _json_value(rng, depth - 1, hinted) for _ in range(rng.randint(0, 4))}
    pool = _VALUES if hinted else [v for v in _VALUES if "://" not in v and "$" not in v]
    value = rng.choice(pool)
    return int(value) if value.isdigit() else value


def _json_text(rng: random.Random) -> str:
    hinted = rng.random() < 0.4
    text = json.dumps(_json_value(rng, rng.randint(1, 9), hinted), indent=rng.choice([None, 2]))
    roll = rng.random()
    if roll < 0.1:
        text = text[: rng.randint(0, len(text))]  # a half-written report
    elif roll < 0.2:
        text = text.replace('"value"', rng.choice(_ESCAPED_JSON), 1)
    elif roll < 0.25:
        text = "[" * rng.randint(5, 12) + "1" + "]" * rng.randint(5, 12)
    elif roll < 0.35:  # wide and shallow: many nodes
        text = json.dumps({"rows": [{"n": i, "v": "x"} for i in range(rng.randint(3, 30))]})
    elif roll < 0.4:  # lists of lists: the JSON reader counts more nodes than YAML's events
        text = json.dumps([[i] for i in range(rng.randint(3, 30))])
    return text


def _yaml_text(rng: random.Random) -> str:
    hinted = rng.random() < 0.4
    lines = []
    for i in range(rng.randint(1, 12)):
        indent = "  " * rng.randint(0, min(i, 3))
        key = rng.choice(_WORDS + (_HINTED if hinted else []))
        value = rng.choice(_VALUES if hinted else ["1", "x", "true", ""])
        lines.append(f"{indent}{key}: {value}")
    roll = rng.random()
    if roll < 0.15:  # long: many nodes
        lines += [f"row{i}: [{i}, x]" for i in range(rng.randint(5, 30))]
    elif roll < 0.3:  # deep
        depth = rng.randint(3, 10)
        lines += [f"{'  ' * d}level{d}:" for d in range(depth)] + [f"{'  ' * depth}leaf: 1"]
    if rng.random() < 0.15:
        lines.append("base: &b {a: 1}\nother: *b")
    if rng.random() < 0.1:
        lines.append('q: "po\\x72t"')
    if rng.random() < 0.1:
        lines.append("bad: [unclosed")
    return "\n".join(lines) + "\n"


def _full(fmt: str, text: str, monkeypatch: pytest.MonkeyPatch) -> list[PortSite]:
    with monkeypatch.context() as m:
        m.setattr(config, "may_hold_sites", lambda text: True)
        return config.config_ports(fmt, text)  # type: ignore[arg-type]


@pytest.mark.parametrize("lowered", [False, True])
def test_skipping_by_text_changes_nothing(lowered: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if lowered:  # limits small enough for generated files to reach them
        monkeypatch.setattr(limits, "MAX_CONFIG_NODES", 40)
        monkeypatch.setattr(limits, "MAX_CONFIG_DEPTH", 6)
        monkeypatch.setattr(config_hints, "_SAFE_DEPTH", 3)
    rng = random.Random(23 + lowered)
    skipped_quietly = limit_rows_kept = 0
    for i in range(1500):
        fmt = "json" if i % 2 else "yaml"
        text = _json_text(rng) if fmt == "json" else _yaml_text(rng)
        full = _full(fmt, text, monkeypatch)
        assert config.config_ports(fmt, text) == full, text  # type: ignore[arg-type]
        if not config_hints.may_hold_sites(text):
            skipped_quietly += not full
            limit_rows_kept += any(s.role == "skipped" for s in full)
    assert skipped_quietly > 300  # not vacuous: many files were skipped from their text
    if lowered:
        assert limit_rows_kept > 20  # and files that reach a limit still say so


@pytest.mark.parametrize(
    "text",
    ['{"p": "\\u0070ort"}', '{"\\u0070ort": 80}', '{"u": "http:\\/\\/h:80"}', "a: &x 1\nb: *x\n", "k: $V\n"],
)
def test_escapes_anchors_and_variables_are_read_in_full(text: str) -> None:
    assert config_hints.may_hold_sites(text)


def test_a_large_report_without_words_gives_no_sites_and_is_not_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    report = json.dumps({"rows": [{"name": f"n{i}", "value": i, "ok": True} for i in range(20_000)]})
    monkeypatch.setattr(config, "_load_config", lambda fmt, text: pytest.fail("the report was built"))
    assert config.config_ports("json", report) == []
