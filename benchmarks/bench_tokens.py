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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _realrepo import best_of_rounds, range_arguments, range_blobs, read_blobs, side_by_side  # noqa: E402

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
    sides = {
        "tokenize": lambda: [by_tokenize(content) for content in blobs],
        "regex pass": lambda: [duplicates.python_tokens(content) for content in blobs],
    }
    best, found = best_of_rounds(args.rounds, sides)
    declined = sum(1 for content in blobs if pytokens.token_strings(content) is None)
    start = time.process_time()
    for tokens in found["regex pass"]:
        duplicates.signature(tokens)
    signing = time.process_time() - start
    note = f"{declined} blobs left to tokenize; signatures of the same tokens {signing:.2f} s"
    return side_by_side(
        f"tokens of {len(blobs)} blobs", args.rounds, best, found, [p for p, _ in ordered], note
    )


if __name__ == "__main__":
    raise SystemExit(main())
