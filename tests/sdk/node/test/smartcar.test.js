'use strict';

const assert = require('node:assert/strict');
const {after, before, test} = require('node:test');
const smartcar = require('smartcar');
const h = require('../support/helpers');

let chevy;
before(async() => {
  await h.startMock();
  chevy = await h.connect('CHEVROLET');
});
after(h.stopAll);

test('getUser (GET /v2.0/user/ with trailing slash)', async() => {
  const user = await smartcar.getUser(chevy.access.accessToken);
  h.assertKeys(user, ['id']);
  h.assertUuid(user.id);
  h.assertUuid(user.meta.requestId);
});

test('getVehicles (GET /v2.0/vehicles/ with trailing slash)', async() => {
  const res = await smartcar.getVehicles(chevy.access.accessToken);
  h.assertKeys(res, ['vehicles', 'paging']);
  assert.deepEqual(res.vehicles, [chevy.vehicleId]);
  assert.deepEqual(res.paging, {count: 1, offset: 0});
  h.assertUuid(res.meta.requestId);
});

test('getVehicles paging (limit/offset sent as strings by URLSearchParams)', async() => {
  const first = await smartcar.getVehicles(chevy.access.accessToken, {limit: 1, offset: 0});
  assert.deepEqual(first.vehicles, [chevy.vehicleId]);
  const beyond = await smartcar.getVehicles(chevy.access.accessToken, {limit: '1', offset: '1'});
  assert.deepEqual(beyond.vehicles, []);
  assert.deepEqual(beyond.paging, {count: 1, offset: 1});
});

test('setApiVersion / getApiVersion', async() => {
  assert.equal(smartcar.getApiVersion(), '2.0');
  smartcar.setApiVersion('1.0');
  try {
    const res = await smartcar.getVehicles(chevy.access.accessToken);
    assert.deepEqual(res.vehicles, [chevy.vehicleId]);
    h.assertUuid((await smartcar.getUser(chevy.access.accessToken)).id);
    const v1 = new smartcar.Vehicle(chevy.vehicleId, chevy.access.accessToken);
    assert.equal(v1.version, '1.0');
    h.assertNumber((await v1.odometer()).distance);
  } finally {
    smartcar.setApiVersion('2.0');
  }
});

test('getUser with a bad token', async() => {
  const err = await h.rejectsWith(smartcar.getUser('not-a-token'));
  assert.ok(err instanceof smartcar.SmartcarError);
  assert.equal(err.statusCode, 401);
  assert.equal(err.type, 'AUTHENTICATION');
  assert.equal(err.code, undefined); // null in the body; Node copies only truthy fields
  assert.match(err.message, /^AUTHENTICATION:null - The authorization header is missing or malformed/);
  assert.equal(err.docURL, 'https://smartcar.com/docs/errors/api-errors/authentication-errors#null');
  assert.deepEqual(err.resolution, {type: null});
  h.assertUuid(err.requestId);
});

test('hashChallenge and verifyPayload vectors', () => {
  assert.equal(
    smartcar.hashChallenge('amt', 'challenge'),
    '9baf5a7464bd86740ad5a06e439dcf535a075022ed2c92d74efacf646d79328e',
  );
  assert.ok(smartcar.verifyPayload(
    'amt',
    '4c05a8da471f05156ad717baa4017acd13a3a809850b9ca7d3301dcaaa854f70',
    {pizza: 'pasta'},
  ));
});
