"""The live-verification link of each policy's certificate."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from accelerator.infra.database import Base, UtcDateTime


class CertificateLinkRow(Base):
    """The token of a policy's live-verification URL (``/verify/<token>``): 128 random bits,
    made the first time a certificate of the policy is issued and printed on every one since.

    A row, not an HMAC of the policy id, so that one link can be revoked (``revoked_at``: the
    URL then answers 404, and the next certificate gets a new token) without a server-wide
    secret to configure, share between processes and rotate.
    """

    __tablename__ = "certificate_links"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    policy_id: Mapped[str] = mapped_column(
        ForeignKey("policies.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
