"""Port sites of one file: the format chosen from its path, then the Python or the config reader."""

from __future__ import annotations

from dataclasses import replace

from symphony_assets.analysis import limits, pysource
from symphony_assets.analysis.ports.config import config_ports
from symphony_assets.analysis.ports.python import ports_from_tree
from symphony_assets.analysis.ports.salvage import salvage_ports
from symphony_assets.analysis.ports.sites import PortSite, file_format, skipped_site

#: Bump when extraction changes, so cached per-blob results are recomputed.
#: 2: config files up to ``limits.MAX_CONFIG_BYTES`` (libyaml, C JSON), ``role="skipped"`` rows for a
#: file (or part of one) left unanalysed at a limit, exact lines for JSON that YAML could not read.
#: 3: Python files that do not parse go through the recovering parser (issue 17).
ANALYSER_VERSION = "3"
#: Config files larger than this are data, not configuration: recorded as skipped (``role="skipped"``).
MAX_CONFIG_BYTES = limits.MAX_CONFIG_BYTES


def extract_ports(path: str, source: bytes) -> list[PortSite]:
    """Every port site in one file; ``path`` only chooses the format.

    A file over a size limit, or whose parse hits a limit of :mod:`~symphony_assets.analysis.limits`
    (nesting, node count, YAML alias expansion), gives a ``role="skipped"`` site saying why.
    """
    fmt = file_format(path)
    if fmt is None:
        return []
    if fmt == "python":
        return python_ports(source)
    too_large = limits.too_large_reason(len(source), MAX_CONFIG_BYTES, "config")
    if too_large:
        return [skipped_site(too_large)]
    return [_storable(site) for site in config_ports(fmt, source.decode("utf-8", "replace"))]


def python_ports(
    source: bytes,
    outcome: pysource.ParseOutcome | None = None,
    recovered: pysource.Recovered | None = None,
) -> list[PortSite]:
    """Port sites of a Python file; ``outcome`` and ``recovered``, when given, are its shared parse."""
    too_large = limits.python_too_large(source)
    if too_large:
        return [_storable(skipped_site(too_large))]
    outcome = outcome or pysource.parse_python(source)
    if outcome.tree is not None:
        sites = ports_from_tree(outcome.tree, "ast")
    else:
        sites = salvage_ports(source, outcome, recovered)
    return [_storable(site) for site in sites]


def _storable(site: PortSite) -> PortSite:
    """The site with text every store accepts (a ``\\udc80`` escape in a string gives a lone surrogate)."""
    raw, context = limits.safe_text(site.raw), limits.safe_text(site.context)
    host = None if site.host is None else limits.safe_text(site.host)
    if (raw, context, host) == (site.raw, site.context, site.host):
        return site
    return replace(site, raw=raw, context=context, host=host)
