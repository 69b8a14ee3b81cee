'use strict';

const assert = require('node:assert/strict');
const {after, before, test} = require('node:test');
const smartcar = require('smartcar');
const h = require('../support/helpers');

const AUTH = 'The authorization header is missing or malformed, or it contains invalid or expired '
  + 'authentication credentials. Please check for missing parameters, spelling and casing mistakes, '
  + 'and other syntax issues.';
const PERMISSION = 'Your application has insufficient permissions to access the requested resource. '
  + 'Please prompt the user to re-authenticate using Smartcar Connect.';
const VALIDATION = 'Request invalid or malformed. Please check for missing parameters, spelling and '
  + 'casing mistakes, and other syntax issues.';

let chevy;
let ford;
before(async() => {
  await h.startMock();
  chevy = await h.connect('CHEVROLET');
  ford = await h.connect('FORD', h.FORD_SCOPE);
});
after(h.stopAll);

test('bad access token on a vehicle call', async() => {
  const err = await h.rejectsWith(new smartcar.Vehicle(chevy.vehicleId, 'not-a-token').odometer());
  assert.ok(err instanceof smartcar.SmartcarError);
  assert.equal(err.name, 'SmartcarError');
  assert.equal(err.statusCode, 401);
  assert.equal(err.type, 'AUTHENTICATION');
  assert.equal(err.description, AUTH);
  assert.equal(err.message, `AUTHENTICATION:null - ${AUTH}`);
  assert.equal(err.docURL, 'https://smartcar.com/docs/errors/api-errors/authentication-errors#null');
  assert.deepEqual(err.resolution, {type: null});
  assert.equal(err.detail, undefined);
  h.assertUuid(err.requestId);
});

test('bad vehicle id on v2 is 400 VALIDATION', async() => {
  const err = await h.rejectsWith(new smartcar.Vehicle('bad_id', chevy.access.accessToken).odometer());
  assert.equal(err.statusCode, 400);
  assert.equal(err.type, 'VALIDATION');
  assert.equal(err.description, VALIDATION);
  assert.equal(err.message, `VALIDATION:null - ${VALIDATION}`);
  assert.equal(err.docURL, 'https://smartcar.com/docs/errors/api-errors/validation-errors#null');
  assert.deepEqual(err.resolution, {type: null});
  h.assertUuid(err.requestId);
});

test('bad vehicle id on v1 is validation_error', async() => {
  const v1 = new smartcar.Vehicle('bad_id', chevy.access.accessToken, {version: '1.0'});
  const err = await h.rejectsWith(v1.odometer());
  assert.equal(err.statusCode, 400);
  assert.equal(err.type, 'validation_error');
  assert.equal(err.code, undefined);
  assert.ok(err.description);
  assert.equal(err.message, `validation_error:undefined - ${err.description}`);
  h.assertUuid(err.requestId);
});

test('missing permission on v2 is 403 PERMISSION / REAUTHENTICATE', async() => {
  const v = new smartcar.Vehicle(ford.vehicleId, ford.access.accessToken);
  for (const call of [() => v.odometer(), () => v.location()]) {
    const err = await h.rejectsWith(call());
    assert.equal(err.statusCode, 403);
    assert.equal(err.type, 'PERMISSION');
    assert.equal(err.description, PERMISSION);
    assert.equal(err.message, `PERMISSION:null - ${PERMISSION}`);
    assert.equal(err.docURL, 'https://smartcar.com/docs/errors/api-errors/permission-errors#null');
    assert.deepEqual(err.resolution, {type: 'REAUTHENTICATE'});
    h.assertUuid(err.requestId);
  }
});

test('missing permission on v1 is permission_error', async() => {
  const v1 = new smartcar.Vehicle(ford.vehicleId, ford.access.accessToken, {version: '1.0'});
  const err = await h.rejectsWith(v1.odometer());
  assert.equal(err.statusCode, 403);
  assert.equal(err.type, 'permission_error');
  assert.equal(err.description, 'Insufficient permissions to access requested resource.');
  h.assertUuid(err.requestId);
});

test('capability error: FORD BEV has no fuel', async() => {
  const err = await h.rejectsWith(new smartcar.Vehicle(ford.vehicleId, ford.access.accessToken).fuel());
  assert.equal(err.statusCode, 501);
  assert.equal(err.type, 'COMPATIBILITY');
  assert.equal(err.code, 'VEHICLE_NOT_CAPABLE');
  assert.ok(err.docURL.startsWith('https://smartcar.com/docs/'));
  h.assertUuid(err.requestId);
});

test('bad API version is 404 RESOURCE_NOT_FOUND', async() => {
  const v = new smartcar.Vehicle(chevy.vehicleId, chevy.access.accessToken, {version: 'Johnny Appleseed'});
  const err = await h.rejectsWith(v.odometer());
  assert.equal(err.statusCode, 404);
  assert.equal(err.type, 'RESOURCE_NOT_FOUND');
  assert.equal(err.code, 'VERSION');
  h.assertUuid(err.requestId);
});

test('unknown path is 404 RESOURCE_NOT_FOUND:PATH', async() => {
  const v = new smartcar.Vehicle(chevy.vehicleId, chevy.access.accessToken);
  const err = await h.rejectsWith(v.request('get', 'not/a/real/path'));
  assert.equal(err.statusCode, 404);
  assert.equal(err.type, 'RESOURCE_NOT_FOUND');
  assert.equal(err.code, 'PATH');
});
