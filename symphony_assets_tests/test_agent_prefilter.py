"""``agent_registry`` skips loading a YAML file that cannot declare an agent, judged from libyaml's events:
it must skip only files whose full reading declares nothing. Each case compares ``declarations`` (with
the skip) with ``_declarations`` (always the full load) for every kind of ``list_keys``."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import pytest
import yaml

from symphony_assets.analysis import agents

LIST_KEYS: tuple[tuple[str, ...], ...] = ((), ("agents",), ("services", "extra"))


def _full(path: str, content: bytes, list_keys: Sequence[str]) -> list[agents.Declaration]:
    wanted = set(list_keys)
    text = content.decode("utf-8", "replace")
    return agents._declarations(path, text, wanted, wanted or set(agents.DEFAULT_MAP_KEYS))


def _same(text: str) -> bool:
    """Whether the skip agrees with the full load, for every ``list_keys``; True if it declared any."""
    declared = False
    for keys in LIST_KEYS:
        full = _full("c.yaml", text.encode(), keys)
        assert agents.declarations("c.yaml", text.encode(), keys) == full, (keys, text)
        declared = declared or bool(full)
    return declared


CASES = {
    "list form": "agents:\n  - name: a\n    script: agents/a.py\n    port: 5555\n",
    "list form, flow style": "- {name: a, port: 5555}\n- {name: b, module: pkg.b}\n",
    "mapping form": "services:\n  feed:\n    path: agents/feed.py\n  api:\n    file: api.py\n",
    "quoted keys": "'agents':\n  - \"name\": a\n    'port': '5555'\n",
    "tagged keys": "!!str agents:\n  - !!str name: a\n    !!str script: a.py\n",
    "escaped key": 'items:\n  - "n\\x61me": a\n    "p\\x6frt": 5555\n',
    "merge key brings the name": "base: &b\n  name: a\nitems:\n  - <<: *b\n    port: 5555\n",
    "merge key brings the port": "base: &b\n  port: 5555\nitems:\n  - name: a\n    <<: *b\n",
    "alias as a key": "k: &k name\nitems:\n  - *k : a\n    port: 5555\n",
    "aliased list": "defs: &l\n  - name: a\n    port: 1\nagents: *l\n",
    "complex key": "? [name, port]\n: 1\n",
    "two documents": "report: 1\n---\nagents:\n  - name: a\n    script: a.py\n",
    "name and port apart": "items:\n  - name: a\n    meta:\n      port: 5555\n",
    "report": "generated: 3\nresults:\n"
    + "".join(
        f"  - name: test_{i}\n    status: passed\n    host: m-{i % 2}\n    tags: [a, b]\n" for i in range(50)
    ),
    "broken": "agents:\n  - name: a\n   port: [5555\n",
    "not a mapping": "- 1\n- two\n- [3]\n",
    "empty": "",
    "null keys": "~: 1\nnull: 2\nname: x\n",
    "numbers as keys": "1: a\n2: {name: b, 5555: port}\n",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_skip_agrees_with_the_full_load(name: str) -> None:
    _same(CASES[name])


def _random_tree(rng: random.Random, depth: int, shared: list[Any]) -> Any:
    words = ["name", "port", "script", "module", "agents", "services", "host", "extra", "status", "x", "y"]
    if depth > 3 or rng.random() < 0.25:
        return rng.choice([rng.choice(words), rng.randrange(6000), None, "", True, "a/b.py"])
    if shared and rng.random() < 0.1:
        return rng.choice(shared)  # the same object twice: yaml.dump writes an anchor and an alias
    if rng.random() < 0.5:
        node: Any = [_random_tree(rng, depth + 1, shared) for _ in range(rng.randrange(4))]
    else:
        node = {rng.choice(words): _random_tree(rng, depth + 1, shared) for _ in range(rng.randrange(5))}
    shared.append(node)
    return node


def test_the_skip_agrees_with_the_full_load_over_random_documents() -> None:
    rng = random.Random(3)
    declared = skipped = 0
    for _ in range(1500):
        shared: list[Any] = []
        text = yaml.dump(
            _random_tree(rng, 0, shared), Dumper=yaml.SafeDumper, default_flow_style=rng.random() < 0.3
        )
        if _same(text):
            declared += 1
        elif not agents._may_declare(text, set(), set(agents.DEFAULT_MAP_KEYS)):
            skipped += 1
    assert declared >= 40 and skipped >= 400, (declared, skipped)  # both sides of the filter were exercised


def test_a_report_is_not_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded: list[str] = []
    real = agents._declarations
    monkeypatch.setattr(agents, "_declarations", lambda path, *a: loaded.append(path) or real(path, *a))
    assert agents.declarations("reports/results.yaml", CASES["report"].encode()) == []
    assert agents.declarations("config/agents.yaml", CASES["list form"].encode()) != []
    assert loaded == ["config/agents.yaml"]
