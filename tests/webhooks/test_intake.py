"""Webhook intake: signatures, raw storage, duplicates, stale and out-of-order deliveries, bad bodies."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import re
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from inventory_hub.connectors.models import PollRun
from inventory_hub.webhooks import services, verify
from inventory_hub.webhooks.models import WebhookDelivery
from tests.factories import ConnectorFactory, PollRunFactory

pytestmark = pytest.mark.django_db

SECRET = "shpss_current_secret"  # noqa: S105
OLD_SECRET = "shpss_previous_secret"  # noqa: S105
LEVEL = {
    "inventory_item_id": 271878346596884015,
    "location_id": 24826418,
    "available": 10,
    "updated_at": "2026-11-28T10:15:02-04:00",
    "admin_graphql_api_id": "gid://shopify/InventoryLevel/24826418?inventory_item_id=271878346596884015",
}


def sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@pytest.fixture
def shopify(db):
    return ConnectorFactory(
        name="Shop", role="storefront", adapter="shopify", credentials={"access_token": "x", verify.SECRET: SECRET}
    )


@pytest.fixture
def shiphero(db):
    return ConnectorFactory(name="WMS", role="wms", adapter="shiphero", credentials={verify.SECRET: SECRET})


@pytest.fixture
def sent(monkeypatch):
    """The apply tasks enqueued (by delivery id), instead of a broker."""
    tasks: list[int] = []
    monkeypatch.setattr(services.current_app, "send_task", lambda name, args: tasks.append(args[0]))
    return tasks


def deliver(client, connector, body: bytes, *, signature=None, topic="inventory_levels/update", webhook_id="w-1",
            event_id="e-1", triggered_at=None, django_capture_on_commit_callbacks=None):  # fmt: skip
    headers = {
        "X-Shopify-Topic": topic,
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-Event-Id": event_id,
        "X-Shopify-Triggered-At": triggered_at or timezone.now().isoformat(),
    }
    if signature is not False:
        headers["X-Shopify-Hmac-Sha256"] = signature or sign(body)
    url = reverse("webhooks:receive", args=[connector.adapter, connector.pk])
    return client.post(url, data=body, content_type="application/json", headers=headers)


def body_of(payload) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def test_a_signed_delivery_is_stored_raw_acknowledged_and_a_poll_enqueued(
    client, shopify, sent, django_capture_on_commit_callbacks
):
    body = body_of(LEVEL)

    with django_capture_on_commit_callbacks(execute=True):
        response = deliver(client, shopify, body)

    assert response.status_code == 200
    stored = WebhookDelivery.objects.get()
    assert (stored.status, stored.topic, bytes(stored.body)) == ("received", "inventory_levels/update", body)
    assert sent == [stored.pk]


@pytest.mark.parametrize(
    ("case", "mutate"),
    [
        ("one byte changed", lambda body, sig: (body[:-2] + b"1}", sig)),
        ("wrong secret", lambda body, sig: (body, sign(body, "not-the-secret"))),
        ("hex instead of base64", lambda body, sig: (body, base64.b64decode(sig).hex())),
        ("re-serialised JSON", lambda body, sig: (json.dumps(json.loads(body), indent=1).encode(), sig)),
        ("truncated signature", lambda body, sig: (body, sig[:-4])),
    ],
)
def test_an_unverified_delivery_is_refused_401_kept_and_nothing_applied(
    client, shopify, sent, django_capture_on_commit_callbacks, case, mutate
):
    original = body_of(LEVEL)
    body, signature = mutate(original, sign(original))

    with django_capture_on_commit_callbacks(execute=True):
        response = deliver(client, shopify, body, signature=signature)

    assert response.status_code == 401
    assert WebhookDelivery.objects.get().status == "rejected"
    assert sent == []


def test_a_delivery_without_the_signature_header_is_refused(client, shopify, sent):
    response = deliver(client, shopify, body_of(LEVEL), signature=False)

    assert response.status_code == 401
    assert "no signature header" in WebhookDelivery.objects.get().reason


def test_the_previous_secret_verifies_only_during_the_rotation_overlap(client, shopify, sent, settings):
    settings.WEBHOOK_SECRET_OVERLAP_MINUTES = 60
    body = body_of(LEVEL)
    shopify.credentials = {
        verify.SECRET: SECRET,
        verify.PREVIOUS_SECRET: OLD_SECRET,
        verify.ROTATED_AT: (timezone.now() - dt.timedelta(minutes=30)).isoformat(),
    }
    shopify.save()
    within = deliver(client, shopify, body, signature=sign(body, OLD_SECRET), webhook_id="a", event_id="a")
    shopify.credentials[verify.ROTATED_AT] = (timezone.now() - dt.timedelta(minutes=90)).isoformat()
    shopify.save()
    after = deliver(client, shopify, body, signature=sign(body, OLD_SECRET), webhook_id="b", event_id="b")

    assert (within.status_code, after.status_code) == (200, 401)


def test_a_replayed_delivery_is_stored_each_time_and_applied_once(
    client, shopify, sent, django_capture_on_commit_callbacks
):
    body = body_of(LEVEL)

    with django_capture_on_commit_callbacks(execute=True):
        statuses = [deliver(client, shopify, body).status_code for _ in range(5)]
        # The same event under a new delivery id (Shopify's own retry) is a duplicate too.
        statuses.append(deliver(client, shopify, body, webhook_id="w-2").status_code)

    assert statuses == [200] * 6  # a non-2xx on a duplicate would only bring more retries
    assert sorted(WebhookDelivery.objects.values_list("status", flat=True)) == ["duplicate"] * 5 + ["received"]
    assert len(sent) == 1


def test_a_delivery_older_than_a_finished_poll_is_stored_as_stale_and_not_applied(
    client, shopify, sent, django_capture_on_commit_callbacks
):
    triggered = timezone.now() - dt.timedelta(minutes=10)
    started = triggered + dt.timedelta(minutes=5)
    run = PollRunFactory(
        connector=shopify, status="succeeded", started_at=started, finished_at=started + dt.timedelta(seconds=5)
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = deliver(client, shopify, body_of(LEVEL), triggered_at=triggered.isoformat())

    stored = WebhookDelivery.objects.get()
    assert response.status_code == 200
    assert (stored.status, stored.poll_run) == ("stale", run)
    assert sent == []


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"{not json", "Not JSON"),
        (b"[1, 2]", "Not a JSON object"),
        (b'{"inventory_item_id": 1, "location_id": 2, "available": "abc"}', "available"),
        (b'{"inventory_item_id": 1, "location_id": 2, "available": 9223372036854775808}', "available"),
        (b'{"inventory_item_id": -1, "location_id": 2, "available": 1}', "inventory_item_id"),
        (b'{"inventory_item_id": 1, "location_id": 2, "available": 1, "x": "\\u0000"}', None),
    ],
)
def test_garbage_is_a_clear_400_and_the_raw_body_is_kept(client, shopify, sent, body, why):
    response = deliver(client, shopify, body)

    stored = WebhookDelivery.objects.get()
    if why is None:  # a NUL inside a string is still valid JSON: stored as received
        assert response.status_code == 200
        return
    assert response.status_code == 400
    assert stored.status == "rejected"
    assert why in stored.reason
    assert bytes(stored.body) == body


def test_an_oversized_body_is_refused_with_400(client, shopify, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    body = b'{"x": "' + b"a" * (3 * 1024 * 1024) + b'"}'

    response = deliver(client, shopify, body)

    assert response.status_code == 400


def test_a_topic_the_hub_does_not_use_is_acknowledged_and_ignored(client, shopify, sent):
    response = deliver(client, shopify, body_of({"id": 5}), topic="products/update")

    assert response.status_code == 200
    assert WebhookDelivery.objects.get().status == "ignored"
    assert sent == []


def test_shiphero_inventory_update_is_acknowledged_as_shiphero_expects(client, shiphero, sent):
    body = body_of(
        {"webhook_type": "Inventory Update", "account_id": 63898, "inventory": [{"sku": "TEE", "on_hand": "48"}]}
    )
    url = reverse("webhooks:receive", args=["shiphero", shiphero.pk])

    response = client.post(
        url, data=body, content_type="application/json", headers={"X-ShipHero-HMAC-SHA256": sign(body)}
    )
    again = client.post(url, data=body, content_type="application/json", headers={"X-ShipHero-HMAC-SHA256": sign(body)})

    assert response.json() == {"code": "200", "Status": "Success"}
    assert again.status_code == 200
    assert list(WebhookDelivery.objects.order_by("pk").values_list("status", flat=True)) == ["received", "duplicate"]


def test_an_unknown_connector_or_product_mismatch_is_404(client, shopify):
    url = reverse("webhooks:receive", args=["shiphero", shopify.pk])

    assert client.post(url, data=b"{}", content_type="application/json").status_code == 404


def test_a_poll_after_the_delivery_marks_every_delivery_it_covers_applied(shopify, monkeypatch):
    received = timezone.now()
    first, second = (
        WebhookDelivery.objects.create(
            connector=shopify, delivery_id=f"d{n}", received_at=received, body=b"{}", status="received"
        )
        for n in range(2)
    )
    polls = []

    def poll(*, connector_id, trigger):
        polls.append(trigger)
        return PollRunFactory(
            connector_id=connector_id, status="succeeded", trigger=trigger,
            started_at=received + dt.timedelta(seconds=1), finished_at=received + dt.timedelta(seconds=2),
        )  # fmt: skip

    monkeypatch.setattr("inventory_hub.observations.services.connector_poll", poll)

    run = services.delivery_apply(delivery_id=first.pk)
    again = services.delivery_apply(delivery_id=second.pk)  # a burst: the one poll covered both

    assert polls == [PollRun.Trigger.WEBHOOK]
    assert again is None
    assert set(WebhookDelivery.objects.values_list("status", "poll_run")) == {("applied", run.pk)}


def test_a_busy_connector_makes_the_task_try_again(shopify, monkeypatch):
    delivery = WebhookDelivery.objects.create(
        connector=shopify, delivery_id="d", received_at=timezone.now(), body=b"{}", status="received"
    )
    monkeypatch.setattr("inventory_hub.observations.services.connector_poll", lambda **kwargs: None)

    with pytest.raises(services.PollBusyError):
        services.delivery_apply(delivery_id=delivery.pk)
    assert WebhookDelivery.objects.get().status == "received"


@settings(max_examples=200, deadline=None)
@given(body=st.binary(min_size=1, max_size=200), position=st.integers(min_value=0), bit=st.integers(0, 7))
def test_any_single_bit_flip_fails_verification(body, position, bit):
    flipped = bytearray(body)
    flipped[position % len(body)] ^= 1 << bit

    assert verify.signature_valid(body=body, header=verify.signature(SECRET, body), secret=SECRET)
    assert not verify.signature_valid(body=bytes(flipped), header=verify.signature(SECRET, body), secret=SECRET)


def test_no_secret_is_compared_with_equality_operators():
    # Signatures, HMACs and tokens are compared with hmac.compare_digest only (timing-safe), in
    # every module that handles secrets (elsewhere "signature" names non-secret things).
    pattern = re.compile(r"\b\w*(hmac|signature|token)\w*\s*[!=]=", re.IGNORECASE)
    root = Path(__file__).resolve().parents[2] / "inventory_hub"
    modules = [p for package in ("webhooks", "connectors", "core", "api") for p in (root / package).rglob("*.py")]
    offenders = [
        f"{path.relative_to(root)}:{number}"
        for path in modules
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line) and "compare_digest" not in line
    ]

    assert offenders == []


def test_purge_drops_settled_deliveries_past_the_keep_period_and_never_one_waiting_for_its_poll(shopify):
    now = timezone.now()

    def delivery(status: str, days_old: float, n: int) -> WebhookDelivery:
        return WebhookDelivery.objects.create(
            connector=shopify,
            topic="inventory_levels/update",
            delivery_id=f"d-{n}",
            event_id=f"e-{n}",
            body=b"{}",
            received_at=now - dt.timedelta(days=days_old),
            status=status,
        )

    old_settled = [delivery(status, 31, n) for n, status in enumerate(services.PURGEABLE)]
    old_waiting = delivery(WebhookDelivery.Status.RECEIVED, 40, 90)
    recent = delivery(WebhookDelivery.Status.APPLIED, 29, 91)

    removed = services.deliveries_purge(older_than=dt.timedelta(days=30), now=now, batch=2)

    assert removed == len(old_settled)
    assert set(WebhookDelivery.objects.values_list("pk", flat=True)) == {old_waiting.pk, recent.pk}
    assert services.deliveries_purge(older_than=dt.timedelta(days=30), now=now) == 0
