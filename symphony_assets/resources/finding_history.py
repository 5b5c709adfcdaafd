"""When each finding was last seen, out of the mirrored tables: the tracker decides from it whether a
finding that is gone has been gone long enough to close its issue."""

from datetime import date
from typing import Any

from psycopg2 import sql

from symphony_assets.resources.postgres import Database


def load_history(db: Database, codebase: str, day: date) -> dict[str, date]:
    """When each fingerprint was last seen before ``day``: in ``todo_list`` or as a present finding here."""
    parts = []
    params: list[Any] = []
    with db.transaction() as cur:
        for table, extra in (("todo_list", sql.SQL("")), ("tracker_issues", sql.SQL(" AND present"))):
            cur.execute("SELECT to_regclass(%s)", (f"symphony.{table}",))
            row = cur.fetchone()
            if row is None or row[0] is None:
                continue
            parts.append(
                sql.SQL("SELECT fingerprint, date FROM {} WHERE codebase = %s AND date < %s{}").format(
                    sql.Identifier("symphony", table), extra
                )
            )
            params += [codebase, day]
        if not parts:
            return {}
        query = sql.SQL("SELECT fingerprint, max(date) FROM ({}) AS seen GROUP BY fingerprint").format(
            sql.SQL(" UNION ALL ").join(parts)
        )
        cur.execute(query, params)
        return {str(fp): last for fp, last in cur.fetchall()}
