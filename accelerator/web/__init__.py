"""Seller web pages: sign in, describe the business, compare quotes live, buy, see coverage."""

from accelerator.web.routes import seller_pages

__all__ = ["seller_pages"]
