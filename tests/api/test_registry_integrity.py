"""Every fact about a policy can enter the registry, from its insurer or an operator, in the
world's order; and a seller who writes someone else's policy number into a certificate can
neither block that policy nor learn anything about it."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from sqlalchemy import func, select

from accelerator.auth.principal import Principal, Role
from accelerator.coverage import repository
from accelerator.coverage.linking import insurer_key
from accelerator.coverage.models import PolicyEventRow
from accelerator.errors import Conflict
from accelerator.infra.database import Database
from accelerator.server import runtime_of
from accelerator.settings import Settings
from accelerator.webhooks.models import InboxEvent
from accelerator.webhooks.worker import InboxWorker
from schemas import CertificateSubmission, PolicyLinkBody, PolicySource
from tests.api.conftest import Client, Headers, power_bank_body
from tests.api.policies import bind_policy, certificate, claim, la_today, us_terms
from tests.webhooks.callbacks import NEW_SECRET, signed_headers

pytestmark = pytest.mark.anyio

HARBOR = "Harbor Mutual Insurance Co."  # as a seller writes it; configured as "... Company"
NUMBER = "HMI-GL-2026-004242"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    providers = {"harbor": {"base_url": "http://harbor.invalid", "callback_secrets": [NEW_SECRET]}}
    # The tests run the worker themselves, so what they assert does not race a background one.
    return msgspec.structs.replace(settings, providers=providers, inbox_worker="external")


@pytest.fixture
async def worker(client: Client, app: Litestar, database: Database) -> InboxWorker:
    return InboxWorker(database, runtime_of(app).services.partners, owner="test-worker")


async def submit(
    client: Client, headers: Headers, seller_id: str = "s-1", **changes: Any
) -> dict[str, Any]:
    body = certificate(**{"insurer_name": HARBOR, "policy_number": NUMBER, **changes})
    response = await client.post(f"/v1/sellers/{seller_id}/policies", json=body, headers=headers)
    assert response.status_code == 201, response.text
    document: dict[str, Any] = response.json()
    return document


async def harbor_says(
    client: Client, worker: InboxWorker, kind: str, *, occurred_at: datetime, **data: Any
) -> None:
    """Harbor's signed notice about NUMBER, received and applied."""
    body = json.dumps(
        {
            "id": f"evt_{uuid.uuid4().hex[:12]}",
            "kind": kind,
            "occurred_at": occurred_at.isoformat(),
            "data": {"policy_number": NUMBER, **data},
        }
    ).encode()
    response = await client.post(
        "/v1/webhooks/insurers/harbor", content=body, headers=signed_headers(body)
    )
    assert response.status_code == 200, response.text
    await worker.run_until_idle()


async def decision(client: Client, headers: Headers, **changes: Any) -> tuple[str, list[str]]:
    response = await client.post("/v1/coverage/checks", json=claim(**changes), headers=headers)
    assert response.status_code == 200, response.text
    answer = response.json()
    return answer["decision"], [reason["code"] for reason in answer["reasons"]]


async def inbox_statuses(database: Database) -> list[str]:
    async with database.reading() as session:
        return list(await session.scalars(select(InboxEvent.status).order_by(InboxEvent.id)))


async def event_count(database: Database) -> int:
    async with database.reading() as session:
        return int(await session.scalar(select(func.count()).select_from(PolicyEventRow)) or 0)


INCIDENT = datetime.now(UTC) - timedelta(days=10)
CANCELLED_FROM = INCIDENT - timedelta(days=5)


async def test_a_submitted_policy_is_verified_cancelled_and_reinstated_by_its_insurers_webhooks(
    client: Client,
    worker: InboxWorker,
    seller_headers: Headers,
    claims_headers: Headers,
    admin_headers: Headers,
    profiled_seller: dict[str, Any],
) -> None:
    policy = await submit(client, seller_headers)
    linked = (await client.get(f"/v1/admin/policies/{policy['id']}", headers=admin_headers)).json()
    assert (linked["provider_id"], linked["review_reason"]) == ("harbor", None)
    assert await decision(client, claims_headers) == ("not_exempt", ["policy_unverified"])

    await harbor_says(client, worker, "policy_verified", occurred_at=datetime.now(UTC))
    assert await decision(client, claims_headers) == ("exempt", [])

    before_cancellation = datetime.now(UTC)
    await harbor_says(
        client,
        worker,
        "policy_cancelled",
        occurred_at=datetime.now(UTC),
        effective_at=CANCELLED_FROM.isoformat(),
        reason="non-payment",
    )
    assert await decision(client, claims_headers) == ("not_exempt", ["policy_cancelled"])
    # The claims engine's earlier answer is reproduced as it was known then.
    assert await decision(client, claims_headers, known_at=before_cancellation.isoformat()) == (
        "exempt",
        [],
    )

    await harbor_says(
        client,
        worker,
        "policy_reinstated",
        occurred_at=datetime.now(UTC) + timedelta(seconds=1),
        effective_at=CANCELLED_FROM.isoformat(),  # with no gap
    )
    assert await decision(client, claims_headers) == ("exempt", [])
    assert await inbox_statuses(worker.db) == ["applied"] * 3
    document = (await client.get(f"/v1/policies/{policy['id']}", headers=seller_headers)).json()
    told = [e for e in document["events"] if e["recorded_by"] == "insurer:harbor"]
    assert [e["kind"] for e in told] == ["cancelled", "reinstated", "verified"]
    assert all(e["occurred_at"] for e in told)


@pytest.mark.parametrize("arrival", ["cancellation-first", "reinstatement-first"])
async def test_a_cancellation_and_a_reinstatement_at_one_instant_decide_alike_in_either_arrival(
    client: Client,
    worker: InboxWorker,
    seller_headers: Headers,
    claims_headers: Headers,
    profiled_seller: dict[str, Any],
    arrival: str,
) -> None:
    await submit(client, seller_headers)
    await harbor_says(client, worker, "policy_verified", occurred_at=datetime.now(UTC))
    at = CANCELLED_FROM.isoformat()
    notices = [
        ("policy_cancelled", CANCELLED_FROM + timedelta(hours=1)),
        ("policy_reinstated", CANCELLED_FROM + timedelta(hours=2)),  # the insurer's order
    ]
    if arrival == "reinstatement-first":
        notices.reverse()
    for kind, occurred_at in notices:
        await harbor_says(client, worker, kind, occurred_at=occurred_at, effective_at=at)
    assert await decision(client, claims_headers) == ("exempt", [])


async def test_an_operator_records_lifecycle_facts_with_reason_evidence_and_key(
    client: Client,
    seller_headers: Headers,
    claims_headers: Headers,
    admin_headers: Headers,
    profiled_seller: dict[str, Any],
) -> None:
    # An insurer no partner speaks for: only an operator can record what happens to it.
    policy = await submit(client, seller_headers, insurer_name="Acme Underwriters")
    url = f"/v1/admin/policies/{policy['id']}/events"
    evidence = {"reason": "Insurer confirmed by phone", "evidence_reference": "OPS-7"}
    view = await client.post(url, json={"kind": "verified", **evidence}, headers=admin_headers)
    assert view.status_code == 201, view.text
    assert view.json()["provider_id"] is None
    assert await decision(client, claims_headers) == ("exempt", [])

    before = datetime.now(UTC)
    cancelled = {
        "kind": "cancelled",
        "effective_at": CANCELLED_FROM.isoformat(),
        "reason": "Cancelled for non-payment",
        "evidence_reference": "OPS-8: insurer's letter",
    }
    assert (await client.post(url, json=cancelled, headers=admin_headers)).status_code == 201
    assert await decision(client, claims_headers) == ("not_exempt", ["policy_cancelled"])
    assert await decision(client, claims_headers, known_at=before.isoformat()) == ("exempt", [])

    reinstated = {**cancelled, "kind": "reinstated", "reason": "Paid", "evidence_reference": "9"}
    answer = await client.post(url, json=reinstated, headers=admin_headers)
    assert await decision(client, claims_headers) == ("exempt", [])

    me = (await client.get("/v1/me", headers=admin_headers)).json()
    events = {e["kind"]: e for e in answer.json()["policy"]["events"]}
    assert events["cancelled"]["recorded_by"] == f"admin:{me['key_id']}"
    assert events["cancelled"]["evidence_reference"] == "OPS-8: insurer's letter"
    assert events["cancelled"]["reason"] == "Cancelled for non-payment"
    # The seller sees the same history (and no more than its own policy).
    document = (await client.get(f"/v1/policies/{policy['id']}", headers=seller_headers)).json()
    assert [e["kind"] for e in document["events"]] == [
        e["kind"] for e in answer.json()["policy"]["events"]
    ]


async def test_an_operator_links_a_policy_so_its_insurers_events_reach_it_and_unlinks_it(
    client: Client,
    worker: InboxWorker,
    seller_headers: Headers,
    claims_headers: Headers,
    admin_headers: Headers,
    profiled_seller: dict[str, Any],
) -> None:
    policy = await submit(client, seller_headers, insurer_name="Harbour Mutual (UK branch)")
    link = f"/v1/admin/policies/{policy['id']}/link"
    assert (await client.get(f"/v1/admin/policies/{policy['id']}", headers=admin_headers)).json()[
        "provider_id"
    ] is None
    linked = await client.put(
        link, json={"provider_id": "harbor", "reason": "Harbor's UK branch"}, headers=admin_headers
    )
    assert linked.status_code == 200, linked.text
    await harbor_says(client, worker, "policy_verified", occurred_at=datetime.now(UTC))
    assert await decision(client, claims_headers) == ("exempt", [])

    unlinked = await client.put(
        link, json={"provider_id": None, "reason": "Wrong insurer"}, headers=admin_headers
    )
    assert unlinked.json()["provider_id"] is None
    await harbor_says(
        client,
        worker,
        "policy_cancelled",
        occurred_at=datetime.now(UTC),
        effective_at=CANCELLED_FROM.isoformat(),
    )
    assert await inbox_statuses(worker.db) == ["applied", "parked"]  # reaches no policy now
    assert await decision(client, claims_headers) == ("exempt", [])
    kinds = [e["kind"] for e in unlinked.json()["policy"]["events"]]
    assert (kinds.count("linked"), kinds.count("unlinked")) == (1, 1)
    # Links are operators' bookkeeping: the seller's view has neither them nor their notes.
    seen = await client.get(f"/v1/policies/{policy['id']}", headers=seller_headers)
    assert {e["kind"] for e in seen.json()["events"]} == {"issued", "verified"}
    assert "Wrong insurer" not in seen.text
    # Nor the compliance status's history (a linked policy's status once failed with a 500).
    status = await client.get(
        f"/v1/sellers/{profiled_seller['seller_id']}/compliance", headers=seller_headers
    )
    assert status.status_code == 200, status.text
    assert {e["kind"] for e in status.json()["history"]} == {"issued", "verified"}


async def test_a_policy_bound_here_cannot_be_linked_elsewhere_or_unlinked(
    client: Client, database: Database, admin_headers: Headers, profiled_seller: dict[str, Any]
) -> None:
    bound = await bind_policy(database, us_terms(la_today(), la_today() + timedelta(days=365)))
    for provider in ("harbor", None):
        answer = await client.put(
            f"/v1/admin/policies/{bound}/link",
            json={"provider_id": provider, "reason": "x"},
            headers=admin_headers,
        )
        assert (answer.status_code, answer.json()["code"]) == (409, "policy_bound_here")


def fact(kind: str, **fields: Any) -> dict[str, Any]:
    return {"kind": kind, "reason": "x", "evidence_reference": "y", **fields}


LATER, EARLIER = "2027-01-01T00:00:00Z", "2026-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (fact("cancelled", effective_at=EARLIER, evidence_reference=""), "evidence_reference"),
        ({"kind": "lapsed", "effective_at": EARLIER, "evidence_reference": "y"}, "reason"),
        (fact("cancelled"), "effective_at"),
        (fact("cancelled", effective_at="2026-01-01T00:00:00"), "effective_at"),
        (fact("suspended"), "kind"),
        (fact("verified", reason=""), "reason"),
        (fact("verified", effective_at=EARLIER), "effective_at"),  # unknown for this kind
        (fact("renewed", effective_at=LATER, expires_at=EARLIER), "expires_at"),
    ],
    ids=[
        "empty-evidence", "no-reason", "no-instant", "naive-instant", "unknown-kind",
        "empty-reason", "field-of-another-kind", "renewal-backwards",
    ],
)  # fmt: skip
async def test_an_operators_fact_that_cannot_be_recorded_is_a_422_naming_the_field(
    client: Client,
    database: Database,
    seller_headers: Headers,
    admin_headers: Headers,
    profiled_seller: dict[str, Any],
    body: dict[str, Any],
    field: str,
) -> None:
    policy = await submit(client, seller_headers)
    stored = await event_count(database)
    response = await client.post(
        f"/v1/admin/policies/{policy['id']}/events", json=body, headers=admin_headers
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert field in [error["field"] for error in problem["errors"]], problem
    assert await event_count(database) == stored


async def test_operator_endpoints_refuse_other_roles_unknown_policies_and_unknown_insurers(
    client: Client,
    database: Database,
    seller_headers: Headers,
    admin_headers: Headers,
    profiled_seller: dict[str, Any],
) -> None:
    policy = await submit(client, seller_headers)
    fact = {"kind": "verified", "reason": "x", "evidence_reference": "y"}
    url = f"/v1/admin/policies/{policy['id']}"
    assert (
        await client.post(f"{url}/events", json=fact, headers=seller_headers)
    ).status_code == 403
    assert (await client.get(url, headers=seller_headers)).status_code == 403
    missing = await client.post("/v1/admin/policies/nope/events", json=fact, headers=admin_headers)
    assert (missing.status_code, missing.json()["code"]) == (404, "policy_not_found")
    unknown = await client.put(
        f"{url}/link", json={"provider_id": "nobody", "reason": "x"}, headers=admin_headers
    )
    assert unknown.status_code == 422
    [error] = unknown.json()["errors"]
    assert (error["field"], error["code"]) == ("provider_id", "unknown_provider")
    endorsed = await client.post(
        f"{url}/events",
        json={
            "kind": "endorsed",
            "effective_at": datetime.now(UTC).isoformat(),
            "policy": (await client.get(url, headers=admin_headers)).json()["policy"]["terms"]
            | {"policy_number": "OTHER-1"},
            "reason": "x",
            "evidence_reference": "y",
        },
        headers=admin_headers,
    )
    assert endorsed.status_code == 422
    assert endorsed.json()["errors"][0]["field"] == "policy.policy_number"


# --- squatting: another seller writes the insurer's numbers into certificates ---------------


async def test_a_squatters_certificates_wait_for_review_and_say_nothing_of_the_real_policy(
    client: Client,
    worker: InboxWorker,
    key_for: Any,
    seller_headers: Headers,
    claims_headers: Headers,
    admin_headers: Headers,
    profiled_seller: dict[str, Any],
) -> None:
    # The real holder submits its Harbor policy; Harbor confirms it.
    real = await submit(client, seller_headers)
    await harbor_says(client, worker, "policy_verified", occurred_at=datetime.now(UTC))
    # A squatter writes the same insurer and number into its own certificate.
    squatter = await key_for(Role.SELLER, "s-2")
    profile = power_bank_body(legal_name="Squat Trading LLC")
    assert (
        await client.put("/v1/sellers/s-2/profile", json=profile, headers=squatter)
    ).status_code == 200
    response = await client.post(
        "/v1/sellers/s-2/policies",
        json=certificate(insurer_name=HARBOR, policy_number=NUMBER, named_insured="Squat"),
        headers=squatter,
    )
    assert response.status_code == 201, response.text
    assert real["id"] not in response.text
    assert "s-1" not in response.text
    assert response.json()["verification"] == "pending_verification"
    again = await client.post(
        "/v1/sellers/s-2/policies",
        json=certificate(insurer_name=HARBOR, policy_number=NUMBER, named_insured="Squat"),
        headers=squatter,
    )
    assert again.status_code == 409  # its own duplicate, named by its own id only
    assert response.json()["id"] in again.text
    assert real["id"] not in again.text

    # Operators see it in review, with the policy it collides with; the real one is not.
    queue = (await client.get("/v1/admin/policies/in-review", headers=admin_headers)).json()
    assert [(p["policy"]["id"], p["namesakes"]) for p in queue] == [
        (response.json()["id"], [real["id"]])
    ]
    # Harbor's next notice reaches the confirmed policy, not the squatter's.
    await harbor_says(
        client,
        worker,
        "policy_cancelled",
        occurred_at=datetime.now(UTC),
        effective_at=CANCELLED_FROM.isoformat(),
    )
    assert await decision(client, claims_headers) == ("not_exempt", ["policy_cancelled"])
    squatted = (await client.get(f"/v1/policies/{response.json()['id']}", headers=squatter)).json()
    assert [e["kind"] for e in squatted["events"]] == ["issued"]


async def test_two_unconfirmed_submissions_of_one_number_both_wait_until_an_operator_decides(
    client: Client,
    worker: InboxWorker,
    key_for: Any,
    seller_headers: Headers,
    claims_headers: Headers,
    admin_headers: Headers,
    profiled_seller: dict[str, Any],
) -> None:
    squatter = await key_for(Role.SELLER, "s-2")
    assert (
        await client.put("/v1/sellers/s-2/profile", json=power_bank_body(), headers=squatter)
    ).status_code == 200
    squatted = await submit(client, squatter, seller_id="s-2")  # first, before the real one
    real = await submit(client, seller_headers)
    queue = (await client.get("/v1/admin/policies/in-review", headers=admin_headers)).json()
    assert sorted(p["policy"]["id"] for p in queue) == sorted([squatted["id"], real["id"]])

    # Harbor's confirmation cannot tell which it means: it waits, visibly, for the operator.
    await harbor_says(client, worker, "policy_verified", occurred_at=datetime.now(UTC))
    assert await inbox_statuses(worker.db) == ["parked"]
    inbox = (await client.get("/v1/admin/webhook-inbox", headers=admin_headers)).json()
    assert "review" in inbox[0]["error"]

    # The operator unlinks the squatter's and settles the real one; the notice then applies.
    for policy, provider in ((squatted, None), (real, "harbor")):
        settled = await client.put(
            f"/v1/admin/policies/{policy['id']}/link",
            json={"provider_id": provider, "reason": "Checked with Harbor"},
            headers=admin_headers,
        )
        assert settled.status_code == 200, settled.text
    assert (await client.get("/v1/admin/policies/in-review", headers=admin_headers)).json() == []
    requeued = await client.post(
        f"/v1/admin/webhook-inbox/{inbox[0]['id']}/reprocess", headers=admin_headers
    )
    assert requeued.status_code == 202, requeued.text
    await worker.run_until_idle()
    assert await inbox_statuses(worker.db) == ["applied"]
    assert await decision(client, claims_headers) == ("exempt", [])


async def test_at_start_up_submissions_naming_a_newly_configured_insurer_are_linked_unless_unlinked(
    app: Litestar, client: Client, database: Database, profiled_seller: dict[str, Any]
) -> None:
    # Two certificates recorded while no insurer was configured (or before links existed).
    ids = []
    for number in ("HMI-OLD-1", "HMI-OLD-2"):
        async with database.writing() as session:
            policy = await repository.create_policy(
                session,
                seller_id="s-1",
                terms=us_terms(
                    la_today(),
                    la_today() + timedelta(days=365),
                    policy_number=number,
                    insurer_name="Harbor Mutual Insurance Company",
                ),
                source=PolicySource.SUBMITTED,
                recorded_at=datetime.now(UTC),
                event_id=f"submitted.{number}",
            )
            ids.append(policy.id)
    # The app's configuration on the test's own Database (the app's is the client's loop's).
    admin = dataclasses.replace(runtime_of(app).services.policy_admin, db=database)
    operator = Principal(key_id="ops-1", role=Role.ADMIN)
    await admin.link(operator, ids[1], PolicyLinkBody(provider_id=None, reason="Not Harbor's"))

    assert await admin.link_submissions() == 1
    assert (await admin.view(ids[0])).provider_id == "harbor"
    assert (await admin.view(ids[1])).provider_id is None  # the operator's decision stands
    assert await admin.link_submissions() == 0


async def test_a_submission_sent_twice_at_once_is_registered_once(
    app: Litestar, database: Database, profiled_seller: dict[str, Any]
) -> None:
    # Two submissions of one policy at once (a double click): the second waits for the first
    # and sees it. (On PostgreSQL each would otherwise miss the other's uncommitted row.)
    coverage = dataclasses.replace(runtime_of(app).services.coverage, db=database)
    seller = Principal(key_id="k-1", role=Role.SELLER, seller_id="s-1")
    body = msgspec.convert(
        certificate(insurer_name=HARBOR, policy_number=NUMBER), CertificateSubmission
    )
    async with database.writing() as first:
        await repository.hold_number(first, insurer_key(HARBOR), NUMBER)
        await repository.create_policy(
            first,
            seller_id="s-1",
            terms=us_terms(
                la_today(),
                la_today() + timedelta(days=365),
                insurer_name=HARBOR,
                policy_number=NUMBER,
            ),
            source=PolicySource.SUBMITTED,
            recorded_at=datetime.now(UTC),
            event_id="submitted.first",
        )
        second = asyncio.ensure_future(coverage.submit(seller, "s-1", body))
        await asyncio.sleep(0.2)
        assert not second.done()  # it waits for the first to commit
    with pytest.raises(Conflict) as refused:
        await second
    assert refused.value.code == "policy_already_registered"
