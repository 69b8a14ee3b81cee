"""Management API: get_connections / delete_connections (docs/contract/management.md)."""

import pytest
import smartcar
from smartcar import SmartcarException

from sdk_support import AMT, FULL_SCOPE, TIMESTAMP_RE, assert_uuid, connect

pytestmark = pytest.mark.feature("management")


def test_get_connections_lists_this_apps_connections(bmw):
    access, vehicle_id = bmw
    user_id = smartcar.get_user(access.access_token).id
    res = smartcar.get_connections(AMT)
    assert_uuid(res.meta.request_id)
    assert any(c.vehicle_id == vehicle_id and c.user_id == user_id for c in res.connections)
    for c in res.connections:
        assert_uuid(c.vehicle_id)
        assert_uuid(c.user_id)
        assert TIMESTAMP_RE.match(c.connected_at), c.connected_at
    dates = [c.connected_at for c in res.connections]
    assert dates == sorted(dates, reverse=True)


def test_get_connections_filters(bmw):
    access, vehicle_id = bmw
    user_id = smartcar.get_user(access.access_token).id
    by_vehicle = smartcar.get_connections(AMT, {"vehicle_id": vehicle_id})
    assert [(c.vehicle_id, c.user_id) for c in by_vehicle.connections] == [(vehicle_id, user_id)]
    assert by_vehicle.paging.cursor is None
    by_user = smartcar.get_connections(AMT, {"user_id": user_id})
    assert [(c.vehicle_id, c.user_id) for c in by_user.connections] == [(vehicle_id, user_id)]
    # Each login gets exactly one vehicle per brand: limit=1 for this user is the whole list.
    limited = smartcar.get_connections(AMT, {"user_id": user_id}, {"limit": 1})
    assert len(limited.connections) == 1


def test_get_connections_paging(bmw, chevrolet):
    first = smartcar.get_connections(AMT, paging={"limit": 1})
    assert len(first.connections) == 1
    assert first.paging.cursor is not None
    second = smartcar.get_connections(AMT, paging={"limit": 1, "cursor": first.paging.cursor})
    assert len(second.connections) == 1
    assert second.connections[0] != first.connections[0]


def test_delete_connections_by_vehicle():
    access, vehicle_id = connect("BMW", ["required:read_odometer"])
    user_id = smartcar.get_user(access.access_token).id
    res = smartcar.delete_connections(AMT, {"vehicle_id": vehicle_id})
    assert [(c.vehicle_id, c.user_id, c.connected_at) for c in res.connections] == [
        (vehicle_id, user_id, None)
    ]
    assert_uuid(res.meta.request_id)
    assert smartcar.get_connections(AMT, {"vehicle_id": vehicle_id}).connections == []
    with pytest.raises(SmartcarException):
        smartcar.Vehicle(vehicle_id, access.access_token).odometer()


def test_delete_connections_by_user():
    access, vehicle_id = connect("CHEVROLET", FULL_SCOPE)
    user_id = smartcar.get_user(access.access_token).id
    res = smartcar.delete_connections(AMT, {"user_id": user_id})
    assert [(c.vehicle_id, c.user_id) for c in res.connections] == [(vehicle_id, user_id)]
    assert smartcar.get_connections(AMT, {"user_id": user_id}).connections == []


def test_bad_amt():
    with pytest.raises(SmartcarException) as info:
        smartcar.get_connections("not-the-amt")
    e = info.value
    assert e.status_code == 401
    assert e.type == "AUTHENTICATION"
    assert e.code is None
    assert_uuid(e.request_id)


def test_delete_connections_refuses_both_filters():
    # Pure SDK check: refused before any request.
    with pytest.raises(Exception, match="EITHER user_id OR vehicle_id"):
        smartcar.delete_connections(AMT, {"user_id": "a", "vehicle_id": "b"})
