"""What the API answers: filters, the trace, acknowledgements, rule versions with history and
validation, boundaries, expected ATP, token authentication, throttling."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from inventory_hub.core import roles
from inventory_hub.inventory.models import PoolBoundaryEntry
from inventory_hub.observations.models import InventoryPosition
from inventory_hub.reconciliation.models import Discrepancy
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(db):
    def make(role=roles.FULFILLMENT_MANAGER):
        client = APIClient()
        client.force_authenticate(UserFactory(username=f"api-{role.split()[0].lower()}", role=role))
        return client

    return make


def test_positions_filter_by_location_sku_and_system(api, retailer):
    response = api().get(
        reverse("api:position-list"), {"location": retailer["location"].pk, "sku": "SKU-1", "system": "storefront"}
    )

    assert response.status_code == 200
    (position,) = response.json()["results"]
    assert (position["system"], position["location_code"], position["available"]) == ("storefront", "FC-1", 32)


def test_positions_page_with_a_cursor_that_survives_new_rows(api, retailer):
    client = api()
    first = client.get(reverse("api:position-list"), {"page_size": 2}).json()
    InventoryPosition.objects.create(
        connector=retailer["connectors"]["wms"], location=retailer["location"], sku="SKU-NEW", on_hand=1,
        available=1, observed_at=retailer["discrepancy"].opened_at, changed_at=retailer["discrepancy"].opened_at,
    )  # fmt: skip
    second = client.get(first["next"]).json()

    seen = [p["id"] for p in first["results"] + second["results"]]
    assert len(seen) == len(set(seen)) == 3  # every original row once, none repeated by the insert


def test_bad_filter_value_is_a_clear_400(api, retailer):
    response = api().get(reverse("api:discrepancy-list"), {"classification": "bogus"})

    assert response.status_code == 400
    assert "classification" in response.json()


def test_oversell_detail_carries_its_trace(api, retailer):
    response = api().get(reverse("api:oversell-detail", args=[retailer["oversell"].pk]))

    body = response.json()
    assert (body["root_cause"], body["shortfall"]) == ("sync_window_erp_storefront", 5)
    assert [step["kind"] for step in body["steps"]] == ["order"]


def test_manager_acknowledges_a_discrepancy_with_a_note(api, retailer):
    url = reverse("api:discrepancy-acknowledge", args=[retailer["discrepancy"].pk])

    empty = api().post(url, {"note": "  "}, format="json")
    done = api().post(url, {"note": "Storefront sync stuck; ticket raised"}, format="json")

    assert empty.status_code == 400
    assert "note" in empty.json()
    assert done.status_code == 200
    assert done.json()["acknowledgement_note"] == "Storefront sync stuck; ticket raised"
    assert Discrepancy.objects.get().acknowledged_by.username == "api-fulfillment"


def test_ops_lead_adds_a_rule_version_and_it_shows_in_the_history(api, retailer):
    url = reverse("api:allocation-rule-versions", args=[retailer["rule"].pk])

    response = api(roles.OPS_LEAD).post(
        url, {"safety_stock": 6, "channel_share_percent": 80, "reason": "Shrinkage at FC-1"}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    assert body["current"]["safety_stock"] == 6
    assert body["current"]["author_name"] == "api-ops"
    assert [v["number"] for v in body["versions"]] == [2, 1]
    assert body["versions"][0]["reason"] == "Shrinkage at FC-1"


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"safety_stock": -1, "channel_share_percent": 80, "reason": "x"}, "safety_stock"),
        ({"safety_stock": 1, "channel_share_percent": 180, "reason": "x"}, "channel_share_percent"),
        ({"safety_stock": 9, "channel_share_percent": 80, "reason": " "}, "reason"),
        ({"safety_stock": 3, "channel_share_percent": 80, "reason": "same"}, "non_field_errors"),
    ],
)
def test_an_impossible_rule_is_refused_with_the_field_and_nothing_saved(api, retailer, values, field):
    response = api(roles.OPS_LEAD).post(
        reverse("api:allocation-rule-versions", args=[retailer["rule"].pk]), values, format="json"
    )

    assert response.status_code == 400
    assert field in response.json()
    assert retailer["rule"].versions.count() == 1


def test_writing_a_boundary_replaces_its_entries_and_records_who(api, retailer):
    url = reverse("api:pool-boundary-detail", args=[retailer["boundary"].pk])
    entries = [
        {"external_location_id": "WH-1", "bin": "", "included": True},
        {"external_location_id": "WH-1", "bin": "QUARANTINE", "included": False},
    ]

    response = api(roles.OPS_LEAD).patch(url, {"entries": entries}, format="json")

    assert response.status_code == 200, response.json()
    assert set(PoolBoundaryEntry.objects.values_list("bin", "included")) == {("", True), ("QUARANTINE", False)}
    assert response.json()["updated_by"] == "api-ops"


def test_a_boundary_listing_a_bin_twice_is_refused(api, retailer):
    url = reverse("api:pool-boundary-detail", args=[retailer["boundary"].pk])
    twice = [{"external_location_id": "WH-1", "bin": "A"}, {"external_location_id": "WH-1", "bin": "A"}]

    response = api(roles.OPS_LEAD).patch(url, {"entries": twice}, format="json")

    assert response.status_code == 400
    assert "listed twice" in str(response.json()["entries"])


def test_expected_atp_applies_the_rule_in_force_to_wms_truth(api, retailer):
    response = api().get(reverse("api:expected-atp"), {"location": retailer["location"].pk, "sku": "SKU-1"})

    (row,) = response.json()["results"]
    # WMS comparable 30 − 5 = 25; rule: safety stock 3, share 80 % → floor(22 × 0.8) = 17.
    assert (row["pool_code"], row["wms_comparable"], row["expected_atp"]) == ("WEB-FC", 25, 17)


def test_expected_atp_needs_a_location(api, retailer):
    response = api().get(reverse("api:expected-atp"))

    assert response.status_code == 400
    assert "location" in response.json()


def test_hop_lags_window_out_of_range_is_refused(api, retailer):
    response = api().get(reverse("api:hop-lags"), {"hours": 0})

    assert response.status_code == 400
    assert "hours" in response.json()


def test_a_token_from_username_and_password_authenticates_api_calls(retailer):
    user = UserFactory(username="tool", role=roles.FULFILLMENT_MANAGER)
    user.set_password("a-long-tool-password-2026")
    user.save()
    client = APIClient()

    issued = client.post(
        reverse("api:token"), {"username": "tool", "password": "a-long-tool-password-2026"}, format="json"
    )
    client.credentials(HTTP_AUTHORIZATION=f"Token {issued.json()['token']}")

    assert issued.status_code == 200
    assert client.get(reverse("api:location-list")).status_code == 200
    assert Token.objects.filter(user=user).exists()


def test_anonymous_calls_get_401_with_a_token_challenge(retailer):
    response = APIClient().get(reverse("api:location-list"))

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_too_many_calls_are_throttled_with_429(api, retailer, monkeypatch):
    # The rates are read into the throttle class at import, so the test sets them there.
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": "2/minute", "user": "2/minute"})
    client = api()

    statuses = [client.get(reverse("api:location-list")).status_code for _ in range(3)]

    assert statuses == [200, 200, 429]


def test_deleting_a_pool_that_still_has_rules_is_a_409_and_keeps_it(api, retailer):
    pool = retailer["pool"]

    response = api(roles.OPS_LEAD).delete(reverse("api:pool-detail", args=[pool.pk]))

    assert response.status_code == 409
    assert "rules" in response.json()["detail"]
    assert type(pool).objects.filter(pk=pool.pk).exists()


def test_a_body_that_is_not_json_or_a_value_of_the_wrong_type_is_a_400_or_415(api, retailer):
    client = api(roles.OPS_LEAD)
    url = reverse("api:allocation-rule-versions", args=[retailer["rule"].pk])
    form = client.post(url, {"safety_stock": "1", "reason": "form"})  # multipart: not what the schema says
    text_number = client.post(url, {"safety_stock": "1", "reason": "typed"}, format="json")

    assert form.status_code == 415
    assert text_number.status_code == 400
    assert "safety_stock" in text_number.json()
    assert retailer["rule"].versions.count() == 1


@pytest.mark.parametrize("page_size", ["x", "0"])
def test_a_page_size_that_is_no_positive_number_is_a_400(api, retailer, page_size):
    response = api().get(reverse("api:position-list"), {"page_size": page_size})

    assert response.status_code == 400
