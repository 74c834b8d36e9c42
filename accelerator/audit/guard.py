"""Append-only in the database itself: triggers that refuse UPDATE and DELETE on the audited
tables, whoever connects (the service, a script, a console).

The one exception is the retention purge (``audit.retention``): a DELETE passes while the
deleting transaction holds a purge permit, a row of ``audit_purge_permits`` that
:func:`purge_permit` inserts at the start of the purge's transaction and deletes before it
commits. No other session ever sees that row (PostgreSQL shows a transaction's uncommitted rows
to no one else; SQLite has one writer at a time), so a DELETE anywhere else is still refused.
UPDATE is always refused.

They stop mistakes and casual edits. Whoever may drop a trigger, or insert a permit, can still
alter or remove rows; the hash chains (``audit.chain``) and the anchors a purge leaves
(``audit.anchors``) are what then shows it. Tests that empty the database between cases drop
the triggers for that and put them back (:func:`drop_statements`, :func:`create_statements`).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Final

from sqlalchemy import delete

from accelerator.audit.models import PurgePermitRow
from accelerator.infra.database import WriteSession
from accelerator.infra.statements import DialectName

#: The tables whose rows are never changed, and removed only by the retention purge.
APPEND_ONLY_TABLES: Final = (
    "policy_events",
    "decision_receipts",
    "decision_effects",
    "audit_anchors",
)

_FUNCTION = "accelerator_refuse_change"
#: True while the transaction holds a purge permit (the table's name is spelled out once).
_PERMIT_HELD = "EXISTS (SELECT 1 FROM audit_purge_permits)"


def create_statements(dialect: DialectName) -> list[str]:
    """The DDL that makes every table of :data:`APPEND_ONLY_TABLES` append-only (DELETE
    allowed only to a transaction holding a purge permit)."""
    if dialect == "postgresql":
        statements = [
            f"CREATE OR REPLACE FUNCTION {_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN IF TG_OP = 'DELETE' AND {_PERMIT_HELD} THEN "
            "RETURN OLD; END IF; "
            "RAISE EXCEPTION '% on % refused: the table is append-only', "
            "TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege'; END $$"
        ]
        statements += [
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {_FUNCTION}()"
            for table in APPEND_ONLY_TABLES
        ]
        return statements
    statements = []
    for table in APPEND_ONLY_TABLES:
        statements += [
            f"CREATE TRIGGER {table}_update_refused BEFORE UPDATE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, 'UPDATE on {table} refused: the table is append-only'); "
            "END",
            f"CREATE TRIGGER {table}_delete_refused BEFORE DELETE ON {table} "
            f"WHEN NOT {_PERMIT_HELD} "
            f"BEGIN SELECT RAISE(ABORT, 'DELETE on {table} refused: the table is append-only'); "
            "END",
        ]
    return statements


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


@asynccontextmanager
async def purge_permit(session: WriteSession, now: datetime) -> AsyncIterator[None]:
    """Hold a purge permit in the session's transaction while the block runs: the audited
    tables accept DELETE from it. The permit is removed when the block ends (an error ends
    the transaction, and the permit with it, uncommitted)."""
    permit = str(uuid.uuid4())
    session.add(PurgePermitRow(id=permit, granted_at=now))
    await session.flush()
    yield
    await session.execute(
        delete(PurgePermitRow)
        .where(PurgePermitRow.id == permit)
        .execution_options(synchronize_session=False)
    )
