"""Declared schemas of ``port_map`` and ``port_conflicts`` (match sql/V013 and V080)."""

from symphony_assets.storage.tables import BOOL, DATE, INT, STRING, Column, TableSchema

PORT_MAP = TableSchema(
    name="port_map",
    description="Every place a file binds, connects to, listens on or configures a network port.",
    columns=(
        Column("machine", STRING, "Machine label of the codebase (from symphony.yaml)", False),
        Column("path", STRING, "File holding the site", False),
        Column("component", STRING, "What owns the port: the file path, or a configured agent name", False),
        Column("line", INT, "1-based line of the site", False),
        Column(
            "role",
            STRING,
            "bind, connect, listen, config, unknown (a URL mention), or skipped: the file (or the rest"
            " of it) was not analysed because it hit a limit; raw says which",
            False,
        ),
        Column("host", STRING, "Host or bind address as written ({expr} where unknown)"),
        Column("port", INT, "Port number; 0 means random; null when it could not be resolved"),
        Column("resolved", BOOL, "True when the port is statically known (not env-overridable)", False),
        Column("raw", STRING, "The expression or config value the port came from", False),
        Column("socket_type", STRING, "ZMQ socket type (PUB, REP, ...), SOCK_STREAM/SOCK_DGRAM, tcp/udp"),
        Column("via", STRING, "ast, fallback (recovered: the file does not parse), config or skipped", False),
        Column("context", STRING, "Enclosing Class.function, or the config key path", False),
        Column("blob_id", STRING, "Git blob id of the file"),
    ),
)

PORT_CONFLICTS = TableSchema(
    name="port_conflicts",
    description="Ports bound by two or more components on the same machine, over every codebase of the day.",
    columns=(
        Column("machine", STRING, "Machine label shared by every component involved", False),
        Column("port", INT, "The contested port", False),
        Column("transport", STRING, "tcp or udp", False),
        Column("conflict_key", STRING, "machine|transport|port|components: identity across days", False),
        Column("components", STRING, "codebase:component of each component binding the port", False),
        Column("codebases", STRING, "Codebases involved, comma-separated", False),
        Column("component_count", INT, "Number of components binding the port", False),
        Column("sites", STRING, "codebase:path:line of every binding site", False),
        Column("cross_codebase", BOOL, "True when another codebase on the machine is involved", False),
        Column("first_seen", DATE, "First day the conflict was seen"),
        Column("is_new", BOOL, "Not in the previous available day (False on a first partition)"),
    ),
)
