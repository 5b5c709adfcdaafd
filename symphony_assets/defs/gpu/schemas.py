"""Declared schemas of the GPU assets (match sql/V031__gpu_utilisation.sql, sql/V032__agent_inventory.sql)."""

from symphony_assets.storage.tables import BOOL, FLOAT, INT, STRING, TIMESTAMP, Column, TableSchema

GPU_UTILISATION = TableSchema(
    name="gpu_utilisation",
    description="One row per GPU per hour of a machine: utilisation percentiles, memory peaks, hot minutes.",
    columns=(
        Column("device_uuid", STRING, "NVML device UUID", False),
        Column("samples", INT, "GPU utilisation samples in the hour (NVML's buffered samples)", False),
        Column("gpu_util_p50", FLOAT, "Median SM utilisation, percent"),
        Column("gpu_util_p95", FLOAT, "95th percentile SM utilisation, percent (linear interpolation)"),
        Column("gpu_util_max", FLOAT, "Highest SM utilisation sample, percent"),
        Column("mem_util_p95", FLOAT, "95th percentile memory-controller busy time, percent"),
        Column("peak_memory_bytes", INT, "Highest framebuffer memory in use"),
        Column("memory_total_bytes", INT, "Framebuffer size"),
        Column("peak_memory_pct", FLOAT, "Highest memory occupancy, percent of the framebuffer"),
        Column("max_temperature_c", FLOAT, "Highest GPU temperature, degrees C"),
        Column("max_power_mw", FLOAT, "Highest power draw, milliwatts"),
        Column("minutes_util_above", INT, "Minutes with a utilisation sample above the threshold", False),
        Column("minutes_memory_above", INT, "Minutes with a memory reading above the threshold", False),
        Column("minutes_any_above", INT, "Minutes with either above the threshold", False),
        Column("threshold_pct", FLOAT, "The threshold those minutes were counted against", False),
        Column("top_processes", STRING, "Up to 5 processes by peak memory: pid, agent file or command, peak"),
    ),
)

AGENT_INVENTORY = TableSchema(
    name="agent_inventory",
    description="Every agent of the codebase: where it runs, the ports it binds, its GPU code and GPU use.",
    columns=(
        Column("path", STRING, "Path from the codebase root", False),
        Column("why", STRING, "Why it is listed: agents_dir, agent_name, gpu_process", False),
        Column("machine", STRING, "Machine label of the codebase", False),
        Column("ports", STRING, "Ports it binds, from port_map: host:port (role, line), '; '-separated"),
        Column("port_count", INT, "Distinct ports bound", False),
        Column("gpu_sites", INT, "GPU code sites (code_findings kind gpu_site)", False),
        Column("gpu_site_lines", STRING, "Lines of those sites with their form, e.g. 12:cuda"),
        Column("last_modified", TIMESTAMP, "From file_inventory"),
        Column("gpu_seen", BOOL, "A GPU process ran this file during the day", False),
        Column("gpu_pids", STRING, "PIDs of those processes"),
        Column("gpu_peak_memory_bytes", INT, "Highest GPU memory one of its processes used that day"),
        Column("gpu_peak_sm_util", FLOAT, "Highest per-process SM utilisation that day, percent"),
    ),
)
