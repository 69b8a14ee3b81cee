"""Shared helpers for the Python SDK conformance suite (mock process, Connect flow, asserts).

Nothing here imports `smartcar` at module level: the SDK must be imported only after
conftest.pytest_configure has set its environment variables.

Codes are obtained the way the SDK's own e2e suite does it: headless Chromium driven by Selenium
through the Connect pages, using the element ids of docs/contract/connect.md#the-pages.
"""

import os
import re
import subprocess
import tempfile
import threading
import time
import urllib.parse
import uuid
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SDK_DIR = HERE.parent
REPO_ROOT = SDK_DIR.parent.parent

CLIENT_ID = "demo-client"
CLIENT_SECRET = "demo-secret"
AMT = "demo-amt"
REDIRECT_URI = "https://example.com/auth"

# Python SDK e2e DEFAULT_SCOPE plus everything else the vehicle methods need.
FULL_SCOPE = [
    "required:read_vehicle_info",
    "required:read_location",
    "required:read_odometer",
    "required:control_security",
    "required:read_vin",
    "required:read_fuel",
    "required:read_battery",
    "read_charge",
    "required:read_engine_oil",
    "required:read_tires",
    "required:read_security",
    "control_charge",
    "control_navigation",
    "read_service_history",
    "read_diagnostics",
    "read_user_profile",
]

# A scope without read_odometer / read_location (missing-permission cases) but with read_fuel,
# which a BEV cannot serve (capability case).
FORD_SCOPE = [
    "required:read_vehicle_info",
    "required:read_battery",
    "required:read_charge",
    "control_charge",
    "read_security",
    "control_security",
    "control_navigation",
    "read_fuel",
    "read_service_history",
    "read_diagnostics",
]

STATE = {}


def pending_features():
    """Features listed in tests/sdk/pending-features.txt, or in $SDK_PENDING_FEATURES
    (comma/space separated; set it empty to run every test against whatever the mock has)."""
    override = os.environ.get("SDK_PENDING_FEATURES")
    if override is not None:
        return set(override.replace(",", " ").split())
    names = set()
    for line in (SDK_DIR / "pending-features.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(line)
    return names


# --------------------------------------------------------------------------------------------
# The mock process
# --------------------------------------------------------------------------------------------


def _mock_binary():
    path = os.environ.get("MOCK_SERVER_BIN", "target/debug/mock-server")
    p = Path(path)
    if not p.is_absolute():
        p = (REPO_ROOT / p) if not p.exists() else p.resolve()
    if not p.exists():
        raise pytest.UsageError(
            f"mock server binary not found at {p}; build it with `cargo build -p mock-server` "
            "or set MOCK_SERVER_BIN"
        )
    return str(p)


def start_mock():
    tmp = Path(tempfile.mkdtemp(prefix="sdk-py-mock-"))
    log = open(tmp / "mock-stderr.log", "w")
    proc = subprocess.Popen(
        [_mock_binary(), "--addr", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        cwd=REPO_ROOT,
    )
    first = {}

    def read_first_line():
        first["line"] = proc.stdout.readline()
        # Keep draining so the mock never blocks on a full pipe.
        for _ in proc.stdout:
            pass

    t = threading.Thread(target=read_first_line, daemon=True)
    t.start()
    deadline = time.time() + 30
    while "line" not in first and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    line = first.get("line", "")
    m = re.fullmatch(r"listening on (http://127\.0\.0\.1:\d+)\n?", line)
    if not m:
        proc.kill()
        raise pytest.UsageError(
            f"mock did not print its listening line (got {line!r}); stderr in {tmp}/mock-stderr.log"
        )
    return proc, m.group(1), tmp


# --------------------------------------------------------------------------------------------
# Browser-driven Connect flow
# --------------------------------------------------------------------------------------------


def _driver():
    if "driver" in STATE:
        return STATE["driver"]
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chrome_dir = tempfile.mkdtemp(prefix="sdk-py-chrome-")
    STATE["chrome_dir"] = chrome_dir
    opts = webdriver.ChromeOptions()
    opts.binary_location = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        f"--user-data-dir={chrome_dir}",
    ):
        opts.add_argument(flag)
    service = Service(executable_path=os.environ.get("CHROMEDRIVER_BIN", "/usr/bin/chromedriver"))
    driver = webdriver.Chrome(service=service, options=opts)
    driver.set_page_load_timeout(20)
    STATE["driver"] = driver
    return driver


def run_connect_flow(auth_url, brand="CHEVROLET", *, deny=False, skip_brand=False, username=None):
    """Drive Connect in headless Chromium like python-sdk tests/auth_helpers.py.

    Returns the parsed query of the final redirect to https://example.com/auth.
    """
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    driver = _driver()
    driver.delete_all_cookies()
    wait = WebDriverWait(driver, 10)
    driver.get(auth_url)

    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "button#continue-button"))).click()
    if not skip_brand:
        wait.until(
            EC.presence_of_element_located((By.CSS_SELECTOR, f"button#{brand}.brand-list-item"))
        ).click()

    sign_in = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "button#sign-in-button")))
    driver.find_element(By.CSS_SELECTOR, "input#username").send_keys(
        username or f"{uuid.uuid4()}@email.com"
    )
    driver.find_element(By.CSS_SELECTOR, "input#password").send_keys("password")
    sign_in.click()

    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".page-content")))
    button = "button#deny-button" if deny else "button#approval-button"
    try:
        driver.find_element(By.CSS_SELECTOR, button).click()
    except WebDriverException:
        # The click navigates to an unreachable host (example.com offline); that may surface
        # as a timeout/navigation error although the URL is already the redirect target.
        pass
    wait.until(EC.url_matches("example.com"))
    url = driver.current_url
    assert url.startswith(REDIRECT_URI), url
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query, keep_blank_values=True))


def auth_client(**kwargs):
    import smartcar

    return smartcar.AuthClient(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uri=REDIRECT_URI,
        mode="test",
        **kwargs,
    )


def get_code(brand="CHEVROLET", scope=None, options=None, **flow_kwargs):
    url = auth_client().get_auth_url(scope if scope is not None else FULL_SCOPE, options)
    query = run_connect_flow(url, brand, **flow_kwargs)
    assert "code" in query, query
    return query["code"]


def connect(brand="CHEVROLET", scope=None):
    """Full Connect flow + code exchange. Returns (access, vehicle_id)."""
    import smartcar

    code = get_code(brand, scope)
    access = auth_client().exchange_code(code)
    vehicles = smartcar.get_vehicles(access.access_token)
    assert len(vehicles.vehicles) == 1
    return access, vehicles.vehicles[0]


# --------------------------------------------------------------------------------------------
# Assertion helpers shared by the test modules
# --------------------------------------------------------------------------------------------

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TIMESTAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def assert_uuid(value):
    assert isinstance(value, str) and UUID_RE.match(value), value


def assert_data_meta(meta, unit_system="metric"):
    """Metadata of a vehicle data read: request id, unit system, data age, fetched-at."""
    assert_uuid(meta.request_id)
    assert meta.unit_system == unit_system
    assert TIMESTAMP_RE.match(meta.data_age), meta.data_age
    assert TIMESTAMP_RE.match(meta.fetched_at), meta.fetched_at
