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

import numpy as np

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
    m = _minhash_class()(num_perm=num_perm, seed=1, scheme=SCHEME, permutations=_permutations(num_perm))
    width = min(shingle, len(toks))
    m.update_batch(
        [
            "\x1f".join(toks[i : i + width]).encode("utf-8", "surrogatepass")
            for i in range(len(toks) - width + 1)
        ]
    )
    return [int(v) for v in m.hashvalues]


def _minhash_class() -> Any:
    """datasketch's MinHash, imported only where a blob is signed (a pool worker, for new blobs):
    the package's ``__init__`` also imports its LSH, which pulls in scipy.integrate and redis, 0.7 s
    that a warm run, whose signatures all come from the cache, does not need to pay."""
    from datasketch import MinHash

    return MinHash


@functools.lru_cache(maxsize=8)
def _permutations(num_perm: int) -> Any:
    """The seed's permutations, drawn once per size (datasketch draws them for every MinHash it makes,
    a quarter of a millisecond each): the same values, so the same signatures."""
    return _minhash_class()(num_perm=num_perm, seed=1, scheme=SCHEME).permutations


def similarity(a: Sequence[int], b: Sequence[int]) -> float:
    """Estimated Jaccard similarity of two signatures of the same parameters (0.0 if either is empty)."""
    if not a or not b or len(a) != len(b):
        return 0.0
    return sum(1 for x, y in zip(a, b, strict=True) if x == y) / len(a)


@functools.lru_cache(maxsize=32)
def band_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """The bands and rows per band that datasketch's ``MinHashLSH`` chooses for ``threshold``: the pair
    that minimises the false positive plus the false negative probability, equally weighted.

    Computed here rather than by building datasketch's index, whose module imports scipy.integrate and
    redis (0.7 s of a 10 s warm run) and whose index cannot keep a range's pairs from one day to the
    next (:class:`NearPairs`). The integrands are polynomials of degree ``b * r <= num_perm``, which
    Gauss-Legendre quadrature with ``num_perm // 2 + 1`` nodes integrates exactly; a test compares the
    choice with datasketch's own.
    """
    pairs = [(b, r) for b in range(1, num_perm + 1) for r in range(1, num_perm // b + 1)]
    bands = np.array([b for b, _ in pairs], dtype=float)[:, None]
    rows = np.array([r for _, r in pairs], dtype=float)[:, None]
    nodes, weights = np.polynomial.legendre.leggauss(num_perm // 2 + 1)

    def integral(low: float, high: float, collide_never: bool) -> Any:
        s = ((high - low) * nodes + (high + low)) / 2
        missed = (1 - s[None, :] ** rows) ** bands  # no band of the pair collides
        values = missed if collide_never else 1 - missed
        return (values * weights[None, :]).sum(axis=1) * (high - low) / 2

    error = 0.5 * integral(0.0, threshold, False) + 0.5 * integral(threshold, 1.0, True)
    return pairs[int(np.argmin(error))]


def _bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """:func:`band_params` for ``threshold``, or for a looser one where it gives fewer than two bands
    (high thresholds, few permutations; datasketch refuses those): candidates are confirmed on the
    full signatures anyway."""
    for loose in (threshold, 0.9, 0.8, 0.7, 0.5, 0.3):
        if loose <= threshold and band_params(loose, num_perm)[0] >= 2:
            return band_params(loose, num_perm)
    return band_params(0.1, num_perm)


class NearPairs:
    """Near-duplicate pairs of a changing set of signatures, kept from one call to the next.

    An LSH index (the signature cut into bands; two signatures are candidates when a band is equal)
    whose confirmed pairs are remembered: whether two signatures pair depends only on the two of them,
    so from one day of a range to the next only the signatures that changed leave the index, enter it
    again and are queried. Each call's pairs equal a fresh index's (a test checks it).
    """

    def __init__(self, threshold: float = DEFAULT_THRESHOLD, num_perm: int = DEFAULT_NUM_PERM) -> None:
        self.threshold = threshold
        self.num_perm = num_perm
        bands, rows = _bands(threshold, num_perm)
        self._ranges = [(i * rows, (i + 1) * rows) for i in range(bands)]
        self._buckets: list[dict[tuple[int, ...], set[str]]] = [{} for _ in range(bands)]
        self._signatures: dict[str, tuple[int, ...]] = {}
        #: Every indexed key's confirmed partners and their similarity (kept on both sides).
        self._partners: dict[str, dict[str, float]] = {}

    def update(
        self, signatures: Mapping[str, Sequence[int]], wanted: Iterable[str] | None = None
    ) -> list[tuple[str, str, float]]:
        """Pairs ``(a, b, similarity)`` with ``a < b`` among ``signatures`` whose estimated similarity
        reaches the threshold; ``wanted`` limits them to pairs with a member in it."""
        usable = {k: tuple(v) for k, v in signatures.items() if len(v) == self.num_perm}
        for key in [k for k, sig in self._signatures.items() if usable.get(k) != sig]:
            self._remove(key)
        added = sorted(k for k in usable if k not in self._signatures)
        for key in added:
            self._insert(key, usable[key])
        for key in added:
            self._query(key)
        focus = set(usable) if wanted is None else set(wanted) & set(usable)
        pairs: dict[tuple[str, str], float] = {}
        for key in focus:
            for other, sim in self._partners[key].items():
                pairs[(key, other) if key < other else (other, key)] = sim
        return [(a, b, sim) for (a, b), sim in sorted(pairs.items())]

    def _insert(self, key: str, values: tuple[int, ...]) -> None:
        self._signatures[key] = values
        self._partners[key] = {}
        for buckets, (start, end) in zip(self._buckets, self._ranges, strict=True):
            buckets.setdefault(values[start:end], set()).add(key)

    def _remove(self, key: str) -> None:
        values = self._signatures.pop(key)
        for buckets, (start, end) in zip(self._buckets, self._ranges, strict=True):
            bucket = buckets[values[start:end]]
            bucket.discard(key)
            if not bucket:
                del buckets[values[start:end]]
        for other in self._partners.pop(key):
            self._partners[other].pop(key, None)

    def _query(self, key: str) -> None:
        values = self._signatures[key]
        candidates: set[str] = set()
        for buckets, (start, end) in zip(self._buckets, self._ranges, strict=True):
            candidates |= buckets[values[start:end]]
        candidates.discard(key)
        for other in candidates:
            if other in self._partners[key]:
                continue
            sim = similarity(values, self._signatures[other])
            if sim >= self.threshold:
                self._partners[key][other] = sim
                self._partners[other][key] = sim


def near_pairs(
    signatures: Mapping[str, Sequence[int]],
    threshold: float = DEFAULT_THRESHOLD,
    num_perm: int = DEFAULT_NUM_PERM,
    wanted: Iterable[str] | None = None,
) -> list[tuple[str, str, float]]:
    """Pairs ``(a, b, similarity)`` with ``a < b`` whose estimated similarity reaches ``threshold``,
    from a fresh index (:class:`NearPairs` keeps one across calls). ``wanted`` limits the pairs to
    those with at least one member in it (one codebase against the rest).
    """
    return NearPairs(threshold, num_perm).update(signatures, wanted)
