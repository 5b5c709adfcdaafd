"""The GPU domain's resource: NVML on this machine (the shared ones come from ``defs/resources.py``)."""

import dagster as dg

from symphony_assets.resources.nvml import NvmlResource


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"nvml": NvmlResource()})
