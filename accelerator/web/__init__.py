"""Seller web pages: sign in, describe the business, compare quotes live, buy, see coverage."""

from accelerator.web.routes import SELLER_PAGES

__all__ = ["SELLER_PAGES"]
