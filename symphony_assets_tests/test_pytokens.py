"""``pytokens.token_strings`` against ``tokenize`` itself: where it answers, the same token strings, or
a failure exactly where tokenize raises."""

from __future__ import annotations

import io
import random
import sysconfig
import tokenize
from pathlib import Path

import pytest

from symphony_assets.analysis import duplicates, pytokens

_LAYOUT = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT}
_LAYOUT |= {tokenize.ENCODING, tokenize.ENDMARKER}


def _by_tokenize(content: bytes) -> list[str] | str:
    """What ``tokenize`` gives: the token strings, or FAILS where it raises."""
    try:
        return [
            tok.string for tok in tokenize.tokenize(io.BytesIO(content).readline) if tok.type not in _LAYOUT
        ]
    except (tokenize.TokenError, SyntaxError, UnicodeDecodeError):
        return pytokens.FAILS


def _agrees(content: bytes) -> bool | None:
    """None where ``token_strings`` declines; else whether it agrees with tokenize."""
    fast = pytokens.token_strings(content)
    return None if fast is None else fast == _by_tokenize(content)


CASES = {
    "plain": b"def f(a, b=1):\n    return a + b  # sum\n",
    "tabs and spaces": b"if x:\n\tif y:\n\t\tpass\n        z = 1\n",
    "form feed": b"x = 1\n\x0c\ndef f():\n  \x0c  pass\n",
    "unmatched dedent": b"if x:\n        a = 1\n    b = 2\n",
    "unclosed bracket": b"x = foo(1,\n  2\n",
    "extra closer": b"x = 1)\nif y:\n  z\n",
    "continuation at the end": b"x = 1 + \\\n",
    "continuation then blanks": b"x = 1 + \\\n   ",
    "line continuation": b"x = 1 + \\\n    2\ny = 3\n",
    "indented continuation": b"if x:\n    \\\n  y\n",
    "triple across lines": b"s = \"\"\"a\nb\\\n\"\"\" + r'''c\nd'''\n",
    "backslash at a line end in a triple string": b"s = '''x\\\n'''\n",
    "quadruple quotes": b"s = ''''a'''\n",
    "prefixed strings": b"a = rb'\\d' + F\"{x}\" + Br'''q''' + u'\\''\n",
    "unterminated single string": b"x = 'abc\ny = 1\n",
    "error characters": b"x = 1 $ 2 ? `y`\n",
    "python 2": b"print 'hi'\nexec code in ns\nx = `y`\nprint >>sys.stderr, x\n",
    "merge markers": b"<<<<<<< HEAD\nx = 1\n=======\nx = 2\n>>>>>>> branch\n",
    "numbers": b"x = 0x_1F + 1_000.5e-3j + .5 + 0o17 + 0b1 + 1.\n",
    "non-ascii": "é = 'ß'\nx² = 1\nπ = 3 → 4\n".encode(),
    "crlf": b"if x:\r\n    y = 1\r\n# c\r\n",
    "utf-8 cookie": b"# -*- coding: utf-8 -*-\nx = 1\n",
    "utf-8 bom": b"\xef\xbb\xbfx = 1\n",
    "no final newline": b"x = 1",
    "comment last": b"x = 1\n# end",
    "empty": b"",
    "blank lines inside brackets": b"x = [\n\n  1,\n# c\n]\n",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_agrees_with_tokenize_or_declines(name: str) -> None:
    assert _agrees(CASES[name]) is not False


@pytest.mark.parametrize(
    "name",
    ["plain", "tabs and spaces", "form feed", "triple across lines", "prefixed strings", "crlf",
     "utf-8 cookie", "utf-8 bom", "python 2", "numbers", "non-ascii", "error characters"],
)  # fmt: skip
def test_answers_the_common_cases(name: str) -> None:
    assert _agrees(CASES[name]) is True


@pytest.mark.parametrize(
    "name", ["unmatched dedent", "unclosed bracket", "extra closer", "continuation at the end"]
)
def test_fails_where_tokenize_raises(name: str) -> None:
    assert pytokens.token_strings(CASES[name]) == pytokens.FAILS == _by_tokenize(CASES[name])


@pytest.mark.parametrize(
    "content",
    [
        b"# -*- coding: latin-1 -*-\nx = '\xe9'\n",
        b"x = '\xff'\n",
        b"x = 1\ry = 2\n",
        b"x = 'abc\\\ndef'\n",
        b"x = '''never closed\n",
        b"if x:\n    $y\n",
    ],
)
def test_declines_what_it_does_not_model(content: bytes) -> None:
    assert pytokens.token_strings(content) is None


def _stdlib_sample(count: int) -> list[Path]:
    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in root.glob("*.py") if p.stat().st_size < 200_000)
    return random.Random(5).sample(files, count)


def _broken(rng: random.Random, text: str) -> str:
    """The kinds of damage real files carry: a lost closer, a stray quote, a bad dedent, tabs."""
    lines = text.splitlines(keepends=True)
    for _ in range(rng.randint(1, 4)):
        if not lines:
            break
        i = rng.randrange(len(lines))
        damage = rng.choice(["drop", "quote", "dedent", "tab", "bracket", "backslash", "triple"])
        if damage == "drop":
            del lines[i]
        elif damage == "quote":
            lines[i] = lines[i].replace("'", "", 1)
        elif damage == "dedent":
            lines[i] = lines[i][1:]
        elif damage == "tab":
            lines[i] = lines[i].replace("    ", "\t", 1)
        elif damage == "bracket":
            lines[i] = lines[i].replace(")", "", 1)
        elif damage == "backslash":
            lines[i] = lines[i].rstrip("\n") + " \\\n"
        else:
            lines[i] = lines[i].replace('"""', '"', 1)
    return "".join(lines)


def test_standard_library_files_and_their_broken_variants() -> None:
    rng = random.Random(3)
    answered = fails = 0
    for path in _stdlib_sample(40):
        content = path.read_bytes()
        variants = [content] + [_broken(rng, content.decode("utf-8", "replace")).encode() for _ in range(4)]
        for variant in variants:
            fast = pytokens.token_strings(variant)
            if fast is None:
                continue
            assert fast == _by_tokenize(variant), path.name
            answered += 1
            fails += fast == pytokens.FAILS
    assert answered >= 180 and 20 <= fails <= answered - 60, (answered, fails)


_PIECES = [
    "x", "ab", "é", "²", "1", "0x1f", ".5", "1e3", "3j", " ", "  ", "\t", "\x0c", "\n", "\r\n", "(", ")",
    "[", "]", "{", "}", ",", ":", "=", "==", "->", "**=", "...", ".", "# c", "\\\n", "'a'", '"b"',
    "'c\\'d'", "b'\\x'", "'''s\n'''", '"""\\\n"""', "rb'''q'''",
]  # fmt: skip
#: Rarer pieces: most open a string that a random line does not close, or are characters tokenize rejects.
_RARE = ["'", '"', "'''", '"""', "b'", 'f"', "\\", "$", "?", "`", "!", "#"]


def _generated(rng: random.Random) -> bytes:
    lines = []
    for _ in range(rng.randint(1, 8)):
        indent = rng.choice(["", "", "    ", "  ", "\t", "        ", " \t"])
        pieces = (rng.choice(_RARE if rng.random() < 0.04 else _PIECES) for _ in range(rng.randint(0, 8)))
        lines.append(indent + "".join(pieces) + "\n")
    text = "".join(lines)
    return (text[:-1] if rng.random() < 0.2 else text).encode()


def test_generated_sources() -> None:
    rng = random.Random(17)
    outcomes = {True: 0, None: 0}
    fails = 0
    for _ in range(4000):
        content = _generated(rng)
        agrees = _agrees(content)
        assert agrees is not False, content
        outcomes[agrees] += 1  # type: ignore[index]
        fails += agrees is True and pytokens.token_strings(content) == pytokens.FAILS
    # Not vacuous: most sources are answered, and both answers (tokens, a failure) occur.
    assert outcomes[True] > 2500 and 500 < fails < outcomes[True] - 500, (outcomes, fails)


def test_python_tokens_falls_back_to_words_where_tokenize_fails() -> None:
    assert duplicates.python_tokens(b"x = foo(1,\n") == ["x", "=", "foo(1,"]
    assert duplicates.python_tokens(b"# -*- coding: latin-1 -*-\nx = '\xe9'\n") == ["x", "=", "'é'"]
