"""The ACORD-style XML insurer: ``POST /acord/quote`` and ``POST /acord/bind`` under ``/acorn``."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from xml.etree.ElementTree import Element, ParseError, SubElement, tostring

import defusedxml
import defusedxml.ElementTree as SafeET
from aiohttp import web

from providers.sandbox._common import (
    SimPolicy,
    authorized,
    bind_check,
    idempotent,
    iso,
    issue_policy,
)
from providers.sandbox._rating import (
    INSURERS,
    Application,
    Quoted,
    Refused,
    SimOffer,
    underwrite,
)
from providers.sandbox._state import STATE

KEY = "acorn"
_XML = "application/xml"


class _BadRequest(Exception):
    pass


def _add(parent: Element, tag: str, text: object | None = None) -> Element:
    child = SubElement(parent, tag)
    if text is not None:
        child.text = str(text)
    return child


def _need(node: Element, path: str) -> str:
    found = node.find(path)
    text = "" if found is None else (found.text or "").strip()
    if not text:
        raise _BadRequest(f"missing {path}")
    return text


def _response(kind: str, rq_uid: str) -> tuple[Element, Element]:
    root = Element("ACORD")
    service = _add(root, "InsuranceSvcRs")
    _add(service, "RqUID", rq_uid)
    return root, _add(service, kind)


def _status(parent: Element, code: str, error: str = "", description: str = "") -> None:
    status = _add(parent, "MsgStatus")
    _add(status, "MsgStatusCd", code)
    if error:
        _add(status, "MsgErrorCd", error)
    if description:
        _add(status, "MsgStatusDesc", description)


def _xml(root: Element, status: int = 200) -> web.Response:
    body = bytes(tostring(root, encoding="utf-8", xml_declaration=True))
    return web.Response(status=status, body=body, content_type=_XML)


def _parse(raw: bytes) -> Element:
    try:
        root: Element = SafeET.fromstring(raw)
    except (ParseError, defusedxml.DefusedXmlException) as exc:
        raise _BadRequest("invalid XML") from exc
    return root


def _coverages(parent: Element, offer: SimOffer) -> None:
    for code, amount in (
        ("EAOCC", offer.per_occurrence),
        ("GENAG", offer.aggregate),
        ("PRDCO", offer.products_aggregate),
    ):
        coverage = _add(parent, "CommlCoverage")
        _add(coverage, "CoverageCd", code)
        formatted = _add(_add(coverage, "Limit"), "FormatCurrencyAmt")
        _add(formatted, "Amt", amount)
        _add(formatted, "CurCd", offer.currency)


def _quote(parent: Element, offer: SimOffer) -> None:
    quote = _add(parent, "PolicyQuote")
    _add(quote, "CompanysQuoteNumber", offer.quote_id)
    _add(quote, "QuoteValidUntilDtTm", iso(offer.valid_until))
    _add(quote, "InsurerName", offer.insurer.name)
    _add(quote, "InsurerRating", offer.insurer.rating).set("RatingAgencyCd", "AMBest")
    _add(quote, "LOBCd", "CGL")
    _add(quote, "PolicyFormCd", "OCCURRENCE" if offer.form == "occurrence" else "CLAIMSMADE")
    term = _add(quote, "ContractTerm")
    _add(term, "EffectiveDt", offer.effective_date.isoformat())
    _add(term, "ExpirationDt", offer.expiry_date.isoformat())
    _add(quote, "CurCd", offer.currency)
    _add(quote, "PremiumAmt", offer.premium)
    _add(quote, "TaxAmt", offer.taxes)
    _add(quote, "FeeAmt", offer.fees)
    _add(quote, "TotalAmt", offer.total)
    _coverages(quote, offer)
    _add(quote, "DeductibleAmt", offer.deductible)
    if offer.additional_insured_name is not None:
        interest = _add(quote, "AdditionalInterest")
        _add(interest, "NatureInterestCd", "AI")
        _add(interest, "Name", offer.additional_insured_name)
        _add(interest, "Wording", offer.additional_insured_wording)
        _add(interest, "FormNumber", "CG 20 15")
    elif offer.certificate_holder_only:
        interest = _add(quote, "AdditionalInterest")
        _add(interest, "NatureInterestCd", "CH")
        _add(interest, "Name", offer.certificate_holder_name)
    for territory in offer.territories:
        _add(quote, "TerritoryCd", territory)
    for category in offer.categories:
        _add(quote, "ClassCd", category)
    for exclusion in offer.exclusions:
        _add(quote, "ExclusionDesc", exclusion)
    _add(quote, "CancellationNoticeDays", offer.notice_days)
    _add(quote, "BindableInd", 1)


def _policy(parent: Element, policy: SimPolicy) -> None:
    offer = policy.offer
    node = _add(parent, "Policy")
    _add(node, "PolicyNumber", policy.number)
    _add(node, "NamedInsured", policy.named_insured)
    _add(node, "InsurerName", offer.insurer.name)
    _add(node, "InsurerRating", offer.insurer.rating).set("RatingAgencyCd", "AMBest")
    _add(node, "PolicyFormCd", "OCCURRENCE" if offer.form == "occurrence" else "CLAIMSMADE")
    _add(node, "CurCd", offer.currency)
    _coverages(node, offer)
    _add(node, "DeductibleAmt", offer.deductible)
    for name in policy.additional_insureds:
        interest = _add(node, "AdditionalInterest")
        _add(interest, "NatureInterestCd", "AI")
        _add(interest, "Name", name)
    for territory in offer.territories:
        _add(node, "TerritoryCd", territory)
    for category in offer.categories:
        _add(node, "ClassCd", category)
    _add(node, "EffectiveDtTm", iso(policy.effective_at))
    _add(node, "ExpirationDtTm", iso(policy.expires_at))
    _add(node, "CancellationNoticeDays", offer.notice_days)
    _add(node, "TotalAmt", offer.total)


def _decimal(text: str, what: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation as exc:
        raise _BadRequest(f"{what} is not a decimal") from exc


def _application(root: Element) -> tuple[str, Application]:
    rq_uid = _need(root, "InsuranceSvcRq/RqUID")
    inquiry = root.find("InsuranceSvcRq/GeneralLiabilityPolicyQuoteInqRq")
    if inquiry is None:
        raise _BadRequest("missing GeneralLiabilityPolicyQuoteInqRq")
    business = "InsuredOrPrincipal/InsuredOrPrincipalInfo/BusinessInfo"
    line = "GeneralLiabilityLineBusiness"
    coverages = {
        _need(c, "CoverageCd"): _decimal(_need(c, "Limit/FormatCurrencyAmt/Amt"), "limit")
        for c in inquiry.findall(f"{line}/LiabilityInfo/CommlCoverage")
    }
    try:
        application = Application(
            reference=rq_uid,
            seller_id=_need(inquiry, "InsuredOrPrincipal/ItemIdInfo/AgencyId"),
            legal_name=_need(
                inquiry, "InsuredOrPrincipal/GeneralPartyInfo/NameInfo/CommlName/CommercialName"
            ),
            marketplace=_need(inquiry, "CommlPolicy/MarketplaceCd"),
            categories=tuple(
                (_need(c, "ClassCd"), _decimal(_need(c, "ExposurePct"), "ExposurePct") / 100)
                for c in inquiry.findall(f"{line}/GeneralLiabilityClassification")
            ),
            annual_sales=_decimal(_need(inquiry, f"{business}/AnnualSalesAmt/Amt"), "sales"),
            currency=_need(
                inquiry, f"{line}/LiabilityInfo/CommlCoverage/Limit/FormatCurrencyAmt/CurCd"
            ),
            risk_score=int(_need(inquiry, f"{line}/com.accelerator_RiskScore")),
            risk_tier=_need(inquiry, f"{line}/com.accelerator_RiskTier"),
            years_in_business=int(_need(inquiry, f"{business}/NumYrsInBusiness")),
            per_occurrence=coverages["EAOCC"],
            aggregate=coverages["GENAG"],
            max_deductible=_decimal(
                _need(inquiry, f"{line}/LiabilityInfo/MaxDeductibleAmt/Amt"), "deductible"
            ),
            effective_date=date.fromisoformat(
                _need(inquiry, "CommlPolicy/ContractTerm/EffectiveDt")
            ),
            term_months=int(_need(inquiry, "CommlPolicy/ContractTerm/DurationPeriod/NumUnits")),
            additional_insured=_required_interest(inquiry),
        )
    except (KeyError, ValueError) as exc:
        raise _BadRequest(f"incomplete quote inquiry: {exc}") from exc
    return rq_uid, application


def _required_interest(inquiry: Element) -> tuple[str, str] | None:
    """The additional insured the inquiry asks for (``NatureInterestCd`` AI), if any."""
    for interest in inquiry.findall("AdditionalInterest"):
        if interest.findtext("NatureInterestCd") == "AI":
            return _need(interest, "Name"), _need(interest, "Wording")
    return None


def _unauthorized() -> web.Response:
    root, response = _response("GeneralLiabilityPolicyQuoteInqRs", "")
    _status(response, "Error", "AUTH", "HTTP Basic credentials are missing or wrong")
    return _xml(root, status=401)


def _bad_request(kind: str, message: str) -> web.Response:
    root, response = _response(kind, "")
    _status(response, "Error", "INVALID", message)
    return _xml(root, status=400)


def add_routes(app: web.Application) -> None:
    """Serve the ACORD insurer under ``/acorn``."""
    profile = INSURERS[KEY]

    async def quote(request: web.Request) -> web.Response:
        state = request.app[STATE]
        if not authorized(request, state.config.api_keys.get(KEY, ""), "acord"):
            return _unauthorized()
        insurer = state.insurers[KEY]
        try:
            rq_uid, application = _application(_parse(await request.read()))
        except _BadRequest as exc:
            return _bad_request("GeneralLiabilityPolicyQuoteInqRs", str(exc))
        decision = underwrite(
            profile,
            application,
            sequence=insurer.next_sequence(),
            now=datetime.now(UTC),
            additional_insured_name=state.config.additional_insured_name,
        )
        root, response = _response("GeneralLiabilityPolicyQuoteInqRs", rq_uid)
        if isinstance(decision, Refused):
            _status(response, "Rejected", decision.code, decision.message)
        elif isinstance(decision, Quoted):
            _status(response, "Success")
            for offer in decision.offers:
                insurer.quotes[offer.quote_id] = offer
                _quote(response, offer)
        else:
            _status(response, "Referred", "REFER", decision.message)
        return _xml(root)

    async def bind(request: web.Request) -> web.Response:
        state = request.app[STATE]
        if not authorized(request, state.config.api_keys.get(KEY, ""), "acord"):
            return _unauthorized()
        insurer = state.insurers[KEY]
        kind = "GeneralLiabilityPolicyAddRs"
        try:
            root_in = _parse(await request.read())
            rq_uid = _need(root_in, "InsuranceSvcRq/RqUID")
            add = "InsuranceSvcRq/GeneralLiabilityPolicyAddRq"
            quote_id = _need(root_in, f"{add}/CompanysQuoteNumber")
            named_insured = _need(root_in, f"{add}/NamedInsured")
            additional = _need(root_in, f"{add}/AdditionalInterest/Name")
        except _BadRequest as exc:
            return _bad_request(kind, str(exc))

        async def produce() -> web.Response:
            root, response = _response(kind, rq_uid)
            checked = bind_check(insurer, quote_id, datetime.now(UTC))
            if isinstance(checked, Refused):
                _status(response, "Rejected", checked.code, checked.message)
                return _xml(root)
            _status(response, "Success")
            _policy(response, issue_policy(insurer, checked, named_insured, additional))
            return _xml(root)

        return await idempotent(request, insurer, produce)

    app.router.add_post(f"/{KEY}/acord/quote", quote)
    app.router.add_post(f"/{KEY}/acord/bind", bind)
