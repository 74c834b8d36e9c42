"""``GET /v1/categories``: the product-category taxonomy, the words sellers' profiles and
insurers' appetites are written in."""

from __future__ import annotations

from litestar import Controller, get
from litestar.di import NamedDependency

from accelerator.auth.guards import requires
from accelerator.auth.principal import Role
from accelerator.risk.taxonomy import Taxonomy, category_label
from schemas import CategoryInfo


class CategoryController(Controller):
    path = "/v1/categories"
    tags = ["sellers"]
    guards = [requires(Role.SELLER, Role.CLAIMS, Role.PARTNER)]

    @get(
        operation_id="listCategories",
        summary="The product categories: paths, labels, hazard classes",
        description=(
            "Every category of the taxonomy, parents before their children. A seller's profile "
            "names categories by `path`; an insurer's appetite names path prefixes (`toys` "
            "covers `toys/plush`). Any API key may read it."
        ),
    )
    async def list_categories(self, taxonomy: NamedDependency[Taxonomy]) -> list[CategoryInfo]:
        return [
            CategoryInfo(
                path=category.path,
                label=category_label(category.path),
                parent=category.parent,
                hazard_class=category.hazard_class,
                rationale=category.rationale,
                naics=category.naics,
            )
            for category in sorted(taxonomy, key=lambda c: c.path)
        ]
