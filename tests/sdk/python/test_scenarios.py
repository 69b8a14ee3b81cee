"""The example scenarios of fixtures/scenarios/, loaded at start (`--scenario`), read with the
official SDK: their own tokens work from the first request, without Connect.

A second mock of its own, since the session's mock must keep its world; the SDK reads its origins
from `smartcar.config`, pointed at this mock for each test and back after it.
"""

import re
import subprocess
import threading
import time

import pytest
import smartcar
from smartcar import SmartcarException

from sdk_support import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, REPO_ROOT, _mock_binary

SCENARIOS = REPO_ROOT / "fixtures" / "scenarios"


@pytest.fixture(scope="module")
def scenario_origin():
    files = ["low-battery-ev.json", "fleet-of-25.json", "expired-access-token.json"]
    args = [_mock_binary(), "--addr", "127.0.0.1:0"]
    for name in files:
        args += ["--scenario", str(SCENARIOS / name)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT)
    first = {}

    def read_first_line():
        first["line"] = proc.stdout.readline()
        for _ in proc.stdout:
            pass

    threading.Thread(target=read_first_line, daemon=True).start()
    deadline = time.time() + 30
    while "line" not in first and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    match = re.fullmatch(r"listening on (http://127\.0\.0\.1:\d+)\n?", first.get("line", ""))
    if not match:
        proc.kill()
        pytest.fail(f"the mock did not start with the scenarios: {proc.stderr.read()}")
    yield match.group(1)
    proc.terminate()
    proc.wait(timeout=5)


@pytest.fixture
def sdk(scenario_origin, monkeypatch):
    monkeypatch.setattr(smartcar.config, "API_ORIGIN", scenario_origin)
    monkeypatch.setattr(smartcar.config, "AUTH_ORIGIN", scenario_origin + "/oauth/token")
    return scenario_origin


def test_the_low_battery_ev_reads_12_percent_unplugged(sdk):
    vehicle = smartcar.Vehicle("5e1a0000-0000-4000-8000-0000000000e1", "5e1a0000-0000-4000-8000-00000000a001")

    assert vehicle.battery().percent_remaining == 0.12
    assert vehicle.charge().is_plugged_in is False


def test_the_fleet_lists_25_vehicles_behind_one_token(sdk):
    vehicles = smartcar.get_vehicles("f1ee0000-0000-4000-8000-00000000a001", paging={"limit": 50})

    assert vehicles.paging.count == 25
    assert len(vehicles.vehicles) == 25


def test_the_expired_access_token_is_refused_and_its_refresh_token_works(sdk):
    vehicle_id = "e4b10000-0000-4000-8000-0000000000e1"
    with pytest.raises(SmartcarException) as refused:
        smartcar.Vehicle(vehicle_id, "e4b10000-0000-4000-8000-00000000a001").vin()
    assert refused.value.status_code == 401

    client = smartcar.AuthClient(CLIENT_ID, CLIENT_SECRET, REDIRECT_URI)
    fresh = client.exchange_refresh_token("e4b10000-0000-4000-8000-00000000f001")

    assert smartcar.Vehicle(vehicle_id, fresh.access_token).vin().vin == "5YJ3E1EA0MF000003"
