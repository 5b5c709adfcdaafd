"""Declared schema of ``agent_registry`` (matches sql/V074)."""

from symphony_assets.storage.tables import BOOL, DATE, INT, STRING, Column, TableSchema

AGENT_REGISTRY = TableSchema(
    name="agent_registry",
    description=(
        "Agents declared in startup configuration files joined with the agent files found and the ports"
        " the code binds: one ok row per sound declaration, one row per problem."
    ),
    columns=(
        Column("agent", STRING, "Declared name (for an undeclared file: its file name)", False),
        Column(
            "kind",
            STRING,
            "ok, declared_missing, undeclared_agent, declared_twice, port_differs or undeclared_dependency",
            False,
        ),
        Column("config_path", STRING, "Startup configuration declaring it"),
        Column("config_line", INT, "Line of the declaration (0 when the format gives none)"),
        Column("script_path", STRING, "The agent's file: as resolved when it exists, else as declared"),
        Column("declared_port", INT, "Port in the configuration"),
        Column("code_ports", STRING, "Ports the file binds, from port_map", False),
        Column("host", STRING, "Host or machine in the configuration"),
        Column("dependencies", STRING, "Agents it depends on, as declared", False),
        Column("detail", STRING, "What is wrong (or right), in words", False),
        Column("finding_key", STRING, "kind|agent|config_path|script_path: what newness compares", False),
        Column("first_seen", DATE, "First day the row was seen", False),
        Column("is_new", BOOL, "Not in the previous available partition (False on a first partition)", False),
    ),
)
