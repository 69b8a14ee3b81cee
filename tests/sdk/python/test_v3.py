"""v3 vehicle API (docs/contract/api.md#v3). smartcar 6.19.1 has get_vehicle / Vehicle.get_signals /
Vehicle.get_signal, reading SMARTCAR_VEHICLE_API_V3_ORIGIN."""

import pytest
import smartcar
import smartcar.smartcar as sc

pytestmark = pytest.mark.feature("v3")

V3_TOKEN = "test-data-token"
V3_VEHICLE = "tst2e255-d3c8-4f90-9fec-e6e68b98e9cb"


def test_get_vehicle():
    res = sc.get_vehicle(V3_TOKEN, V3_VEHICLE)
    body = res["body"]
    assert body["id"] == V3_VEHICLE
    assert body["type"] == "vehicle"
    assert body["attributes"] == {"make": "TESLA", "model": "Model Y", "year": 2021}
    assert isinstance(body["links"]["self"], str)


def test_get_signals():
    res = smartcar.Vehicle(V3_VEHICLE, V3_TOKEN).get_signals()
    body = res["body"]
    assert body["meta"]["totalCount"] == body["meta"]["pageSize"] == len(body["data"]) == 2
    assert body["meta"]["page"] == 1
    assert body["included"]["vehicle"]["attributes"]["year"] == "2021"
    odometer = next(s for s in body["data"] if s["id"] == "odometer-traveleddistance")
    assert odometer["attributes"]["status"]["value"] == "SUCCESS"
    assert isinstance(odometer["attributes"]["body"]["value"], float)
    assert isinstance(odometer["meta"]["retrievedAt"], int)


def test_get_signal():
    res = smartcar.Vehicle(V3_VEHICLE, V3_TOKEN).get_signal("odometer-traveleddistance")
    body = res["body"]
    assert body["id"] == "odometer-traveleddistance"
    assert body["attributes"]["code"] == "odometer-traveleddistance"
    assert isinstance(body["attributes"]["body"]["unit"], str)
