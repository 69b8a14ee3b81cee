"""Webhooks: subscribe / unsubscribe (docs/contract/webhooks.md#subscribing), payload signing on a real delivery
(docs/contract/webhooks.md#signing), and what events carry: only the signals the grant permits, and a
`<TYPE>.<CODE>@smartcar.com` login's error as a VEHICLE_ERROR — each delivery checked with the
SDK's own `verify_payload`."""

import http.server
import json
import os
import threading
import time
import urllib.request

import pytest
import smartcar
from smartcar import SmartcarException

from sdk_support import AMT, CLIENT_ID, FORD_SCOPE, FULL_SCOPE, REPO_ROOT, assert_uuid, auth_client, get_code


def _webhook_id():
    apps = json.loads((REPO_ROOT / "fixtures" / "apps.json").read_text())["apps"]
    ids = [w["id"] for w in next(a for a in apps if a["clientId"] == CLIENT_ID).get("webhooks") or []]
    if not ids:
        pytest.fail("fixtures/apps.json: the demo app has no webhooks to subscribe to")
    return ids[0]


@pytest.fixture(scope="module")
def volt(chevrolet):
    access, vehicle_id = chevrolet
    return smartcar.Vehicle(vehicle_id, access.access_token)


@pytest.mark.feature("webhooks")
def test_subscribe_and_unsubscribe(volt):
    webhook_id = _webhook_id()
    res = volt.subscribe(webhook_id)
    assert res.webhook_id == webhook_id
    assert res.vehicle_id == volt.vehicle_id
    assert_uuid(res.meta.request_id)
    res = volt.unsubscribe(AMT, webhook_id)
    assert res.status == "success"
    assert_uuid(res.meta.request_id)


@pytest.mark.feature("webhooks")
def test_subscribe_unknown_webhook(volt):
    with pytest.raises(SmartcarException) as info:
        volt.subscribe("00000000-0000-4000-8000-000000000000")
    e = info.value
    assert e.status_code == 400
    assert e.type == "VALIDATION"
    assert e.code is None


@pytest.mark.feature("webhooks")
def test_unsubscribe_bad_amt(volt):
    with pytest.raises(SmartcarException) as info:
        volt.unsubscribe("not-the-amt", "00000000-0000-4000-8000-000000000000")
    e = info.value
    assert e.status_code == 401
    assert e.type == "AUTHENTICATION"


class _Receiver(http.server.BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0"))).decode()
        self.received.append((dict(self.headers), body))
        payload = json.loads(body)
        challenge = (payload.get("data") or payload.get("payload") or {}).get("challenge")
        reply = json.dumps({"challenge": smartcar.hash_challenge(AMT, challenge)} if challenge else {})
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(reply.encode())

    def log_message(self, *args):
        pass


def trigger_webhook_delivery(callback_url, vehicle):
    """Points the demo app's webhook at `callback_url` and subscribes `vehicle`
    (`_point_and_subscribe`), then waits for the VERIFY and the first delivery."""
    _point_and_subscribe(callback_url, vehicle)
    deadline = time.time() + 10
    while len(_Receiver.received) < 2 and time.time() < deadline:
        time.sleep(0.02)


def _point_and_subscribe(callback_url, vehicle):
    """Points the demo app's webhook at `callback_url` with the mock's `PUT /v2.0/webhooks/{id}`
    (the mock then sends a VERIFY there, as Smartcar does when a callback URL changes) and
    subscribes `vehicle` (its first delivery follows)."""
    webhook_id = _webhook_id()
    request = urllib.request.Request(
        f"{os.environ['SMARTCAR_API_ORIGIN']}/v2.0/webhooks/{webhook_id}",
        data=json.dumps({"callbackUrl": callback_url}).encode(),
        method="PUT",
        headers={"Authorization": f"Bearer {AMT}", "Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=10).read()
    vehicle.subscribe(webhook_id)


@pytest.mark.feature("webhook-delivery")
def test_verify_payload_on_real_delivery(volt):
    server = http.server.HTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        trigger_webhook_delivery(f"http://127.0.0.1:{server.server_port}/webhook", volt)
        assert _Receiver.received, "no delivery arrived"
        for headers, body in _Receiver.received:
            signature = {k.lower(): v for k, v in headers.items()}["sc-signature"]
            assert smartcar.verify_payload(AMT, signature, body)
    finally:
        server.shutdown()


# The permission each webhook signal needs (the vehicle-API read at the signal's path needs it).
SIGNAL_PERMISSION = {
    "odometer-traveleddistance": "read_odometer",
    "location-preciselocation": "read_location",
    "tractionbattery-stateofcharge": "read_battery",
    "tractionbattery-range": "read_battery",
    "charge-ischarging": "read_charge",
    "charge-ischargingcableconnected": "read_charge",
    "charge-chargelimit": "read_charge",
    "closure-islocked": "read_security",
    "internalcombustionengine-fuellevel": "read_fuel",
    "internalcombustionengine-oillife": "read_engine_oil",
}


def _receiver():
    """A receiver on port 0 answering VERIFY with the SDK's `hash_challenge`: the server and the
    list of (signature, body) it is sent."""
    received = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", "0"))).decode()
            received.append((self.headers.get("sc-signature"), body))
            challenge = (json.loads(body).get("data") or {}).get("challenge")
            reply = json.dumps({"challenge": smartcar.hash_challenge(AMT, challenge)} if challenge else {})
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(reply.encode())

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, received


def _events_about(vehicle, event_types):
    """Points the webhook at a fresh receiver, subscribes `vehicle`, waits for one event of each
    of `event_types` about it, unsubscribes, and returns {eventType: event}. Every delivery's
    signature is checked with `verify_payload` on the way."""
    server, received = _receiver()
    try:
        _point_and_subscribe(f"http://127.0.0.1:{server.server_port}/webhook", vehicle)
        deadline = time.time() + 10
        events = {}
        while time.time() < deadline:
            events = {}
            for signature, body in list(received):
                assert smartcar.verify_payload(AMT, signature, body), body
                event = json.loads(body)
                if ((event.get("data") or {}).get("vehicle") or {}).get("id") == vehicle.vehicle_id:
                    events[event["eventType"]] = event
            if set(event_types) <= set(events):
                break
            time.sleep(0.02)
        assert set(event_types) <= set(events), f"got {sorted(events)}"
        return events
    finally:
        vehicle.unsubscribe(AMT, _webhook_id())
        server.shutdown()


@pytest.mark.feature("webhook-delivery")
def test_events_carry_only_the_signals_the_grant_permits(ford):
    access, vehicle_id = ford
    granted = {p.removeprefix("required:") for p in FORD_SCOPE}

    events = _events_about(smartcar.Vehicle(vehicle_id, access.access_token), ["VEHICLE_STATE", "VEHICLE_ERROR"])

    state_codes = [s["code"] for s in events["VEHICLE_STATE"]["data"]["signals"]]
    error_codes = [c for e in events["VEHICLE_ERROR"]["data"]["errors"] for c in e["signals"]]
    assert state_codes, "the BEV reports its battery"
    for code in state_codes + error_codes:
        assert SIGNAL_PERMISSION[code] in granted, f"{code} needs {SIGNAL_PERMISSION[code]}"
    assert "odometer-traveleddistance" not in state_codes + error_codes
    # read_fuel is granted but a BEV has no fuel: that one is an error, not left out.
    assert "internalcombustionengine-fuellevel" in error_codes


@pytest.mark.feature("webhook-delivery")
def test_a_test_login_error_arrives_as_a_vehicle_error():
    code = get_code("CHEVROLET", FULL_SCOPE, username="VEHICLE_STATE.UNKNOWN@smartcar.com")
    access = auth_client().exchange_code(code)
    vehicle = smartcar.Vehicle(smartcar.get_vehicles(access.access_token).vehicles[0], access.access_token)
    with pytest.raises(SmartcarException) as info:
        vehicle.odometer()

    events = _events_about(vehicle, ["VEHICLE_ERROR"])

    errors = events["VEHICLE_ERROR"]["data"]["errors"]
    assert [(e["type"], e["code"], e["state"]) for e in errors] == [(info.value.type, info.value.code, "ERROR")]
    assert (info.value.type, info.value.code) == ("VEHICLE_STATE", "UNKNOWN")
    assert "odometer-traveleddistance" in errors[0]["signals"]
