"""The near-duplicate index: the same bands and pairs as datasketch's ``MinHashLSH``, and a range's
index, updated day by day, equal to a fresh one every day."""

from __future__ import annotations

import random

import pytest
from datasketch import LeanMinHash, MinHashLSH
from datasketch.lsh import _optimal_param

from symphony_assets.analysis import duplicates as dup


@pytest.mark.parametrize("num_perm", [16, 32, 64, 128])
def test_band_params_are_datasketchs(num_perm: int) -> None:
    for threshold in [i / 20 for i in range(1, 21)]:
        assert dup.band_params(threshold, num_perm) == _optimal_param(threshold, num_perm, 0.5, 0.5)


def _by_datasketch(signatures: dict[str, list[int]], threshold: float, num_perm: int, wanted: set[str]):
    """What ``near_pairs`` computed with datasketch's index (with its looser-threshold fallback)."""
    lsh = None
    for loose in (threshold, 0.9, 0.8, 0.7, 0.5, 0.3, 0.1):
        if loose <= threshold:
            try:
                lsh = MinHashLSH(threshold=loose, num_perm=num_perm)
                break
            except ValueError:
                continue
    assert lsh is not None
    usable = {k: v for k, v in signatures.items() if len(v) == num_perm}
    hashes = {k: LeanMinHash(seed=1, hashvalues=v, scheme=dup.SCHEME) for k, v in usable.items()}
    for key, m in hashes.items():
        lsh.insert(key, m)
    pairs = {}
    for key in sorted(wanted & set(usable)):
        for other in lsh.query(hashes[key]):
            a, b = sorted((key, other))
            sim = dup.similarity(usable[a], usable[b])
            if other != key and sim >= threshold:
                pairs[(a, b)] = sim
    return [(a, b, sim) for (a, b), sim in sorted(pairs.items())]


def _variant(rng: random.Random, base: list[int], changed: int) -> list[int]:
    out = list(base)
    for i in rng.sample(range(len(base)), changed):
        out[i] = rng.getrandbits(32)
    return out


def _population(rng: random.Random, num_perm: int, families: int) -> dict[str, list[int]]:
    """Families of signatures around a base, from identical to far apart, so that some pairs sit
    just above and just below a threshold, and LSH misses some true pairs."""
    out: dict[str, list[int]] = {}
    for f in range(families):
        base = [rng.getrandbits(32) for _ in range(num_perm)]
        for m in range(rng.randint(1, 6)):
            changed = rng.choice([0, 1, 2, 3, rng.randint(0, num_perm // 2), rng.randint(0, num_perm // 2)])
            out[f"c{rng.randint(0, 1)}\x00f{f}m{m}"] = _variant(rng, base, changed)
    return out


@pytest.mark.parametrize(("threshold", "num_perm"), [(0.8, 64), (0.5, 32), (0.95, 16), (1.0, 64)])
def test_pairs_are_datasketchs(threshold: float, num_perm: int) -> None:
    rng = random.Random(int(threshold * 100) + num_perm)
    signatures = _population(rng, num_perm, 150)
    wanted = {k for k in signatures if k.startswith("c0")}
    expected = _by_datasketch(signatures, threshold, num_perm, wanted)
    assert dup.near_pairs(signatures, threshold, num_perm, wanted) == expected
    assert len(expected) >= 10  # not vacuous: pairs exist at this threshold


def test_an_index_kept_across_days_equals_a_fresh_one_each_day() -> None:
    rng = random.Random(5)
    signatures = _population(rng, 64, 120)
    index = dup.NearPairs(0.8, 64)
    changes = 0
    for _ in range(40):
        keys = sorted(signatures)
        for key in rng.sample(keys, rng.randint(0, 12)):
            action = rng.choice(["edit", "edit", "remove", "copy"])
            if action == "edit":
                signatures[key] = _variant(rng, signatures[key], rng.randint(1, 20))
            elif action == "remove":
                del signatures[key]
            else:  # a new file, copied from this one with small changes
                signatures[f"{key}-copy{changes}"] = _variant(rng, signatures[key], rng.randint(0, 10))
            changes += 1
        if rng.random() < 0.2:
            signatures["short"] = [1, 2, 3]  # a wrong length is not indexed
        wanted = {k for k in signatures if k.startswith(rng.choice(["c0", "c1", "c"]))}
        assert index.update(signatures, wanted) == dup.near_pairs(signatures, 0.8, 64, wanted)
    assert changes > 150
