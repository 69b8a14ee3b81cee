"""The official Python SDK (smartcar==6.19.1) against the mock with no SMARTCAR_* variable at all:
it calls https://connect.smartcar.com, https://auth.smartcar.com and https://api.smartcar.com as it
would in production. Run by run.sh, which maps those names to the mock for this process only
(python/sitecustomize.py) and trusts the mock's authority by REQUESTS_CA_BUNDLE alone.

Steps: auth URL -> Connect (the mock runs with --auto-approve) -> code -> exchange -> vehicles ->
odometer -> refresh. Prints one line per step; any failure raises.
"""

import os
import urllib.parse

variables = sorted(name for name in os.environ if name.startswith("SMARTCAR_"))
assert not variables, f"zero-configuration means no SMARTCAR_* variable, found {variables}"

import requests  # noqa: E402  (after the check: importing must not need any variable either)
import smartcar  # noqa: E402

client = smartcar.AuthClient(
    client_id="demo-client",
    client_secret="demo-secret",
    redirect_uri="https://example.com/auth",
    mode="test",
)
url = client.get_auth_url(["read_vehicle_info", "read_odometer"])
assert url.startswith("https://connect.smartcar.com/oauth/authorize?"), url
print(f"auth URL: {url.split('?')[0]}")

connect = requests.get(url, allow_redirects=False, timeout=30)
assert connect.status_code == 302, (connect.status_code, connect.text)
redirect = connect.headers["Location"]
assert redirect.startswith("https://example.com/auth?"), redirect
code = urllib.parse.parse_qs(urllib.parse.urlsplit(redirect).query)["code"][0]
print("Connect: redirected with a code")

access = client.exchange_code(code)
assert access.access_token and access.refresh_token, access
print("exchange: access and refresh tokens")

vehicles = smartcar.get_vehicles(access.access_token)
assert len(vehicles.vehicles) == 1, vehicles
print(f"vehicles: {vehicles.vehicles[0]}")

odometer = smartcar.Vehicle(vehicles.vehicles[0], access.access_token).odometer()
assert odometer.distance > 0, odometer
print(f"odometer: {odometer.distance}")

refreshed = client.exchange_refresh_token(access.refresh_token)
assert refreshed.access_token != access.access_token, refreshed
print("refresh: a new access token")
