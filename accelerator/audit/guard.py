"""Append-only in the database itself: triggers that refuse UPDATE and DELETE on the audited
tables, whoever connects (the service, a script, a console).

They stop mistakes and casual edits. Whoever may drop a trigger can still alter a row; the hash
chains (``audit.chain``) are what then shows it. Tests that empty the database between cases
drop the triggers for that and put them back (:func:`drop_statements`, :func:`create_statements`).
"""

from __future__ import annotations

from typing import Final

from accelerator.infra.statements import DialectName

#: The tables whose rows are never changed or removed.
APPEND_ONLY_TABLES: Final = ("policy_events", "decision_receipts", "decision_effects")

_FUNCTION = "accelerator_refuse_change"


def create_statements(dialect: DialectName) -> list[str]:
    """The DDL that makes every table of :data:`APPEND_ONLY_TABLES` append-only."""
    if dialect == "postgresql":
        statements = [
            f"CREATE OR REPLACE FUNCTION {_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION '% on % refused: the table is append-only', "
            "TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege'; END $$"
        ]
        statements += [
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {_FUNCTION}()"
            for table in APPEND_ONLY_TABLES
        ]
        return statements
    return [
        f"CREATE TRIGGER {table}_{operation.lower()}_refused BEFORE {operation} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{operation} on {table} refused: the table is append-only'); "
        "END"
        for table in APPEND_ONLY_TABLES
        for operation in ("UPDATE", "DELETE")
    ]


def drop_statements(dialect: DialectName) -> list[str]:
    """The DDL that removes those triggers again."""
    if dialect == "postgresql":
        statements = [
            f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}" for table in APPEND_ONLY_TABLES
        ]
        return [*statements, f"DROP FUNCTION IF EXISTS {_FUNCTION}()"]
    return [
        f"DROP TRIGGER IF EXISTS {table}_{operation.lower()}_refused"
        for table in APPEND_ONLY_TABLES
        for operation in ("UPDATE", "DELETE")
    ]
