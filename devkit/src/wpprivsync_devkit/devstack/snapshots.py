"""Fast snapshot and restore of one MariaDB database, for per-test isolation.

The snapshot is a second database on the same server holding a copy of every table
(``CREATE TABLE ... LIKE`` + ``INSERT ... SELECT``). Restoring compares table checksums and
column definitions with the copy and reloads only what differs; tables created since the
snapshot are dropped, tables dropped since are recreated.
"""

from __future__ import annotations

from .mariadb import MariaDB
from .processes import StackError


class DatabaseSnapshot:
    def __init__(self, db: MariaDB, database: str):
        self.db = db
        self.database = database
        self.copy = f"{database}__snapshot"
        self._checksums: dict[str, str] = {}
        self._columns: dict[str, str] = {}

    def to_dict(self) -> dict[str, dict[str, str]]:
        """What :meth:`restore` needs besides the copy in the server (for detached stacks)."""
        return {"checksums": dict(self._checksums), "columns": dict(self._columns)}

    @classmethod
    def from_dict(cls, db: MariaDB, database: str, data: dict[str, dict[str, str]]) -> DatabaseSnapshot:
        snap = cls(db, database)
        snap._checksums = dict(data["checksums"])
        snap._columns = dict(data["columns"])
        return snap

    def take(self) -> None:
        tables = self._tables(self.database)
        script = [f"DROP DATABASE IF EXISTS `{self.copy}`;",
                  f"CREATE DATABASE `{self.copy}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;"]
        for t in tables:
            script.append(f"CREATE TABLE `{self.copy}`.`{t}` LIKE `{self.database}`.`{t}`;")
            script.append(f"INSERT INTO `{self.copy}`.`{t}` SELECT * FROM `{self.database}`.`{t}`;")
        self.db.sql("SET SESSION foreign_key_checks=0;\n" + "\n".join(script))
        self._checksums = self._checksum(self.copy, tables)
        self._columns = self._column_signatures(self.copy)

    def restore(self) -> None:
        if not self._checksums:
            raise StackError("no snapshot was taken")
        live_columns = self._column_signatures(self.database)
        live = set(live_columns)
        saved = set(self._checksums)
        script = []
        for t in sorted(live - saved):
            script.append(f"DROP TABLE `{self.database}`.`{t}`;")
        reshaped = {t for t in live & saved if live_columns[t] != self._columns.get(t)}
        for t in sorted(reshaped):
            script.append(f"DROP TABLE `{self.database}`.`{t}`;")
        for t in sorted((saved - live) | reshaped):
            script.append(f"CREATE TABLE `{self.database}`.`{t}` LIKE `{self.copy}`.`{t}`;")
            script.append(f"INSERT INTO `{self.database}`.`{t}` SELECT * FROM `{self.copy}`.`{t}`;")
        same_shape = sorted(live & saved - reshaped)
        now = self._checksum(self.database, same_shape) if same_shape else {}
        changed = [t for t in same_shape if now.get(t) != self._checksums[t]]
        if changed:
            script.append("START TRANSACTION;")
            for t in changed:
                script.append(f"DELETE FROM `{self.database}`.`{t}`;")
                script.append(f"INSERT INTO `{self.database}`.`{t}` SELECT * FROM `{self.copy}`.`{t}`;")
            script.append("COMMIT;")
        if script:
            self.db.sql("SET SESSION foreign_key_checks=0;\n" + "\n".join(script))

    # -- queries -------------------------------------------------------------------------
    def _tables(self, database: str) -> list[str]:
        rows = self.db.rows(
            "SELECT table_name FROM information_schema.tables "
            f"WHERE table_schema = '{database}' AND table_type = 'BASE TABLE' ORDER BY table_name;")
        return [r[0] for r in rows]

    def _checksum(self, database: str, tables: list[str]) -> dict[str, str]:
        if not tables:
            return {}
        names = ", ".join(f"`{database}`.`{t}`" for t in tables)
        rows = self.db.rows(f"CHECKSUM TABLE {names} EXTENDED;")
        # rows: "database.table<TAB>checksum"
        return {r[0].split(".", 1)[1]: r[1] for r in rows}

    def _column_signatures(self, database: str) -> dict[str, str]:
        rows = self.db.rows(
            "SELECT c.table_name, MD5(GROUP_CONCAT(CONCAT_WS(':', c.column_name, c.column_type, c.is_nullable,"
            " IFNULL(c.column_default, '~'), c.extra) ORDER BY c.ordinal_position SEPARATOR '|'))"
            " FROM information_schema.columns c JOIN information_schema.tables t"
            " ON t.table_schema = c.table_schema AND t.table_name = c.table_name"
            f" WHERE c.table_schema = '{database}' AND t.table_type = 'BASE TABLE' GROUP BY c.table_name;")
        return {r[0]: r[1] for r in rows}
