"""Benchmark: ``duplicate_code``'s tokens of a range's Python blobs, ``tokenize`` against
``pytokens.token_strings`` (tokenize's patterns in one regex pass, tokenize for what it declines).

Usage::

    .venv/bin/python benchmarks/bench_tokens.py [--repo PATH] [--files 2000] [--days 61] [--rounds 2]

Takes (or builds: ``_realrepo.py``) a real-shaped repository and gathers every ``.py`` blob version of
its last ``--days`` days: about a quarter do not parse (Python 2, unclosed brackets, merge markers).
In alternating rounds in this one process:

- tokenize: the token strings as ``duplicates.python_tokens`` read them before (``tokenize``, words
  where it raises);
- regex pass: ``duplicates.python_tokens`` now.

Then the MinHash signatures of those tokens, once, for scale. CPU time (``time.process_time``), best
round of each side. The tokens must be equal for every blob (exit 1 otherwise).
"""

from __future__ import annotations

import io
import sys
import time
import tokenize
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _realrepo import equal_or_listed, range_arguments, range_blobs, read_blobs  # noqa: E402

from symphony_assets.analysis import duplicates, pytokens  # noqa: E402

_LAYOUT = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT}
_LAYOUT |= {tokenize.ENCODING, tokenize.ENDMARKER}


def by_tokenize(content: bytes) -> list[str]:
    try:
        return [t.string for t in tokenize.tokenize(io.BytesIO(content).readline) if t.type not in _LAYOUT]
    except (tokenize.TokenError, SyntaxError, UnicodeDecodeError):
        return duplicates.text_tokens(content)


def main() -> int:
    args, repo, days = range_arguments(__doc__, "bench-tokens-")
    _, ordered = range_blobs(repo, days, (".py",))
    contents = read_blobs(repo, sorted({blob for _, blob in ordered}))
    blobs = [contents[blob] for _, blob in ordered]
    print(f"{repo}: {len(blobs)} Python blob versions over {args.days} days, "
          f"{sum(len(c) for c in blobs) / 1e6:.0f} MB")  # fmt: skip
    sides: dict[str, Callable[[bytes], list[str]]] = {
        "tokenize": by_tokenize,
        "regex pass": duplicates.python_tokens,
    }
    best = dict.fromkeys(sides, float("inf"))
    found: dict[str, list[list[str]]] = {}
    for _ in range(args.rounds):
        for name, fn in sides.items():
            start = time.process_time()
            found[name] = [fn(content) for content in blobs]
            best[name] = min(best[name], time.process_time() - start)
    declined = sum(1 for content in blobs if pytokens.token_strings(content) is None)
    start = time.process_time()
    for tokens in found["regex pass"]:
        duplicates.signature(tokens)
    signing = time.process_time() - start
    different = [
        path
        for (path, _), a, b in zip(ordered, found["tokenize"], found["regex pass"], strict=True)
        if a != b
    ]
    print(f"| tokens of {len(blobs)} blobs | best CPU of {args.rounds} rounds (s) |\n|---|---:|")
    for name, seconds in best.items():
        print(f"| {name} | {seconds:.2f} |")
    print(f"{best['tokenize'] / best['regex pass']:.2f}x less CPU; {declined} blobs left to tokenize; "
          f"signatures of the same tokens {signing:.2f} s; tokens equal on every blob: "
          f"{not different}")  # fmt: skip
    return equal_or_listed(different)


if __name__ == "__main__":
    raise SystemExit(main())
