"""What is installed where Dagster runs: its distributions' import names and what each pulls in."""

from __future__ import annotations

import functools
import importlib.metadata
import json

from packaging.requirements import InvalidRequirement, Requirement

from symphony_assets.analysis.depusage import normalise


def installed_top_level_names() -> frozenset[str]:
    """Top-level import names of the distributions installed here, except editable installs.

    An editable install is usually the very codebase being analysed (``pip install -e .``); counting
    its names as third-party would drop every edge into it.
    """
    editable: set[str] = set()
    for dist in importlib.metadata.distributions():
        direct = dist.read_text("direct_url.json")
        if not direct:
            continue
        try:
            info = json.loads(direct).get("dir_info", {})
        except (ValueError, AttributeError):
            continue
        if isinstance(info, dict) and info.get("editable"):
            editable.add(dist.metadata["Name"].lower())
    return frozenset(
        name
        for name, dists in importlib.metadata.packages_distributions().items()
        if name.isidentifier() and not name.startswith("_") and not all(d.lower() in editable for d in dists)
    )


@functools.lru_cache(maxsize=1)
def installed_modules() -> dict[str, tuple[str, ...]]:
    """Top-level module -> distributions, from the metadata installed where this runs."""
    return {m: tuple(d) for m, d in importlib.metadata.packages_distributions().items()}


@functools.lru_cache(maxsize=4096)
def _direct_requires(package: str) -> tuple[str, ...]:
    try:
        raw = importlib.metadata.requires(package) or []
    except importlib.metadata.PackageNotFoundError:
        return ()
    out = []
    for line in raw:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        if req.marker is not None and "extra" in str(req.marker):
            continue  # only what a plain install pulls in
        out.append(normalise(req.name))
    return tuple(out)


def requirement_closure(package: str) -> frozenset[str]:
    """Every distribution a plain install of ``package`` pulls in, as far as the metadata here knows."""
    seen: set[str] = set()
    stack = list(_direct_requires(package))
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        stack.extend(_direct_requires(name))
    return frozenset(seen)
