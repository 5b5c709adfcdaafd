"""Network ports a file binds, connects to, listens on or configures, and where two components collide.

Several services deployed on one machine each pick their ports in code or config; two of them binding
the same port only shows up at run time as ``Address already in use``. This package finds the port
sites statically so a collision is visible before deployment.

Per-file extraction depends only on the file's format (chosen from its path) and its bytes, so the
caller can cache results by blob id. Nothing here raises on bad input.

* :mod:`.sites`: :class:`PortSite`, the formats, and what ``resolved`` means.
* :mod:`.extract`: :func:`extract_ports`, one file in, its sites out.
* Python: :mod:`.binder` (scopes), :mod:`.folding` (constant folding), :mod:`.python` (the sites of
  a parsed module), :mod:`.salvage` (files ``ast`` rejects); :mod:`.endpoints` reads addresses.
* Config: :mod:`.config` (the walk, ``.env`` lines) over the tree of :mod:`.config_tree` that
  :mod:`.config_yaml`, :mod:`.config_json` and :mod:`.config_toml` build; :mod:`.config_values`
  (port keys, variables), :mod:`.compose` (published ports).
* :mod:`.conflicts`: :func:`find_conflicts` across components and machines.
"""

from __future__ import annotations

from symphony_assets.analysis.ports.config_values import is_port_key
from symphony_assets.analysis.ports.conflicts import PortConflict, SiteWithContext, find_conflicts
from symphony_assets.analysis.ports.extract import extract_ports
from symphony_assets.analysis.ports.sites import MAX_PORT, RAW_LIMIT, PortSite, file_format

__all__ = [
    "MAX_PORT",
    "RAW_LIMIT",
    "PortConflict",
    "PortSite",
    "SiteWithContext",
    "extract_ports",
    "file_format",
    "find_conflicts",
    "is_port_key",
]
