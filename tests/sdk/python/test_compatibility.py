"""Compatibility API (docs/contract/compatibility.md) through get_compatibility / get_compatibility_matrix."""

import pytest
import smartcar
import smartcar.smartcar as sc
from smartcar import SmartcarException

from sdk_support import CLIENT_ID, CLIENT_SECRET, assert_uuid

pytestmark = pytest.mark.feature("compatibility")


def test_compatibility_capabilities_in_request_order():
    res = smartcar.get_compatibility("0SCGMCT0386A85356", ["read_odometer", "read_fuel"], "US")
    assert res.compatible is True
    assert res.reason is None
    assert len(res.capabilities) == 2
    odometer, fuel = res.capabilities
    assert (odometer.permission, odometer.endpoint, odometer.capable, odometer.reason) == (
        "read_odometer",
        "/odometer",
        True,
        None,
    )
    assert (fuel.permission, fuel.endpoint, fuel.capable, fuel.reason) == (
        "read_fuel",
        "/fuel",
        False,
        "VEHICLE_NOT_CAPABLE",
    )
    assert_uuid(res.meta.request_id)


def test_compatibility_with_explicit_credentials_and_flags():
    res = smartcar.get_compatibility(
        "WAUAFAFL1GN014882",
        ["read_vehicle_info"],
        options={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "flags": {"foo": "bar"}},
    )
    assert res.compatible


def test_compatibility_tesla_all_capable():
    res = smartcar.get_compatibility("5YJXCDE22HF068739", ["read_odometer", "read_location"])
    assert res.compatible is True
    assert res.reason is None
    assert [c.capable for c in res.capabilities] == [True, True]


def test_compatibility_incompatible_vehicle():
    res = smartcar.get_compatibility("WBAKE5C58DJ107700", ["read_odometer", "read_location"])
    assert res.compatible is False
    assert res.reason == "VEHICLE_NOT_COMPATIBLE"
    assert res.capabilities == []


def test_compatibility_bad_credentials():
    with pytest.raises(SmartcarException) as info:
        smartcar.get_compatibility(
            "0SCGMCT0386A85356", ["read_odometer"], options={"client_id": CLIENT_ID, "client_secret": "nope"}
        )
    assert info.value.status_code == 401
    assert info.value.type == "AUTHENTICATION"


def test_compatibility_matrix():
    # Not exported from `smartcar` itself in 6.19.1, but public in smartcar.smartcar.
    matrix = sc.get_compatibility_matrix(
        "US", "NISSAN", {"type": "BEV", "scope": ["read_battery", "read_charge"]}
    )
    assert "NISSAN" in matrix and matrix["NISSAN"]
    for entry in matrix["NISSAN"]:
        assert entry.type == "BEV"
        assert {"read_battery", "read_charge"} <= set(entry.permissions)
        assert isinstance(entry.startYear, int) and isinstance(entry.endYear, int)
        assert isinstance(entry.endpoints, list)
