"""Every table of the service, gathered so Alembic compares the migrations against all of them."""

from accelerator.admin.models import AdminActionRow, InsurerSwitchRow
from accelerator.audit.models import (
    AuditAnchorRow,
    AuditHeadRow,
    DecisionEffectRow,
    DecisionReceiptRow,
    PendingEventRow,
    PurgePermitRow,
)
from accelerator.auth.models import ApiKey
from accelerator.binding.models import BindRecord
from accelerator.certificates.models import CertificateLinkRow
from accelerator.compliance.models import ComplianceAnnouncementRow
from accelerator.coverage.models import PolicyEventRow, PolicyRow
from accelerator.health.models import WorkerHeartbeatRow
from accelerator.infra.database import Base
from accelerator.notifications.models import AttemptRow as NotificationAttemptRow
from accelerator.notifications.models import EndpointRow, MessageRow
from accelerator.quoting.models import AttemptRow, InsurerOutcomeRow, OfferRow, QuoteRequestRow
from accelerator.sellers.models import Seller, SellerProfile
from accelerator.webhooks.models import InboxEvent

metadata = Base.metadata

__all__ = [
    "AdminActionRow",
    "ApiKey",
    "AttemptRow",
    "AuditAnchorRow",
    "AuditHeadRow",
    "BindRecord",
    "CertificateLinkRow",
    "ComplianceAnnouncementRow",
    "DecisionEffectRow",
    "DecisionReceiptRow",
    "EndpointRow",
    "InboxEvent",
    "InsurerOutcomeRow",
    "InsurerSwitchRow",
    "MessageRow",
    "NotificationAttemptRow",
    "OfferRow",
    "PendingEventRow",
    "PolicyEventRow",
    "PolicyRow",
    "PurgePermitRow",
    "QuoteRequestRow",
    "Seller",
    "SellerProfile",
    "WorkerHeartbeatRow",
    "metadata",
]
