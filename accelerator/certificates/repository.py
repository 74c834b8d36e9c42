"""The certificate links table: its one owner."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import select

from accelerator.certificates.models import CertificateLinkRow
from accelerator.coverage.models import PolicyRow
from accelerator.infra.database import ReadSession, WriteSession

#: Bytes of randomness in a token: 192 bits, written as 32 URL-safe characters.
TOKEN_BYTES = 24


async def link_token(session: WriteSession, policy_id: str, now: datetime) -> str:
    """The policy's live-link token, made on first use. The policy row is locked first, so two
    first downloads at once make one token (SQLite has one writer anyway)."""
    await session.execute(select(PolicyRow.id).where(PolicyRow.id == policy_id).with_for_update())
    found = await session.scalar(
        select(CertificateLinkRow.token)
        .where(CertificateLinkRow.policy_id == policy_id, CertificateLinkRow.revoked_at.is_(None))
        .order_by(CertificateLinkRow.created_at)
        .limit(1)
    )
    if found is not None:
        return found
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(CertificateLinkRow(token=token, policy_id=policy_id, created_at=now))
    await session.flush()
    return token


async def policy_of_token(session: ReadSession | WriteSession, token: str) -> str | None:
    """The policy an unrevoked token stands for, or None."""
    return await session.scalar(
        select(CertificateLinkRow.policy_id).where(
            CertificateLinkRow.token == token, CertificateLinkRow.revoked_at.is_(None)
        )
    )
