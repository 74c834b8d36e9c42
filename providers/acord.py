"""ACORD-style partners: XML requests and responses over HTTP Basic authentication.

``POST /acord/quote`` carries a ``GeneralLiabilityPolicyQuoteInqRq``; the answer's ``MsgStatus``
says ``Success`` (one ``PolicyQuote`` per offer), ``Rejected`` (a decline, ``MsgErrorCd`` is the
reason code) or ``Referred``. ``POST /acord/bind`` carries a ``GeneralLiabilityPolicyAddRq`` and is
answered synchronously with the issued ``Policy``. Policy notifications arrive as XML signed with
the ``hex-hmac-sha256`` scheme. ``api_key`` holds the Basic credentials as ``user:password``.

Responses are parsed with ``defusedxml`` only: partner XML is untrusted input (entity expansion,
external entities).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

# Building only (our own data); every parse goes through defusedxml below.
from xml.etree.ElementTree import Element, ParseError, SubElement, tostring

import defusedxml
import defusedxml.ElementTree as SafeET

from providers._protocol import (
    Appetite,
    BindRefused,
    BindRequest,
    BindResult,
    Bound,
    Declined,
    HttpCall,
    HttpReply,
    MalformedResponse,
    Offered,
    ProviderSettings,
    QuoteResult,
    Referred,
    RevenueBand,
    SignatureScheme,
)
from providers._wire import (
    build_offer,
    build_policy,
    checked_total,
    money,
    parse_decimal,
    require_status,
)
from schemas import (
    InsurerEvent,
    Offer,
    PolicyCancelled,
    PolicyLapsed,
    PolicyReinstated,
    PolicyRenewed,
    PolicyVerified,
    QuoteRequest,
)

__all__ = ["ACORD_APPETITE", "AcordAdapter"]

ACORD_APPETITE = Appetite(
    marketplaces=frozenset({"US"}),
    categories=(
        "apparel",
        "automotive",
        "baby",
        "beauty",
        "electronics",
        "food",
        "home",
        "office",
        "pets",
        "sports",
        "tools",
        "toys",
    ),
    excluded_categories=("electronics/batteries", "electronics/power-banks"),
    revenue_bands=(RevenueBand("USD", Decimal(50_000), Decimal(25_000_000)),),
    max_per_occurrence=Decimal(2_000_000),
    max_risk_score=85,
)

_FORMS = {"OCCURRENCE": "occurrence", "CLAIMSMADE": "claims_made"}
_OK = frozenset({200})


# --- building ------------------------------------------------------------------------------


def _add(parent: Element, tag: str, text: object | None = None) -> Element:
    child = SubElement(parent, tag)
    if text is not None:
        child.text = str(text)
    return child


def _amount(parent: Element, tag: str, amount: Decimal, currency: str) -> None:
    holder = _add(parent, tag)
    _add(holder, "Amt", amount)
    _add(holder, "CurCd", currency)


def _coverage(parent: Element, code: str, amount: Decimal, currency: str) -> None:
    coverage = _add(parent, "CommlCoverage")
    _add(coverage, "CoverageCd", code)
    limit = _add(coverage, "Limit")
    _amount(limit, "FormatCurrencyAmt", amount, currency)


def _document(request_id: str) -> tuple[Element, Element]:
    root = Element("ACORD")
    service = _add(root, "InsuranceSvcRq")
    _add(service, "RqUID", request_id)
    return root, service


def _serialize(root: Element) -> bytes:
    return bytes(tostring(root, encoding="utf-8", xml_declaration=True))


# --- parsing -------------------------------------------------------------------------------


def _parse(body: bytes, what: str) -> Element:
    try:
        root: Element = SafeET.fromstring(body)
    except (ParseError, defusedxml.DefusedXmlException) as exc:
        raise MalformedResponse(f"{what}: invalid XML") from exc
    return root


def _find(node: Element, path: str, what: str) -> Element:
    found = node.find(path)
    if found is None:
        raise MalformedResponse(f"{what}: missing {path}")
    return found


def _text(node: Element, path: str, what: str) -> str:
    text = (_find(node, path, what).text or "").strip()
    if not text:
        raise MalformedResponse(f"{what}: empty {path}")
    return text


def _optional_text(node: Element, path: str) -> str:
    found = node.find(path)
    return "" if found is None else (found.text or "").strip()


def _texts(node: Element, path: str) -> list[str]:
    return [(e.text or "").strip() for e in node.findall(path) if (e.text or "").strip()]


def _decimal(node: Element, path: str, what: str) -> Decimal:
    return parse_decimal(_text(node, path, what), f"{what} {path}")


def _int(node: Element, path: str, what: str) -> int:
    raw = _text(node, path, what)
    try:
        return int(raw)
    except ValueError as exc:
        raise MalformedResponse(f"{what}: {path} is not an integer") from exc


def _date(node: Element, path: str, what: str) -> date:
    raw = _text(node, path, what)
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise MalformedResponse(f"{what}: {path} is not a date") from exc


def _instant(node: Element, path: str, what: str) -> datetime:
    raw = _text(node, path, what)
    try:
        value = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise MalformedResponse(f"{what}: {path} is not a date-time") from exc
    if value.tzinfo is None:
        raise MalformedResponse(f"{what}: {path} has no time zone")
    return value


def _form(node: Element, what: str) -> str:
    code = _text(node, "PolicyFormCd", what)
    if code not in _FORMS:
        raise MalformedResponse(f"{what}: unknown PolicyFormCd {code!r}")
    return _FORMS[code]


def _limits(node: Element, currency: str, what: str) -> dict[str, Any]:
    by_code: dict[str, Decimal] = {}
    for coverage in node.findall("CommlCoverage"):
        code = _text(coverage, "CoverageCd", what)
        amount = _find(coverage, "Limit/FormatCurrencyAmt", what)
        if _optional_text(amount, "CurCd") not in ("", currency):
            raise MalformedResponse(f"{what}: {code} limit is not in {currency}")
        by_code[code] = _decimal(amount, "Amt", f"{what} {code}")
    fields = {"EAOCC": "per_occurrence_limit", "GENAG": "aggregate_limit"}
    fields["PRDCO"] = "products_completed_operations_aggregate"
    limits: dict[str, Any] = {}
    for code, field in fields.items():
        if code not in by_code:
            raise MalformedResponse(f"{what}: no {code} coverage")
        limits[field] = money(by_code[code], currency)
    return limits


def _interests(node: Element, what: str) -> Iterable[tuple[str, Element]]:
    for interest in node.findall("AdditionalInterest"):
        yield _text(interest, "NatureInterestCd", what), interest


def _offer(provider_id: str, quote: Element) -> Offer:
    number = _text(quote, "CompanysQuoteNumber", "acord quote")
    what = f"acord quote {number}"
    ccy = _text(quote, "CurCd", what)
    premium = _decimal(quote, "PremiumAmt", what)
    taxes = _decimal(quote, "TaxAmt", what)
    fees = _decimal(quote, "FeeAmt", what)
    stated = _optional_text(quote, "TotalAmt")
    total = checked_total(
        premium, taxes, fees, parse_decimal(stated, f"{what} TotalAmt") if stated else None, what
    )
    additional_insured: dict[str, str] | None = None
    certificate_holder_only = False
    for nature, interest in _interests(quote, what):
        if nature == "AI":
            additional_insured = {
                "name": _text(interest, "Name", what),
                "wording": _text(interest, "Wording", what),
                "endorsement_form": _optional_text(interest, "FormNumber"),
            }
        elif nature == "CH":
            certificate_holder_only = True
    return build_offer(
        {
            "provider_id": provider_id,
            "insurer_name": _text(quote, "InsurerName", what),
            "insurer_rating": _text(quote, "InsurerRating", what),
            "quote_reference": number,
            "premium": money(premium, ccy),
            "taxes": money(taxes, ccy),
            "fees": money(fees, ccy),
            "total": money(total, ccy),
            "policy_form": _form(quote, what),
            **_limits(quote, ccy, what),
            "deductible": money(_decimal(quote, "DeductibleAmt", what), ccy),
            "additional_insured": additional_insured,
            # An endorsement makes a certificate-holder mention irrelevant.
            "certificate_holder_only": certificate_holder_only and additional_insured is None,
            "territories": _texts(quote, "TerritoryCd"),
            "covered_categories": _texts(quote, "ClassCd"),
            "exclusions": _texts(quote, "ExclusionDesc"),
            "cancellation_notice_days": _int(quote, "CancellationNoticeDays", what),
            "effective_date": _date(quote, "ContractTerm/EffectiveDt", what),
            "expiry_date": _date(quote, "ContractTerm/ExpirationDt", what),
            "valid_until": _instant(quote, "QuoteValidUntilDtTm", what),
            "bindable": _optional_text(quote, "BindableInd") != "0",
        },
        what,
    )


def _policy(policy: Element) -> dict[str, Any]:
    what = "acord policy"
    ccy = _text(policy, "CurCd", what)
    total = _optional_text(policy, "TotalAmt")
    return {
        "insurer_name": _text(policy, "InsurerName", what),
        "insurer_rating": _text(policy, "InsurerRating", what),
        "policy_number": _text(policy, "PolicyNumber", what),
        "named_insured": _text(policy, "NamedInsured", what),
        "policy_form": _form(policy, what),
        **_limits(policy, ccy, what),
        "deductible": money(_decimal(policy, "DeductibleAmt", what), ccy),
        "additional_insureds": [
            _text(interest, "Name", what)
            for nature, interest in _interests(policy, what)
            if nature == "AI"
        ],
        "territories": _texts(policy, "TerritoryCd"),
        "covered_categories": _texts(policy, "ClassCd"),
        "effective_at": _instant(policy, "EffectiveDtTm", what),
        "expires_at": _instant(policy, "ExpirationDtTm", what),
        "cancellation_notice_days": _int(policy, "CancellationNoticeDays", what),
        "premium_total": money(parse_decimal(total, f"{what} TotalAmt"), ccy) if total else None,
    }


def _status(response: Element, what: str) -> tuple[str, str, str]:
    status = _find(response, "MsgStatus", what)
    return (
        _text(status, "MsgStatusCd", what),
        _optional_text(status, "MsgErrorCd"),
        _optional_text(status, "MsgStatusDesc"),
    )


def _notification(note: Element) -> InsurerEvent:
    what = "acord notification"
    kind = _text(note, "NotificationTypeCd", what)
    number = _text(note, "PolicyNumber", what)
    sequence = _optional_text(note, "SeqNum")
    common: dict[str, Any] = {
        "occurred_at": _instant(note, "OccurredDtTm", what),
        "sequence": _int(note, "SeqNum", what) if sequence else None,
    }
    if kind == "VERIFY":
        return PolicyVerified(policy_number=number, **common)
    effective = _instant(note, "EffectiveDtTm", what)
    if kind == "CANCEL":
        reason = _optional_text(note, "ReasonDesc")
        return PolicyCancelled(
            policy_number=number, effective_at=effective, reason=reason, **common
        )
    if kind == "REINSTATE":
        return PolicyReinstated(policy_number=number, effective_at=effective, **common)
    if kind == "LAPSE":
        return PolicyLapsed(policy_number=number, effective_at=effective, **common)
    if kind == "RENEW":
        expires = _instant(note, "ExpirationDtTm", what)
        return PolicyRenewed(
            policy_number=number, effective_at=effective, expires_at=expires, **common
        )
    raise MalformedResponse(f"{what}: unsupported NotificationTypeCd {kind!r}")


class AcordAdapter:
    """Adapter for partners speaking ACORD-style XML."""

    signature_scheme: SignatureScheme = "hex-hmac-sha256"
    secret_headers: frozenset[str] = frozenset({"authorization"})

    def __init__(self, provider_id: str, settings: ProviderSettings) -> None:
        self.provider_id = provider_id
        self.insurer_name = settings.insurer_name or "Acorn Casualty Company"
        self.appetite = settings.appetite or ACORD_APPETITE

    def _headers(self, settings: ProviderSettings) -> dict[str, str]:
        credentials = base64.b64encode(settings.api_key.encode()).decode("ascii")
        return {
            "Authorization": f"Basic {credentials}",
            "Content-Type": "application/xml; charset=utf-8",
            "Accept": "application/xml",
        }

    def quote_call(self, request: QuoteRequest, settings: ProviderSettings) -> HttpCall:
        seller, cover = request.seller, request.cover
        ccy = cover.per_occurrence.currency
        root, service = _document(request.request_id)
        inquiry = _add(service, "GeneralLiabilityPolicyQuoteInqRq")
        insured = _add(inquiry, "InsuredOrPrincipal")
        _add(_add(insured, "ItemIdInfo"), "AgencyId", seller.seller_id)
        name = _add(_add(_add(insured, "GeneralPartyInfo"), "NameInfo"), "CommlName")
        _add(name, "CommercialName", seller.legal_name)
        business = _add(_add(insured, "InsuredOrPrincipalInfo"), "BusinessInfo")
        _add(business, "BusinessModelCd", seller.business_model)
        _add(business, "NumYrsInBusiness", seller.years_in_business)
        _amount(
            business, "AnnualSalesAmt", seller.annual_sales.amount, seller.annual_sales.currency
        )
        for country in seller.manufacturing_countries:
            _add(business, "ManufacturingCountryCd", country)
        policy = _add(inquiry, "CommlPolicy")
        _add(policy, "MarketplaceCd", seller.marketplace)
        term = _add(policy, "ContractTerm")
        _add(term, "EffectiveDt", cover.effective_date.isoformat())
        duration = _add(term, "DurationPeriod")
        _add(duration, "NumUnits", cover.term_months)
        _add(duration, "UnitMeasurementCd", "MON")
        line = _add(inquiry, "GeneralLiabilityLineBusiness")
        _add(line, "LOBCd", "CGL")
        liability = _add(line, "LiabilityInfo")
        _coverage(liability, "EAOCC", cover.per_occurrence.amount, ccy)
        _coverage(liability, "GENAG", cover.aggregate.amount, ccy)
        _amount(liability, "MaxDeductibleAmt", cover.max_deductible.amount, ccy)
        for share in seller.categories:
            classification = _add(line, "GeneralLiabilityClassification")
            _add(classification, "ClassCd", share.category)
            _add(classification, "ExposurePct", share.revenue_share * 100)
        # ACORD's convention for data the standard has no element for: com.<company>_<Name>.
        _add(line, "com.accelerator_RiskScore", seller.risk_score)
        _add(line, "com.accelerator_RiskTier", seller.risk_tier)
        if (required := request.additional_insured) is not None:
            # The endorsement the marketplace requires, asked for as in a bind's interest.
            interest = _add(inquiry, "AdditionalInterest")
            _add(interest, "NatureInterestCd", "AI")
            _add(interest, "Name", required.name)
            _add(interest, "Wording", required.wording)
        return HttpCall("POST", "/acord/quote", self._headers(settings), _serialize(root))

    def parse_quote(self, request: QuoteRequest, reply: HttpReply) -> QuoteResult:
        what = "acord quote"
        require_status(reply.status, _OK, what)
        root = _parse(reply.body, what)
        response = _find(root, "InsuranceSvcRs/GeneralLiabilityPolicyQuoteInqRs", what)
        status, code, description = _status(response, what)
        if status == "Rejected":
            return Declined(code or "declined", description)
        if status == "Referred":
            return Referred(description)
        if status != "Success":
            raise MalformedResponse(f"{what}: unknown MsgStatusCd {status!r}")
        quotes = response.findall("PolicyQuote")
        if not quotes:
            raise MalformedResponse(f"{what}: Success without a PolicyQuote")
        return Offered([_offer(self.provider_id, quote) for quote in quotes])

    def poll_call(self, quote_reference: str, settings: ProviderSettings) -> HttpCall | None:
        return None  # synchronous: there is nothing to poll

    def bind_call(self, offer: Offer, bind: BindRequest, settings: ProviderSettings) -> HttpCall:
        root, service = _document(bind.request_id)
        add = _add(service, "GeneralLiabilityPolicyAddRq")
        _add(add, "CompanysQuoteNumber", offer.quote_reference)
        _add(add, "InsuredId", bind.seller_id)
        _add(add, "NamedInsured", bind.named_insured)
        interest = _add(add, "AdditionalInterest")
        _add(interest, "NatureInterestCd", "AI")
        _add(interest, "Name", bind.additional_insured_name)
        return HttpCall("POST", "/acord/bind", self._headers(settings), _serialize(root))

    def parse_bind(self, offer: Offer, reply: HttpReply) -> BindResult:
        what = "acord bind"
        require_status(reply.status, _OK, what)
        root = _parse(reply.body, what)
        response = _find(root, "InsuranceSvcRs/GeneralLiabilityPolicyAddRs", what)
        status, code, description = _status(response, what)
        if status == "Rejected":
            return BindRefused(code or "bind_refused", description)
        if status != "Success":
            raise MalformedResponse(f"{what}: unknown MsgStatusCd {status!r}")
        return Bound(build_policy(_policy(_find(response, "Policy", what)), what))

    def parse_events(self, body: bytes, headers: Mapping[str, str]) -> Sequence[InsurerEvent]:
        """Every ``PolicyNotificationRq`` in one ACORD document, in document order."""
        root = _parse(body, "acord notification")
        notes = root.findall("PolicyNotificationRq")
        if not notes:
            raise MalformedResponse("acord notification: no PolicyNotificationRq")
        return [_notification(note) for note in notes]
