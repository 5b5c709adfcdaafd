"""Port sites of one file: the format chosen from its path, then the Python or the config reader."""

from __future__ import annotations

from dataclasses import replace

from symphony_assets.analysis import limits, pysource
from symphony_assets.analysis.ports.config import config_ports
from symphony_assets.analysis.ports.python import ports_from_tree
from symphony_assets.analysis.ports.salvage import salvage_ports
from symphony_assets.analysis.ports.sites import PortSite, file_format, skipped_site

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
        too_large = limits.python_too_large(source)
        sites = [skipped_site(too_large)] if too_large else _python_ports(source)
    else:
        too_large = limits.too_large_reason(len(source), MAX_CONFIG_BYTES, "config")
        if too_large:
            return [skipped_site(too_large)]
        sites = config_ports(fmt, source.decode("utf-8", "replace"))
    return [_storable(site) for site in sites]


def _storable(site: PortSite) -> PortSite:
    """The site with text every store accepts (a ``\\udc80`` escape in a string gives a lone surrogate)."""
    raw, context = limits.safe_text(site.raw), limits.safe_text(site.context)
    host = None if site.host is None else limits.safe_text(site.host)
    if (raw, context, host) == (site.raw, site.context, site.host):
        return site
    return replace(site, raw=raw, context=context, host=host)


def _python_ports(source: bytes) -> list[PortSite]:
    outcome = pysource.parse_python(source)
    if outcome.tree is not None:
        return ports_from_tree(outcome.tree, "ast")
    return salvage_ports(source, outcome)
