"""Every table of the service, gathered so Alembic compares the migrations against all of them."""

from accelerator.auth.models import ApiKey
from accelerator.infra.database import Base

metadata = Base.metadata

__all__ = ["ApiKey", "metadata"]
