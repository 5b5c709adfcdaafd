"""The configuration, checked where people look: an asset check that names the file, line and reason."""

import dagster as dg

from symphony_assets.config import ConfigError, config_path, load_config


@dg.asset_check(asset="file_inventory", blocking=False)
def symphony_config_valid() -> dg.AssetCheckResult:
    """``symphony.yaml`` parses and every key is known and well-typed (the code location loads either way)."""
    try:
        config = load_config()
    except ConfigError as exc:
        return dg.AssetCheckResult(
            passed=False,
            severity=dg.AssetCheckSeverity.ERROR,
            description=str(exc),
            metadata={"file": str(exc.path or ""), "line": exc.line or 0, "reason": exc.reason},
        )
    source = str(config.source or config_path() or "(none: the repository run from)")
    return dg.AssetCheckResult(passed=True, metadata={"file": source, "codebases": len(config.codebases)})
