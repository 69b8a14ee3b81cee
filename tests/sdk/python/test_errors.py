"""Exact SmartcarException fields for the error cases (docs/contract/api.md#errors)."""

import pytest
import smartcar
from smartcar import SmartcarException

from sdk_support import assert_uuid

AUTH_DESCRIPTION = (
    "The authorization header is missing or malformed, or it contains invalid or expired "
    "authentication credentials. Please check for missing parameters, spelling and casing "
    "mistakes, and other syntax issues."
)
PERMISSION_DESCRIPTION = (
    "Your application has insufficient permissions to access the requested resource. "
    "Please prompt the user to re-authenticate using Smartcar Connect."
)
VALIDATION_DESCRIPTION = (
    "Request invalid or malformed. Please check for missing parameters, spelling and casing "
    "mistakes, and other syntax issues."
)
V2_FIELDS = {
    "status_code",
    "request_id",
    "type",
    "description",
    "code",
    "doc_url",
    "resolution",
    "detail",
    "suggested_user_message",
    "message",
}


def _raise(fn):
    with pytest.raises(SmartcarException) as info:
        fn()
    return info.value


def test_bad_access_token_on_vehicle(chevrolet):
    _, vehicle_id = chevrolet
    e = _raise(smartcar.Vehicle(vehicle_id, "not-a-token").odometer)
    assert set(vars(e)) == V2_FIELDS
    assert e.status_code == 401
    assert e.type == "AUTHENTICATION"
    assert e.code is None
    assert e.description == AUTH_DESCRIPTION
    assert e.doc_url == "https://smartcar.com/docs/errors/api-errors/authentication-errors#null"
    assert e.resolution == {"type": None, "url": None}
    assert e.detail is None
    assert e.message == f"AUTHENTICATION - {AUTH_DESCRIPTION}"
    assert_uuid(e.request_id)


def test_bad_vehicle_id_v2(chevrolet):
    access, _ = chevrolet
    e = _raise(smartcar.Vehicle("bad_id", access.access_token).odometer)
    assert e.status_code == 400
    assert e.type == "VALIDATION"
    assert e.code is None
    assert e.description == VALIDATION_DESCRIPTION
    assert e.doc_url == "https://smartcar.com/docs/errors/api-errors/validation-errors#null"
    assert e.resolution == {"type": None, "url": None}
    assert e.message == f"VALIDATION - {VALIDATION_DESCRIPTION}"
    assert_uuid(e.request_id)


def test_bad_vehicle_id_v1(chevrolet):
    access, _ = chevrolet
    e = _raise(smartcar.Vehicle("bad_id", access.access_token, {"version": "1.0"}).odometer)
    # v1 errors carry exactly these five attributes (python-sdk e2e).
    assert set(vars(e)) == {"status_code", "request_id", "type", "message", "code"}
    assert e.status_code == 400
    assert e.type == "validation_error"
    assert e.code is None
    assert isinstance(e.message, str) and e.message
    assert_uuid(e.request_id)


def test_unknown_vehicle_uuid(chevrolet):
    access, _ = chevrolet
    e = _raise(smartcar.Vehicle("3f1f8a5e-0c6f-4a39-9a43-7a7a4f7c1d2e", access.access_token).odometer)
    # The mock answers 401 AUTHENTICATION (docs/contract/api.md#decisions-where-smartcar-is-silent);
    # the real platform may answer 403 or 404.
    assert e.status_code in (401, 403, 404)
    assert_uuid(e.request_id)


def test_missing_permission_v2(ford):
    access, vehicle_id = ford
    e = _raise(smartcar.Vehicle(vehicle_id, access.access_token).odometer)
    assert set(vars(e)) == V2_FIELDS
    assert e.status_code == 403
    assert e.type == "PERMISSION"
    assert e.code is None
    assert e.description == PERMISSION_DESCRIPTION
    assert e.doc_url == "https://smartcar.com/docs/errors/api-errors/permission-errors#null"
    assert e.resolution == {"type": "REAUTHENTICATE", "url": None}
    assert e.detail is None
    assert e.message == f"PERMISSION - {PERMISSION_DESCRIPTION}"
    assert_uuid(e.request_id)


def test_missing_permission_location_v2(ford):
    access, vehicle_id = ford
    e = _raise(smartcar.Vehicle(vehicle_id, access.access_token).location)
    assert (e.status_code, e.type) == (403, "PERMISSION")


def test_missing_permission_v1(ford):
    access, vehicle_id = ford
    e = _raise(smartcar.Vehicle(vehicle_id, access.access_token, {"version": "1.0"}).odometer)
    assert set(vars(e)) == {"status_code", "request_id", "type", "message", "code"}
    assert e.status_code == 403
    assert e.type == "permission_error"
    assert e.code is None
    assert e.message == "Insufficient permissions to access requested resource."
    assert_uuid(e.request_id)


def test_capability_error(ford):
    # FORD is a BEV: read_fuel is granted, but the vehicle has no fuel tank.
    access, vehicle_id = ford
    e = _raise(smartcar.Vehicle(vehicle_id, access.access_token).fuel)
    assert e.status_code == 501
    assert e.type == "COMPATIBILITY"
    assert e.code == "VEHICLE_NOT_CAPABLE"
    assert isinstance(e.description, str) and e.description
    assert isinstance(e.doc_url, str) and e.doc_url.startswith("https://smartcar.com/docs/")
    assert_uuid(e.request_id)


def test_bad_api_version(chevrolet):
    access, vehicle_id = chevrolet
    e = _raise(smartcar.Vehicle(vehicle_id, access.access_token, {"version": "Johnny Appleseed"}).odometer)
    assert e.status_code == 404
    assert e.type == "RESOURCE_NOT_FOUND"
    assert e.code == "VERSION"
    assert isinstance(e.description, str) and e.description
    assert isinstance(e.doc_url, str)
    assert_uuid(e.request_id)


def test_unknown_path(volt_any):
    e = _raise(lambda: volt_any.request("GET", "not/a/real/path", headers={}))
    assert e.status_code == 404
    assert e.type == "RESOURCE_NOT_FOUND"
    assert e.code == "PATH"
    assert_uuid(e.request_id)


@pytest.fixture
def volt_any(chevrolet):
    access, vehicle_id = chevrolet
    return smartcar.Vehicle(vehicle_id, access.access_token)
