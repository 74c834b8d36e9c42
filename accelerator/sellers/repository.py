"""Sellers' storage: the only code that reads or writes ``sellers`` and ``seller_profiles``
(the coverage check's one statement joins ``sellers`` for the legal name, see
``coverage.repository``).

Module functions, each taking what it runs on: the driver's read pool (:class:`Lookups`) for
the profile reads every quote request makes, or the caller's session.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import msgspec
from sqlalchemy import bindparam, literal_column, select

from accelerator.infra.codec import instant
from accelerator.infra.database import ReadSession, WriteSession
from accelerator.infra.lookups import Lookups, Row
from accelerator.infra.statements import Statement
from accelerator.sellers.models import Seller, SellerProfile
from schemas import RiskProfile, SellerFacts, reading_stored


@dataclass(frozen=True)
class StoredProfile:
    """One stored version of a seller's facts and the risk profile computed from them."""

    seller_id: str
    version: int
    facts: SellerFacts
    profile: RiskProfile
    created_at: datetime


@dataclass(frozen=True)
class SellerRecord:
    """What other domains read of a seller: who it is and where it sells."""

    id: str
    legal_name: str
    marketplace: str


_PROFILE = select(
    SellerProfile.version, SellerProfile.facts, SellerProfile.profile, SellerProfile.created_at
).where(SellerProfile.seller_id == bindparam("seller_id"))
LATEST_PROFILE = Statement(
    "latest_profile",
    # A literal LIMIT 1, so that PostgreSQL's generic plan knows it reads one row.
    _PROFILE.order_by(SellerProfile.version.desc()).limit(literal_column("1")),
)
PROFILE_VERSION = Statement(
    "profile_version", _PROFILE.where(SellerProfile.version == bindparam("version"))
)
_facts_decoder = msgspec.json.Decoder(SellerFacts)
_profile_decoder = msgspec.json.Decoder(RiskProfile)


# Every quote request reads the latest profile: on the driver's own connections, the JSON
# decoded straight into its types rather than through the ORM's dicts.
async def latest_profile(lookups: Lookups, seller_id: str) -> StoredProfile | None:
    """The seller's latest profile version, or None when it has none."""
    rows = await lookups.fetch(LATEST_PROFILE, seller_id=seller_id)
    return _stored(seller_id, rows[0]) if rows else None


async def profile_version(lookups: Lookups, seller_id: str, version: int) -> StoredProfile | None:
    """One version of the seller's profile, or None when there is no such version."""
    rows = await lookups.fetch(PROFILE_VERSION, seller_id=seller_id, version=version)
    return _stored(seller_id, rows[0]) if rows else None


def _stored(seller_id: str, row: Row) -> StoredProfile:
    version, facts, profile, created_at = row
    # As written: a bound added since must not make a stored profile unreadable.
    with reading_stored():
        return StoredProfile(
            seller_id=seller_id,
            version=version,
            facts=_facts_decoder.decode(facts),
            profile=_profile_decoder.decode(profile),
            created_at=instant(created_at),
        )


async def store_profile(
    session: WriteSession,
    seller_id: str,
    facts: SellerFacts,
    profile: RiskProfile,
    now: datetime,
) -> StoredProfile:
    """Store a new profile version, creating the seller if new (its row locked meanwhile, so
    two concurrent versions cannot take one number)."""
    seller = await session.get(Seller, seller_id, with_for_update=True)
    if seller is None:
        seller = Seller(
            id=seller_id,
            legal_name=facts.legal_name,
            marketplace=facts.marketplace,
            latest_profile_version=0,
            created_at=now,
            updated_at=now,
        )
        session.add(seller)
    seller.legal_name = facts.legal_name
    seller.marketplace = facts.marketplace
    seller.latest_profile_version += 1
    seller.updated_at = now
    row = SellerProfile(
        seller_id=seller_id,
        version=seller.latest_profile_version,
        facts=msgspec.to_builtins(facts),
        profile=msgspec.to_builtins(profile),
        created_at=now,
    )
    session.add(row)
    return StoredProfile(seller_id, row.version, facts, profile, now)


async def seller(session: ReadSession | WriteSession, seller_id: str) -> SellerRecord | None:
    """The seller, or None when it has never stored a profile."""
    found = await session.get(Seller, seller_id)
    if found is None:
        return None
    return SellerRecord(found.id, found.legal_name, found.marketplace)


@dataclass(frozen=True)
class PagedSeller:
    """A seller of a page with its latest facts (the reminder sweep's read)."""

    seller_id: str
    marketplace: str
    facts: SellerFacts


async def latest_facts_page(
    session: ReadSession | WriteSession, *, after: str, limit: int
) -> tuple[list[PagedSeller], str | None]:
    """Up to ``limit`` sellers with a profile and ids after ``after``, in id order, with their
    latest facts, in one statement; and the last id read (None: no seller left)."""
    rows = (
        await session.execute(
            select(Seller.id, Seller.marketplace, SellerProfile.facts)
            .join(
                SellerProfile,
                (SellerProfile.seller_id == Seller.id)
                & (SellerProfile.version == Seller.latest_profile_version),
            )
            .where(Seller.id > after)
            .order_by(Seller.id)
            .limit(limit)
        )
    ).all()
    if not rows:
        return [], None
    with reading_stored():
        page = [
            PagedSeller(seller_id, marketplace, msgspec.convert(facts, SellerFacts))
            for seller_id, marketplace, facts in rows
        ]
    return page, rows[-1][0]
