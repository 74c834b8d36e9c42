"""The profile pages: the seller's facts as a form, and the risk profile in plain words."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect

from accelerator.compliance.service import ComplianceService
from accelerator.coverage.decision import incident_date, rule_set_for_incident
from accelerator.errors import InvalidInput, NotFound
from accelerator.infra.errors import problem_for
from accelerator.renewals.service import RenewalService
from accelerator.risk.taxonomy import Taxonomy
from accelerator.rulesets.loader import RuleBook
from accelerator.sellers.service import SellerService, StoredProfile
from accelerator.web import wording
from accelerator.web.forms import (
    CATEGORY_ROWS,
    ProfileForm,
    blank_form,
    field_labels,
    form_from_facts,
    place_problems,
    read_profile_form,
    sales_months,
)
from accelerator.web.guards import csrf_protected, signed_in
from accelerator.web.notices import notices_for
from accelerator.web.rendering import page
from accelerator.web.session import WebSession, current_session


def session_of(request: Request[Any, Any, Any]) -> WebSession:
    session = current_session(request)
    assert session is not None, "the signed_in guard runs first"
    return session


async def latest_profile(sellers: SellerService, seller_id: str) -> StoredProfile | None:
    """The seller's latest profile, or None before it describes its business."""
    try:
        return await sellers.get_profile(seller_id)
    except NotFound:
        return None


def _category_choices(taxonomy: Taxonomy) -> list[tuple[str, list[tuple[str, str]]]]:
    """Categories grouped under their top-level heading, for <optgroup>s."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for category in taxonomy:
        top, _, rest = category.path.partition("/")
        label = wording.category_label(rest) if rest else "General"
        groups.setdefault(wording.category_label(top), []).append((category.path, label))
    return sorted(groups.items())


class ProfileController(Controller):
    path = "/profile"
    guards = [signed_in, csrf_protected]

    @get("/")
    async def show(
        self,
        sellers: NamedDependency[SellerService],
        compliance: NamedDependency[ComplianceService],
        renewals: NamedDependency[RenewalService],
        rulebook: NamedDependency[RuleBook],
        request: Request[Any, Any, Any],
    ) -> Response[Any]:
        stored = await latest_profile(sellers, session_of(request).seller_id)
        if stored is None:
            return Redirect("/app/profile/edit", status_code=303)
        # The marketplace's date, as the compliance status counts the days to the deadline.
        now = datetime.now(UTC)
        timezone = rule_set_for_incident(rulebook, stored.facts.marketplace, now).reference_timezone
        today = incident_date(now, timezone)
        days_left = (
            (stored.profile.requirement.comply_by - today).days
            if stored.profile.requirement.comply_by
            else None
        )
        return page(
            request,
            "profile.html",
            title="Your risk profile",
            stored=stored,
            facts=stored.facts,
            profile=stored.profile,
            days_left=days_left,
            # The page's own first block already gives the deadline and the days left.
            notices=[
                notice
                for notice in await notices_for(
                    compliance,
                    renewals,
                    rulebook,
                    session_of(request).principal,
                    stored.seller_id,
                    stored.facts.marketplace,
                    now,
                )
                if notice.code != "deadline_close"
            ],
            factors=sorted(stored.profile.factors, key=lambda f: -f.points),
        )

    @get("/edit")
    async def edit(
        self,
        sellers: NamedDependency[SellerService],
        rulebook: NamedDependency[RuleBook],
        taxonomy: NamedDependency[Taxonomy],
        request: Request[Any, Any, Any],
    ) -> Response[str]:
        stored = await latest_profile(sellers, session_of(request).seller_id)
        form = form_from_facts(stored.facts) if stored else blank_form()
        return self._form(request, form, rulebook, taxonomy, first_time=stored is None)

    def _form(
        self,
        request: Request[Any, Any, Any],
        form: ProfileForm,
        rulebook: RuleBook,
        taxonomy: Taxonomy,
        *,
        first_time: bool,
        status_code: int = 200,
    ) -> Response[str]:
        today = datetime.now(UTC).date()
        return page(
            request,
            "profile_form.html",
            status_code=status_code,
            title="Describe your business",
            form=form,
            first_time=first_time,
            months=sales_months(today),
            labels=field_labels(sales_months(today)),
            today=today,
            marketplaces=[(m, rulebook.currency_of(m)) for m in rulebook.marketplaces()],
            category_groups=_category_choices(taxonomy),
            category_rows=range(CATEGORY_ROWS),
        )

    @post("/edit", status_code=303)
    async def save(
        self,
        sellers: NamedDependency[SellerService],
        rulebook: NamedDependency[RuleBook],
        taxonomy: NamedDependency[Taxonomy],
        request: Request[Any, Any, Any],
    ) -> Response[Any]:
        seller_id = session_of(request).seller_id
        previous = await latest_profile(sellers, seller_id)
        posted = {key: str(value) for key, value in (await request.form()).items()}
        today: date = datetime.now(UTC).date()
        form, facts, layout = read_profile_form(
            posted,
            today,
            rulebook,
            [category.path for category in taxonomy],
            previous.facts if previous else None,
        )
        if facts is not None:
            try:
                seller = session_of(request)
                await sellers.put_profile(seller.principal, seller.seller_id, facts)
            except InvalidInput as invalid:
                problem = problem_for(invalid)
                place_problems(form, problem.errors or [], layout)
                if not problem.errors:
                    form.add(None, problem.detail or problem.title)
            else:
                return Redirect("/app/profile?notice=profile_saved", status_code=303)
        return self._form(
            request, form, rulebook, taxonomy, first_time=previous is None, status_code=422
        )
