"""Module-level functions: get_user, get_vehicles (paging), API version, webhook hashing."""

import pytest
import smartcar
from smartcar import SmartcarException

from sdk_support import UUID_RE, assert_uuid


def test_get_user(chevrolet):
    access, _ = chevrolet
    user = smartcar.get_user(access.access_token)
    assert_uuid(user.id)
    assert set(user._fields) == {"id", "meta"}
    assert_uuid(user.meta.request_id)


def test_get_vehicles(chevrolet):
    access, vehicle_id = chevrolet
    res = smartcar.get_vehicles(access.access_token)
    assert res.vehicles == [vehicle_id]
    assert res.paging.count == 1
    assert res.paging.offset == 0
    assert isinstance(res.paging.count, int)
    assert_uuid(res.meta.request_id)


def test_get_vehicles_paging(chevrolet):
    access, vehicle_id = chevrolet
    first = smartcar.get_vehicles(access.access_token, {"limit": 1, "offset": 0})
    assert first.vehicles == [vehicle_id]
    beyond = smartcar.get_vehicles(access.access_token, {"limit": 1, "offset": 1})
    assert beyond.vehicles == []
    assert beyond.paging.offset == 1
    assert beyond.paging.count == 1


def test_users_are_distinct_per_login(chevrolet, ford):
    assert smartcar.get_user(chevrolet[0].access_token).id != smartcar.get_user(ford[0].access_token).id
    assert chevrolet[1] != ford[1]


def test_api_version_roundtrip(chevrolet):
    access, vehicle_id = chevrolet
    assert smartcar.get_api_version() == "2.0"
    smartcar.set_api_version("1.0")
    try:
        assert smartcar.get_api_version() == "1.0"
        # v1.0 user and vehicle list have the same success bodies.
        assert smartcar.get_vehicles(access.access_token).vehicles == [vehicle_id]
        assert UUID_RE.match(smartcar.get_user(access.access_token).id)
    finally:
        smartcar.set_api_version("2.0")
    with pytest.raises(ValueError):
        smartcar.set_api_version("two")


def test_get_user_bad_token():
    with pytest.raises(SmartcarException) as info:
        smartcar.get_user("not-a-real-token")
    e = info.value
    assert e.status_code == 401
    assert e.type == "AUTHENTICATION"
    assert e.code is None
    assert e.description == (
        "The authorization header is missing or malformed, or it contains invalid or expired "
        "authentication credentials. Please check for missing parameters, spelling and casing "
        "mistakes, and other syntax issues."
    )
    assert e.doc_url == "https://smartcar.com/docs/errors/api-errors/authentication-errors#null"
    assert e.resolution == {"type": None, "url": None}
    assert e.detail is None
    assert_uuid(e.request_id)
    assert str(e).startswith("AUTHENTICATION - The authorization header is missing")


def test_hash_challenge_and_verify_payload_vectors():
    # The check values of docs/contract/webhooks.md#signing (pure SDK, no mock involved).
    assert (
        smartcar.hash_challenge("amt", "challenge")
        == "9baf5a7464bd86740ad5a06e439dcf535a075022ed2c92d74efacf646d79328e"
    )
    assert smartcar.verify_payload(
        "amt", "4c05a8da471f05156ad717baa4017acd13a3a809850b9ca7d3301dcaaa854f70", '{"pizza":"pasta"}'
    )
