from __future__ import annotations

import json

import pytest

from inventory_hub.sandbox.scenario import ScenarioError, load_scenario, scenario_names, scenario_parse

MINIMAL = {
    "name": "tiny",
    "skus": {"count": 3},
    "locations": [{"code": "S1", "name": "Store 1"}],
    "channels": [{"code": "web", "name": "Web", "orders_per_hour": 2}],
}


def test_three_named_scenarios_ship_with_the_sandbox():
    assert {"two-stores-and-an-fc", "twenty-locations", "stressed"} <= set(scenario_names())


def test_the_twenty_location_scenario_generates_its_locations():
    scenario = load_scenario("twenty-locations")

    assert len(scenario.locations) == 20
    assert [loc.kind for loc in scenario.locations].count("fulfillment_center") == 2


def test_a_scenario_file_in_the_documented_format_loads(tmp_path):
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(MINIMAL))

    scenario = load_scenario(str(path))

    assert (scenario.name, scenario.sku_count, scenario.locations[0].code) == ("tiny", 3, "S1")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param({"skus": {}}, "skus.count is required", id="missing_sku_count"),
        pytest.param(
            {"locations": [{"code": "S1", "name": "S", "time_zone": "Mars/Base"}]},
            "time_zone 'Mars/Base'",
            id="bad_zone",
        ),
        pytest.param(
            {"channels": [{"code": "w", "name": "W", "orders_per_hour": 1, "locations": ["NOPE"]}]},
            "unknown locations ['NOPE']",
            id="unknown_location",
        ),
        pytest.param(
            {"location_defaults": {"erp": {"failure_rate": 2}}}, "failure_rate is a probability", id="bad_rate"
        ),
        pytest.param(
            {"locations": [{"code": "S1", "name": "S", "rates_per_hour": {"teleport": 1}}]},
            "unknown kinds ['teleport']",
            id="bad_kind",
        ),
        pytest.param({"start": "yesterday"}, "scenario.start 'yesterday'", id="bad_start"),
    ],
)
def test_a_malformed_scenario_is_refused_naming_the_field(change, message):
    with pytest.raises(ScenarioError, match=message.replace("[", r"\[").replace("]", r"\]")):
        scenario_parse({**MINIMAL, **change})


def test_an_unknown_scenario_name_lists_the_known_ones():
    with pytest.raises(ScenarioError, match="two-stores-and-an-fc"):
        load_scenario("no-such-scenario")
