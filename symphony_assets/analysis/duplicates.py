"""Near-duplicate detection: token shingles, MinHash signatures and LSH candidate pairs.

A file's signature depends only on its bytes and the parameters (shingle size, permutations), so
callers cache it per blob. Python files are tokenised with :mod:`tokenize` (comments and layout
dropped, so a re-indented or re-commented copy still matches); other text by whitespace-split words.
Similarity is the MinHash estimate of the Jaccard similarity of the two files' shingle sets.
"""

from __future__ import annotations

import functools
import io
import tokenize
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from datasketch import LeanMinHash, MinHash, MinHashLSH

from symphony_assets.analysis import pytokens

DEFAULT_SHINGLE = 5
DEFAULT_NUM_PERM = 64
DEFAULT_THRESHOLD = 0.8
DEFAULT_MIN_TOKENS = 30
#: datasketch's permutation scheme; cached signatures are only comparable within one scheme.
SCHEME = "affine32"
#: Bump when tokens or signatures change for the same bytes (part of the blob-cache key).
ANALYSER_VERSION = "1"

_SKIP_TOKENS = frozenset(
    {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING}
)


def python_tokens(content: bytes) -> list[str]:
    """Token strings of Python source without comments and layout; words when tokenize gives up.

    :func:`~symphony_assets.analysis.pytokens.token_strings` answers for most files at regex speed;
    ``tokenize`` itself reads the rest.
    """
    fast = pytokens.token_strings(content)
    if fast == pytokens.FAILS:
        return text_tokens(content)
    if fast is not None:
        return fast
    out: list[str] = []
    try:
        for tok in tokenize.tokenize(io.BytesIO(content).readline):
            if tok.type in _SKIP_TOKENS or tok.type == tokenize.ENDMARKER:
                continue
            out.append(tok.string)
    except (tokenize.TokenError, SyntaxError, UnicodeDecodeError):
        return text_tokens(content)  # a file that does not tokenise is still compared, by words
    return out


def text_tokens(content: bytes) -> list[str]:
    return content.decode("utf-8", "replace").split()


def token_kind(path: str) -> str:
    """How :func:`tokens` reads a file: ``python`` tokens or ``text`` words, chosen by its name."""
    return "python" if path.lower().endswith((".py", ".pyw")) else "text"


def tokens(path: str, content: bytes) -> list[str]:
    return python_tokens(content) if token_kind(path) == "python" else text_tokens(content)


def signature(
    toks: Sequence[str], shingle: int = DEFAULT_SHINGLE, num_perm: int = DEFAULT_NUM_PERM
) -> list[int]:
    """MinHash hash values of the file's token shingles (an empty list for an empty file)."""
    if not toks:
        return []
    m = MinHash(num_perm=num_perm, seed=1, scheme=SCHEME, permutations=_permutations(num_perm))
    width = min(shingle, len(toks))
    m.update_batch(
        [
            "\x1f".join(toks[i : i + width]).encode("utf-8", "surrogatepass")
            for i in range(len(toks) - width + 1)
        ]
    )
    return [int(v) for v in m.hashvalues]


@functools.lru_cache(maxsize=8)
def _permutations(num_perm: int) -> Any:
    """The seed's permutations, drawn once per size (datasketch draws them for every MinHash it makes,
    a quarter of a millisecond each): the same values, so the same signatures."""
    return MinHash(num_perm=num_perm, seed=1, scheme=SCHEME).permutations


def similarity(a: Sequence[int], b: Sequence[int]) -> float:
    """Estimated Jaccard similarity of two signatures of the same parameters (0.0 if either is empty)."""
    if not a or not b or len(a) != len(b):
        return 0.0
    return sum(1 for x, y in zip(a, b, strict=True) if x == y) / len(a)


def _index(threshold: float, num_perm: int) -> MinHashLSH:
    """An LSH index for ``threshold``, or a looser one where datasketch finds too few bands (high
    thresholds, few permutations): candidates are confirmed on the full signatures anyway."""
    for loose in (threshold, 0.9, 0.8, 0.7, 0.5, 0.3):
        if loose > threshold:
            continue
        try:
            return MinHashLSH(threshold=loose, num_perm=num_perm)
        except ValueError:
            continue
    return MinHashLSH(threshold=0.1, num_perm=num_perm)


def near_pairs(
    signatures: Mapping[str, Sequence[int]],
    threshold: float = DEFAULT_THRESHOLD,
    num_perm: int = DEFAULT_NUM_PERM,
    wanted: Iterable[str] | None = None,
) -> list[tuple[str, str, float]]:
    """Pairs ``(a, b, similarity)`` with ``a < b`` whose estimated similarity reaches ``threshold``.

    LSH proposes candidates, each confirmed on the full signatures. ``wanted`` limits the pairs to
    those with at least one member in it (one codebase against the rest).
    """
    usable = {k: list(v) for k, v in signatures.items() if len(v) == num_perm}
    if len(usable) < 2:
        return []
    lsh = _index(threshold, num_perm)
    hashes: dict[str, LeanMinHash] = {}
    for key, values in sorted(usable.items()):
        m = LeanMinHash(seed=1, hashvalues=values, scheme=SCHEME)  # the LSH needs the values only
        hashes[key] = m
        lsh.insert(key, m)
    focus = set(wanted) if wanted is not None else set(usable)
    pairs: dict[tuple[str, str], float] = {}
    for key in sorted(focus & set(usable)):
        for other in lsh.query(hashes[key]):
            if other == key:
                continue
            a, b = (key, str(other)) if key < str(other) else (str(other), key)
            if (a, b) in pairs:
                continue
            sim = similarity(usable[a], usable[b])
            if sim >= threshold:
                pairs[(a, b)] = sim
    return [(a, b, sim) for (a, b), sim in sorted(pairs.items())]
