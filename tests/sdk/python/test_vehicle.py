"""Every smartcar.Vehicle method against the mock: values, types (floats), metadata."""

import pytest
import smartcar
from smartcar import SmartcarException

from sdk_support import FULL_SCOPE, TIMESTAMP_RE, assert_data_meta, assert_uuid

ACTION_MESSAGE = "Successfully sent request to vehicle"


@pytest.fixture(scope="module")
def volt(chevrolet):
    access, vehicle_id = chevrolet
    return smartcar.Vehicle(vehicle_id, access.access_token)


@pytest.fixture(scope="module")
def volt_imperial(chevrolet):
    access, vehicle_id = chevrolet
    return smartcar.Vehicle(vehicle_id, access.access_token, {"unit_system": "imperial"})


def _is_fraction(x):
    return isinstance(x, float) and 0.0 <= x <= 1.0


# ---------------------------------------------------------------------------- reads


def test_attributes(volt, chevrolet):
    res = volt.attributes()
    assert res.id == chevrolet[1]
    assert res.make == "CHEVROLET"
    assert res.model == "Volt"
    assert isinstance(res.year, int)
    assert_uuid(res.meta.request_id)


def test_vin(volt):
    res = volt.vin()
    assert isinstance(res.vin, str) and len(res.vin) == 17
    assert_uuid(res.meta.request_id)


def test_odometer(volt):
    res = volt.odometer()
    assert isinstance(res.distance, float) and res.distance > 0
    assert_data_meta(res.meta)


def test_location(volt):
    res = volt.location()
    assert isinstance(res.latitude, float) and -90 <= res.latitude <= 90
    assert isinstance(res.longitude, float) and -180 <= res.longitude <= 180
    assert_data_meta(res.meta)


def test_fuel(volt):
    res = volt.fuel()
    assert isinstance(res.range, float)
    assert _is_fraction(res.percent_remaining)
    assert isinstance(res.amount_remaining, float)
    assert_data_meta(res.meta)


def test_battery(volt):
    res = volt.battery()
    assert _is_fraction(res.percent_remaining)
    assert isinstance(res.range, float)
    assert_data_meta(res.meta)


@pytest.mark.feature("battery-capacity")
def test_battery_capacity(volt):
    res = volt.battery_capacity()
    assert isinstance(res.capacity, float) and res.capacity > 0
    assert_uuid(res.meta.request_id)


@pytest.mark.feature("battery-capacity")
def test_nominal_capacity(volt):
    res = volt.nominal_capacity()
    assert len(res.availableCapacities) >= 1
    for item in res.availableCapacities:
        assert isinstance(item.capacity, float)
        assert item.description is None or isinstance(item.description, str)
    assert isinstance(res.capacity, dict)
    assert isinstance(res.capacity["nominal"], float)
    assert isinstance(res.capacity["source"], str)
    assert res.url is None or isinstance(res.url, str)


def test_charge(volt):
    res = volt.charge()
    assert isinstance(res.is_plugged_in, bool)
    assert res.state in ("CHARGING", "FULLY_CHARGED", "NOT_CHARGING")
    assert_data_meta(res.meta)


@pytest.mark.feature("charge-limit")
def test_get_charge_limit(volt):
    res = volt.get_charge_limit()
    assert isinstance(res.limit, (int, float)) and 0 <= res.limit <= 1
    assert_data_meta(res.meta)


def test_engine_oil(volt):
    res = volt.engine_oil()
    assert _is_fraction(res.life_remaining)
    assert_data_meta(res.meta)


def test_tire_pressure(volt):
    res = volt.tire_pressure()
    for value in (res.front_left, res.front_right, res.back_left, res.back_right):
        assert isinstance(value, float) and value > 0
    assert_data_meta(res.meta)


def test_lock_status(volt):
    res = volt.lock_status()
    assert isinstance(res.is_locked, bool)
    for group in (res.doors, res.windows, res.sunroof, res.storage, res.charging_port):
        assert isinstance(group, list)
        for entry in group:
            assert set(entry) == {"type", "status"}
    assert {d["type"] for d in res.doors} >= {"frontLeft", "frontRight", "backLeft", "backRight"}
    assert_data_meta(res.meta)


@pytest.mark.feature("service-history")
def test_service_history(volt):
    res = volt.service_history("2020-01-01", "2030-01-01")
    assert isinstance(res.items, list) and len(res.items) >= 1
    for record in res.items:
        assert isinstance(record["odometerDistance"], float)
        assert TIMESTAMP_RE.match(record["serviceDate"])
        assert isinstance(record["serviceTasks"], list)
    assert_data_meta(res.meta)


@pytest.mark.feature("service-history")
def test_service_history_default_window(volt):
    res = volt.service_history()
    assert isinstance(res.items, list)
    assert_uuid(res.meta.request_id)


@pytest.mark.feature("diagnostics")
def test_diagnostic_system_status(volt):
    res = volt.diagnostic_system_status()
    assert len(res.systems) >= 1
    for system in res.systems:
        assert isinstance(system.system_id, str)
        assert system.status in ("OK", "ALERT")
        assert system.description is None or isinstance(system.description, str)
    assert_data_meta(res.meta)


@pytest.mark.feature("diagnostics")
def test_diagnostic_trouble_codes(volt):
    res = volt.diagnostic_trouble_codes()
    assert len(res.active_codes) >= 1
    for dtc in res.active_codes:
        assert isinstance(dtc.code, str)
        assert dtc.timestamp is None or TIMESTAMP_RE.match(dtc.timestamp)
    assert_data_meta(res.meta)


# ---------------------------------------------------------------------------- permissions


def _expected_permissions(scope):
    return sorted({p.replace("required:", "") for p in scope})


def test_permissions(volt):
    res = volt.permissions()
    assert sorted(res.permissions) == _expected_permissions(FULL_SCOPE)
    assert res.paging.count == len(res.permissions)
    assert res.paging.offset == 0
    assert_uuid(res.meta.request_id)


def test_permissions_paging(volt):
    everything = volt.permissions().permissions
    page = volt.permissions({"limit": 2, "offset": 1})
    assert page.permissions == everything[1:3]
    assert page.paging.count == len(everything)
    assert page.paging.offset == 1
    rest = volt.permissions({"limit": 25, "offset": len(everything)})
    assert rest.permissions == []


# ---------------------------------------------------------------------------- units and versions


def test_imperial_units(volt, volt_imperial):
    metric = volt.odometer()
    imperial = volt_imperial.odometer()
    assert imperial.meta.unit_system == "imperial"
    assert isinstance(imperial.distance, float)
    assert imperial.distance == pytest.approx(metric.distance / 1.609344, rel=1e-3)

    tires_m, tires_i = volt.tire_pressure(), volt_imperial.tire_pressure()
    assert tires_i.meta.unit_system == "imperial"
    assert tires_i.front_left == pytest.approx(tires_m.front_left / 6.894757, rel=1e-3)

    fuel_m, fuel_i = volt.fuel(), volt_imperial.fuel()
    assert fuel_i.amount_remaining == pytest.approx(fuel_m.amount_remaining / 3.785411784, rel=1e-3)
    assert fuel_i.range == pytest.approx(fuel_m.range / 1.609344, rel=1e-3)
    assert fuel_i.percent_remaining == pytest.approx(fuel_m.percent_remaining)

    batt_m, batt_i = volt.battery(), volt_imperial.battery()
    assert batt_i.range == pytest.approx(batt_m.range / 1.609344, rel=1e-3)


def test_v1_vehicle(chevrolet):
    access, vehicle_id = chevrolet
    v1 = smartcar.Vehicle(vehicle_id, access.access_token, {"version": "1.0"})
    assert isinstance(v1.odometer().distance, float)
    assert v1.attributes().make == "CHEVROLET"


def test_any_numeric_version_behaves_as_v2(chevrolet):
    access, vehicle_id = chevrolet
    v = smartcar.Vehicle(vehicle_id, access.access_token, {"version": "99999999.99"})
    assert isinstance(v.odometer().distance, float)


def test_flags_are_accepted(chevrolet):
    access, vehicle_id = chevrolet
    v = smartcar.Vehicle(vehicle_id, access.access_token, {"flags": {"country": "DE", "flag": True}})
    assert isinstance(v.odometer().distance, float)
    assert v.attributes().make == "CHEVROLET"


# ---------------------------------------------------------------------------- request()


def test_request_get_with_unit_header(volt):
    # Always pass `headers`: Vehicle.request's default `headers={}` is a shared mutable
    # default that the SDK mutates (it would leak this vehicle's token into later calls).
    res = volt.request("GET", "odometer", headers={"sc-unit-system": "imperial"})
    assert isinstance(res.body["distance"], float)
    assert res.meta.unit_system == "imperial"
    assert_uuid(res.meta.request_id)


@pytest.mark.feature("batch")
def test_request_post_batch(volt):
    res = volt.request(
        "POST", "batch", {"requests": [{"path": "/odometer"}, {"path": "/location"}]}, headers={}
    )
    paths = [r["path"] for r in res.body["responses"]]
    assert paths == ["/odometer", "/location"]
    assert all(r["code"] == 200 for r in res.body["responses"])


def test_request_basic_auth_is_rejected(volt):
    import base64

    basic = "Basic " + base64.b64encode(b"abc:def").decode()
    with pytest.raises(SmartcarException) as info:
        volt.request("GET", "odometer", headers={"Authorization": basic})
    assert info.value.status_code == 401
    assert info.value.type == "AUTHENTICATION"


def test_request_bad_bearer(volt):
    with pytest.raises(SmartcarException) as info:
        volt.request("GET", "odometer", headers={"Authorization": "Bearer abc"})
    assert info.value.status_code == 401
    assert info.value.type == "AUTHENTICATION"


# ---------------------------------------------------------------------------- batch


BATCH_PATHS = [
    "/odometer",
    "/location",
    "/engine/oil",
    "/vin",
    "/tires/pressure",
    "/fuel",
    "/battery",
    "/battery/capacity",
    "/charge",
    "/charge/limit",
    "/security",
    "/diagnostics/system_status",
    "/diagnostics/dtcs",
    "/",
]


@pytest.mark.feature("batch")
@pytest.mark.feature("battery-capacity")
@pytest.mark.feature("charge-limit")
@pytest.mark.feature("diagnostics")
def test_batch_every_path(volt, chevrolet):
    res = volt.batch(BATCH_PATHS)
    # Response order is request order (P builds the namedtuple in response order).
    assert list(res._fields) == [
        "odometer",
        "location",
        "engine_oil",
        "vin",
        "tire_pressure",
        "fuel",
        "battery",
        "battery_capacity",
        "charge",
        "get_charge_limit",
        "lock_status",
        "diagnostic_system_status",
        "diagnostic_trouble_codes",
        "attributes",
        "meta",
    ]
    assert_uuid(res.meta.request_id)

    odometer = res.odometer()
    assert isinstance(odometer.distance, float)
    assert odometer.meta.unit_system == "metric"
    assert TIMESTAMP_RE.match(odometer.meta.data_age)
    assert odometer.meta.request_id == res.meta.request_id

    tires = res.tire_pressure()
    for value in (tires.front_left, tires.front_right, tires.back_left, tires.back_right):
        assert isinstance(value, float)
    assert isinstance(res.location().latitude, float)
    assert _is_fraction(res.engine_oil().life_remaining)
    assert len(res.vin().vin) == 17
    assert isinstance(res.fuel().amount_remaining, float)
    assert _is_fraction(res.battery().percent_remaining)
    assert isinstance(res.battery_capacity().capacity, float)
    assert res.charge().state in ("CHARGING", "FULLY_CHARGED", "NOT_CHARGING")
    assert 0 <= res.get_charge_limit().limit <= 1
    assert isinstance(res.lock_status().is_locked, bool)
    assert len(res.diagnostic_system_status().systems) >= 1
    assert len(res.diagnostic_trouble_codes().active_codes) >= 1
    attributes = res.attributes()
    assert (attributes.id, attributes.make, attributes.model) == (chevrolet[1], "CHEVROLET", "Volt")


@pytest.mark.feature("batch")
def test_batch_paths_without_leading_slash(volt):
    res = volt.batch(["odometer", "tires/pressure"])
    assert list(res._fields) == ["odometer", "tire_pressure", "meta"]
    assert isinstance(res.odometer().distance, float)


@pytest.mark.feature("batch")
def test_batch_imperial(volt_imperial, volt):
    metric = volt.batch(["/odometer"]).odometer()
    imperial = volt_imperial.batch(["/odometer"]).odometer()
    assert imperial.meta.unit_system == "imperial"
    assert imperial.distance == pytest.approx(metric.distance / 1.609344, rel=1e-3)


@pytest.mark.feature("batch")
def test_batch_item_permission_error(ford):
    access, vehicle_id = ford
    res = smartcar.Vehicle(vehicle_id, access.access_token).batch(["/battery", "/odometer", "/charge"])
    assert list(res._fields) == ["battery", "odometer", "charge", "meta"]
    assert _is_fraction(res.battery().percent_remaining)
    assert isinstance(res.charge().is_plugged_in, bool)
    with pytest.raises(SmartcarException) as info:
        res.odometer()
    e = info.value
    assert e.status_code == 403
    assert e.type == "PERMISSION"
    assert e.code is None
    assert e.resolution == {"type": "REAUTHENTICATE", "url": None}
    assert e.doc_url == "https://smartcar.com/docs/errors/api-errors/permission-errors#null"
    assert_uuid(e.request_id)


@pytest.mark.feature("batch")
def test_batch_unknown_path(volt):
    with pytest.raises(SmartcarException) as info:
        volt.batch(["/odometer", "/LOCATIONNNNNNNN"])
    e = info.value
    assert e.status_code == 400
    assert e.type == "VALIDATION"
    assert e.code is None
    assert_uuid(e.request_id)


# ---------------------------------------------------------------------------- commands


def _assert_action(res):
    assert res.status == "success"
    assert res.message == ACTION_MESSAGE
    assert_uuid(res.meta.request_id)


@pytest.mark.feature("commands")
def test_lock_and_unlock(volt):
    _assert_action(volt.lock())
    assert volt.lock_status().is_locked is True
    _assert_action(volt.unlock())
    assert volt.lock_status().is_locked is False
    _assert_action(volt.lock())


@pytest.mark.feature("commands")
def test_start_and_stop_charge(kia):
    access, vehicle_id = kia
    v = smartcar.Vehicle(vehicle_id, access.access_token)
    _assert_action(v.start_charge())
    _assert_action(v.stop_charge())


@pytest.mark.feature("commands")
@pytest.mark.feature("charge-limit")
def test_set_charge_limit(kia):
    access, vehicle_id = kia
    v = smartcar.Vehicle(vehicle_id, access.access_token)
    _assert_action(v.set_charge_limit(0.7))
    assert v.get_charge_limit().limit == pytest.approx(0.7)
    _assert_action(v.set_charge_limit(0.8))
    assert v.get_charge_limit().limit == pytest.approx(0.8)


@pytest.mark.feature("commands")
def test_send_destination(ford):
    access, vehicle_id = ford
    v = smartcar.Vehicle(vehicle_id, access.access_token)
    _assert_action(v.send_destination(47.6205063, -122.3518523))


@pytest.mark.feature("commands")
def test_ford_lock_unlock_and_lock_status(ford):
    access, vehicle_id = ford
    v = smartcar.Vehicle(vehicle_id, access.access_token)
    _assert_action(v.lock())
    _assert_action(v.unlock())
    assert isinstance(v.lock_status().is_locked, bool)


# ---------------------------------------------------------------------------- disconnect


@pytest.mark.feature("disconnect")
def test_disconnect_revokes_access():
    from sdk_support import connect

    access, vehicle_id = connect("KIA", FULL_SCOPE)
    v = smartcar.Vehicle(vehicle_id, access.access_token)
    assert isinstance(v.odometer().distance, float)
    res = v.disconnect()
    assert res.status == "success"
    assert set(res._fields) == {"status", "meta"}
    assert_uuid(res.meta.request_id)
    with pytest.raises(SmartcarException) as info:
        v.odometer()
    assert info.value.status_code in (401, 403, 404)
    assert smartcar.get_vehicles(access.access_token).vehicles == []
