"""Session setup for the Python SDK conformance suite.

The official `smartcar` package reads its origins from environment variables once, when
`smartcar.config` is imported. So `pytest_configure` (which runs before any test module is
imported) starts a fresh mock on port 0, points every SDK variable at it, and only then do the
test modules `import smartcar`.
"""

import os
import shutil
import subprocess

import pytest

from sdk_support import (
    CLIENT_ID,
    CLIENT_SECRET,
    FORD_SCOPE,
    FULL_SCOPE,
    REDIRECT_URI,
    STATE,
    connect,
    pending_features,
    start_mock,
)


def pytest_configure(config):
    proc, origin, tmp = start_mock()
    STATE.update(proc=proc, origin=origin, tmp=tmp)
    os.environ["SMARTCAR_API_ORIGIN"] = origin
    os.environ["SMARTCAR_AUTH_ORIGIN"] = origin + "/oauth/token"  # Python: full token URL
    os.environ["SMARTCAR_CONNECT_ORIGIN"] = origin
    os.environ["SMARTCAR_MANAGEMENT_API_ORIGIN"] = origin
    os.environ["SMARTCAR_VEHICLE_API_V3_ORIGIN"] = origin
    os.environ["SMARTCAR_CLIENT_ID"] = CLIENT_ID
    os.environ["SMARTCAR_CLIENT_SECRET"] = CLIENT_SECRET
    os.environ["SMARTCAR_REDIRECT_URI"] = REDIRECT_URI


def pytest_unconfigure(config):
    proc = STATE.get("proc")
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
    driver = STATE.get("driver")
    if driver is not None:
        try:
            driver.quit()
        except Exception:
            pass
    for key in ("tmp", "chrome_dir"):
        if STATE.get(key):
            shutil.rmtree(STATE[key], ignore_errors=True)


def pytest_collection_modifyitems(config, items):
    pending = pending_features()
    for item in items:
        for mark in item.iter_markers("feature"):
            name = mark.args[0]
            if name in pending:
                item.add_marker(pytest.mark.skip(reason=f"not implemented in mock yet: {name}"))


def pytest_report_header(config):
    import smartcar

    return [f"mock: {STATE.get('origin')}  smartcar (PyPI) {smartcar.__version__}"]


@pytest.fixture(scope="session")
def origin():
    return STATE["origin"]


@pytest.fixture(scope="session")
def chevrolet():
    """CHEVROLET (Volt PHEV) with every permission: (access, vehicle_id)."""
    return connect("CHEVROLET", FULL_SCOPE)


@pytest.fixture(scope="session")
def ford():
    """FORD (BEV) without read_odometer/read_location: (access, vehicle_id)."""
    return connect("FORD", FORD_SCOPE)


@pytest.fixture(scope="session")
def kia():
    """KIA (BEV), used for charge limit and disconnect."""
    return connect("KIA", FULL_SCOPE)


@pytest.fixture(scope="session")
def bmw():
    """BMW with read_odometer only (python-sdk's management-API user)."""
    return connect("BMW", ["required:read_odometer"])


