"""AuthClient against the mock: auth URL options, Connect flows, code exchange and refresh."""

import datetime
import urllib.parse

import pytest
import smartcar
from smartcar import SmartcarException

from sdk_support import (
    CLIENT_ID,
    FULL_SCOPE,
    REDIRECT_URI,
    STATE,
    assert_uuid,
    auth_client,
    connect,
    get_code,
    run_connect_flow,
)


def _query(url):
    parts = urllib.parse.urlsplit(url)
    return parts, dict(urllib.parse.parse_qsl(parts.query))


def test_auth_url_defaults_point_at_mock_connect():
    parts, query = _query(auth_client().get_auth_url(["read_odometer", "required:read_vin"]))
    assert f"{parts.scheme}://{parts.netloc}" == STATE["origin"]
    assert parts.path == "/oauth/authorize"
    assert query == {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "approval_prompt": "auto",
        "mode": "test",
        "redirect_uri": REDIRECT_URI,
        "scope": "read_odometer required:read_vin",
    }


def test_auth_url_all_options():
    url = auth_client().get_auth_url(
        ["read_odometer"],
        {
            "force_prompt": True,
            "state": "fake state",
            "make_bypass": "TESLA",
            "single_select": {"vin": "12345678901234567"},
            "flags": {"country": "DE", "flag": True},
            "user": "owner-1",
        },
    )
    _, query = _query(url)
    assert query["approval_prompt"] == "force"
    assert query["state"] == "fake state"
    assert query["make"] == "TESLA"
    assert query["single_select"] == "true"
    assert query["single_select_vin"] == "12345678901234567"
    assert query["flags"] == "country:DE flag:true"
    assert query["user"] == "owner-1"


def test_auth_url_without_scope_uses_app_default_scope():
    # No scope in the URL: Connect grants the app's default scope (docs/contract/connect.md#scope).
    url = auth_client().get_auth_url()
    assert "scope=" not in url
    query = run_connect_flow(url, "CHEVROLET")
    access = auth_client().exchange_code(query["code"])
    vid = smartcar.get_vehicles(access.access_token).vehicles[0]
    perms = smartcar.Vehicle(vid, access.access_token).permissions().permissions
    assert "read_odometer" in perms and "read_vehicle_info" in perms


@pytest.mark.parametrize("brand", ["CHEVROLET", "FORD", "KIA", "BMW"])
def test_connect_flow_per_brand_yields_one_vehicle_of_that_make(brand):
    access, vehicle_id = connect(brand, FULL_SCOPE)
    attributes = smartcar.Vehicle(vehicle_id, access.access_token).attributes()
    assert attributes.make == brand
    assert attributes.id == vehicle_id
    assert isinstance(attributes.year, int)


def test_state_is_echoed_and_make_bypass_skips_brand_page():
    url = auth_client().get_auth_url(
        FULL_SCOPE, {"state": "s+t/a=te&x", "make_bypass": "FORD", "force_prompt": True}
    )
    query = run_connect_flow(url, "FORD", skip_brand=True)
    assert query["state"] == "s+t/a=te&x"
    access = auth_client().exchange_code(query["code"])
    vid = smartcar.get_vehicles(access.access_token).vehicles[0]
    assert smartcar.Vehicle(vid, access.access_token).attributes().make == "FORD"


def test_deny_redirects_with_access_denied():
    url = auth_client().get_auth_url(FULL_SCOPE, {"state": "deny-state"})
    query = run_connect_flow(url, "CHEVROLET", deny=True)
    assert query == {
        "error": "access_denied",
        "error_description": "User denied access to application.",
        "state": "deny-state",
    }


def test_exchange_code_returns_access():
    before = datetime.datetime.utcnow()
    access = auth_client().exchange_code(get_code("CHEVROLET"))
    assert_uuid(access.access_token)
    assert_uuid(access.refresh_token)
    assert access.token_type == "Bearer"
    assert isinstance(access.expires_in, int) and access.expires_in >= 7200
    assert access.expiration >= before + datetime.timedelta(seconds=7200)
    assert access.refresh_expiration > access.expiration
    assert_uuid(smartcar.get_user(access.access_token).id)


def test_exchange_code_with_flags():
    access = auth_client().exchange_code(get_code("CHEVROLET"), {"flags": {"foo": True, "bar": "x"}})
    assert_uuid(access.access_token)


def test_code_is_single_use():
    code = get_code("CHEVROLET")
    auth_client().exchange_code(code)
    with pytest.raises(SmartcarException) as info:
        auth_client().exchange_code(code)
    e = info.value
    assert e.status_code == 400
    assert e.type == "invalid_request"
    assert e.message == f"Invalid code: {code}."


def test_refresh_gives_new_tokens_and_keeps_old_access_valid(chevrolet):
    access, _ = chevrolet
    new = auth_client().exchange_refresh_token(access.refresh_token)
    assert_uuid(new.access_token)
    assert_uuid(new.refresh_token)
    assert new.access_token != access.access_token
    assert new.token_type == "Bearer"
    assert new.expires_in >= 7200
    # Old access token stays valid after a refresh (docs/contract/oauth.md#refresh).
    assert smartcar.get_user(access.access_token).id == smartcar.get_user(new.access_token).id


def test_bad_code():
    with pytest.raises(SmartcarException) as info:
        auth_client().exchange_code("THIS_SHOULD_NOT_WORK")
    e = info.value
    assert e.status_code == 400
    assert e.type == "invalid_request"
    assert e.message == "Invalid code: THIS_SHOULD_NOT_WORK."
    assert str(e) == "Invalid code: THIS_SHOULD_NOT_WORK."


def test_bad_refresh_token():
    with pytest.raises(SmartcarException) as info:
        auth_client().exchange_refresh_token("THIS_SHOULD_NOT_WORK")
    e = info.value
    assert e.status_code == 400
    assert e.message == "Invalid refresh_token: THIS_SHOULD_NOT_WORK."


def test_bad_client_secret():
    client = smartcar.AuthClient(CLIENT_ID, "wrong-secret", REDIRECT_URI, mode="test")
    with pytest.raises(SmartcarException) as info:
        client.exchange_code("whatever")
    e = info.value
    assert e.status_code == 401
    assert e.type == "invalid_client"
