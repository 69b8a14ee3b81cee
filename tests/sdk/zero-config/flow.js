'use strict';

// The official Node SDK (smartcar@10.4.0) against the mock with no SMARTCAR_* variable at all: it
// calls https://connect.smartcar.com, https://auth.smartcar.com and https://api.smartcar.com as it
// would in production. Run by run.sh, which maps those names to the mock for this process only
// (--require resolve-to-mock.js) and trusts the mock's authority by NODE_EXTRA_CA_CERTS alone.
//
// Steps: auth URL -> Connect (the mock runs with --auto-approve) -> code -> exchange -> vehicles ->
// odometer -> refresh. Prints one line per step; any failure throws.

const assert = require('node:assert/strict');
const path = require('node:path');
const {createRequire} = require('node:module');

// The SDK installed for the Node suite (tests/sdk/node/node_modules).
const smartcar = createRequire(path.join(__dirname, '..', 'node', 'package.json'))('smartcar');

async function main() {
  const variables = Object.keys(process.env).filter((name) => name.startsWith('SMARTCAR_'));
  assert.deepEqual(variables, [], 'zero-configuration means no SMARTCAR_* variable');

  const client = new smartcar.AuthClient({
    clientId: 'demo-client',
    clientSecret: 'demo-secret',
    redirectUri: 'https://example.com/auth',
    mode: 'test',
  });
  const url = client.getAuthUrl(['read_vehicle_info', 'read_odometer']);
  assert.ok(url.startsWith('https://connect.smartcar.com/oauth/authorize?'), url);
  console.log(`auth URL: ${url.split('?')[0]}`);

  const connect = await fetch(url, {redirect: 'manual'});
  assert.equal(connect.status, 302, await connect.text());
  const redirect = new URL(connect.headers.get('location'));
  assert.equal(redirect.origin + redirect.pathname, 'https://example.com/auth');
  const code = redirect.searchParams.get('code');
  assert.ok(code, redirect.href);
  console.log('Connect: redirected with a code');

  const access = await client.exchangeCode(code);
  assert.ok(access.accessToken && access.refreshToken);
  console.log('exchange: access and refresh tokens');

  const {vehicles} = await smartcar.getVehicles(access.accessToken);
  assert.equal(vehicles.length, 1);
  console.log(`vehicles: ${vehicles[0]}`);

  const odometer = await new smartcar.Vehicle(vehicles[0], access.accessToken).odometer();
  assert.ok(odometer.distance > 0, JSON.stringify(odometer));
  console.log(`odometer: ${odometer.distance}`);

  const refreshed = await client.exchangeRefreshToken(access.refreshToken);
  assert.notEqual(refreshed.accessToken, access.accessToken);
  console.log('refresh: a new access token');
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
