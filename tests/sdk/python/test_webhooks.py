"""Webhooks: subscribe / unsubscribe (smartcar-api.md §8.2) and payload signing on a real delivery
(§8.3, test-mode.md A8)."""

import http.server
import json
import os
import threading
import time
import urllib.request

import pytest
import smartcar
from smartcar import SmartcarException

from sdk_support import AMT, CLIENT_ID, REPO_ROOT, assert_uuid


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
    """Points the demo app's webhook at `callback_url` with the mock's `PUT /v2.0/webhooks/{id}`
    (the mock then sends a VERIFY there, as Smartcar does when a callback URL changes), subscribes
    `vehicle` (its first delivery follows) and waits for both deliveries."""
    webhook_id = _webhook_id()
    request = urllib.request.Request(
        f"{os.environ['SMARTCAR_API_ORIGIN']}/v2.0/webhooks/{webhook_id}",
        data=json.dumps({"callbackUrl": callback_url}).encode(),
        method="PUT",
        headers={"Authorization": f"Bearer {AMT}", "Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=10).read()
    vehicle.subscribe(webhook_id)
    deadline = time.time() + 10
    while len(_Receiver.received) < 2 and time.time() < deadline:
        time.sleep(0.02)


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
