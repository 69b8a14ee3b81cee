'use strict';

const assert = require('node:assert/strict');
const {after, before, test} = require('node:test');
const smartcar = require('smartcar');
const h = require('../support/helpers');

let origin;
before(async() => {
  origin = await h.startMock();
});
after(h.stopAll);

test('Connect URL is built from SMARTCAR_API_ORIGIN (Node never reads SMARTCAR_CONNECT_ORIGIN)', () => {
  const url = new URL(h.authClient().getAuthUrl(['read_odometer', 'required:read_vin']));
  assert.equal(url.origin, origin);
  assert.equal(url.pathname, '/oauth/authorize');
  assert.deepEqual(Object.fromEntries(url.searchParams), {
    response_type: 'code',
    client_id: h.CLIENT_ID,
    approval_prompt: 'auto',
    redirect_uri: h.REDIRECT_URI,
    scope: 'read_odometer required:read_vin',
    mode: 'test',
  });
  // querystring.stringify: %20 for spaces, %3A for ':'.
  assert.match(url.search, /scope=read_odometer%20required%3Aread_vin/);
});

test('getAuthUrl options', () => {
  const url = new URL(h.authClient().getAuthUrl(['read_odometer'], {
    forcePrompt: true,
    state: 'fakestate',
    makeBypass: 'TESLA',
    singleSelect: {vin: '12345678901234567'},
    flags: {country: 'DE', flag: 'suboption'},
    user: 'owner-1',
  }));
  const q = Object.fromEntries(url.searchParams);
  assert.equal(q.approval_prompt, 'force');
  assert.equal(q.state, 'fakestate');
  assert.equal(q.make, 'TESLA');
  assert.equal(q.single_select, 'true');
  assert.equal(q.single_select_vin, '12345678901234567');
  assert.equal(q.flags, 'country:DE flag:suboption');
  assert.equal(q.user, 'owner-1');
});

for (const brand of ['CHEVROLET', 'FORD', 'KIA', 'BMW']) {
  test(`Connect flow (brand search + click) for ${brand}`, async() => {
    const {access, vehicleId} = await h.connect(brand);
    const attrs = await new smartcar.Vehicle(vehicleId, access.accessToken).attributes();
    h.assertKeys(attrs, ['id', 'make', 'model', 'year']);
    assert.equal(attrs.make, brand);
    assert.equal(attrs.id, vehicleId);
    assert.ok(Number.isInteger(attrs.year));
  });
}

test('state round-trips and makeBypass skips the brand page', async() => {
  const url = h.authClient().getAuthUrl(h.FULL_SCOPE, {state: 'a+b/c=d&e', makeBypass: 'KIA'});
  const query = await h.runConnectFlow(url, 'KIA', {skipBrand: true});
  assert.equal(query.state, 'a+b/c=d&e');
  const access = await h.authClient().exchangeCode(query.code);
  const {vehicles} = await smartcar.getVehicles(access.accessToken);
  assert.equal((await new smartcar.Vehicle(vehicles[0], access.accessToken).attributes()).make, 'KIA');
});

test('deny redirects with access_denied', async() => {
  const url = h.authClient().getAuthUrl(h.FULL_SCOPE, {state: 'deny'});
  const query = await h.runConnectFlow(url, 'CHEVROLET', {deny: true});
  assert.deepEqual(query, {
    error: 'access_denied',
    error_description: 'User denied access to application.',
    state: 'deny',
  });
});

test('exchangeCode and exchangeRefreshToken', async() => {
  const start = Date.now();
  const access = await h.authClient().exchangeCode(await h.getCode('CHEVROLET'), {flags: {foo: 'bar'}});
  assert.deepEqual(Object.keys(access).sort(), ['accessToken', 'expiration', 'refreshExpiration', 'refreshToken']);
  h.assertUuid(access.accessToken);
  h.assertUuid(access.refreshToken);
  assert.ok(access.expiration.getTime() >= start + 7200 * 1000);

  const refreshed = await h.authClient().exchangeRefreshToken(access.refreshToken);
  h.assertUuid(refreshed.accessToken);
  assert.notEqual(refreshed.accessToken, access.accessToken);
  // The old access token keeps working after a refresh.
  const a = await smartcar.getUser(access.accessToken);
  const b = await smartcar.getUser(refreshed.accessToken);
  assert.equal(a.id, b.id);
});

test('an AuthClient without redirectUri sends redirect_uri=undefined and is refused', async() => {
  const code = await h.getCode('CHEVROLET');
  const client = h.authClient({redirectUri: undefined});
  const err = await h.rejectsWith(client.exchangeCode(code));
  assert.ok(err instanceof smartcar.SmartcarError);
  assert.equal(err.statusCode, 400);
});

test('bad code', async() => {
  const err = await h.rejectsWith(h.authClient().exchangeCode('bad code here'));
  assert.ok(err instanceof smartcar.SmartcarError);
  assert.equal(err.statusCode, 400);
  assert.equal(err.type, 'invalid_request');
  assert.equal(err.description, 'Invalid code: bad code here.');
  assert.equal(err.message, 'invalid_request:undefined - Invalid code: bad code here.');
});

test('bad refresh token', async() => {
  const err = await h.rejectsWith(h.authClient().exchangeRefreshToken('THIS_SHOULD_NOT_WORK'));
  assert.ok(err instanceof smartcar.SmartcarError);
  assert.equal(err.statusCode, 400);
  assert.equal(err.description, 'Invalid refresh_token: THIS_SHOULD_NOT_WORK.');
});

test('bad client secret', async() => {
  const client = h.authClient({clientSecret: 'wrong'});
  const err = await h.rejectsWith(client.exchangeCode('whatever'));
  assert.equal(err.statusCode, 401);
  assert.equal(err.type, 'invalid_client');
});
