"""The admin console under ``/admin``: operators' pages, signed in with an admin API key."""

from accelerator.web.admin.routes import admin_pages

__all__ = ["admin_pages"]
