'use strict';

const assert = require('node:assert/strict');
const {after, before, test} = require('node:test');
const smartcar = require('smartcar');
const h = require('../support/helpers');

const ACTION = {status: 'success', message: 'Successfully sent request to vehicle'};
const MI = 1.609344;

let chevy;
let ford;
let kia;
let volt;
let voltImperial;
before(async() => {
  await h.startMock();
  chevy = await h.connect('CHEVROLET');
  ford = await h.connect('FORD', h.FORD_SCOPE);
  kia = await h.connect('KIA');
  volt = new smartcar.Vehicle(chevy.vehicleId, chevy.access.accessToken);
  voltImperial = new smartcar.Vehicle(chevy.vehicleId, chevy.access.accessToken, {unitSystem: 'imperial'});
});
after(h.stopAll);

const fraction = (x) => {
  h.assertNumber(x);
  assert.ok(x >= 0 && x <= 1, String(x));
};

// ------------------------------------------------------------------ reads (exact key sets)

test('attributes (GET /vehicles/{id}/)', async() => {
  const res = await volt.attributes();
  h.assertKeys(res, ['id', 'make', 'model', 'year']);
  assert.deepEqual([res.id, res.make, res.model], [chevy.vehicleId, 'CHEVROLET', 'Volt']);
  h.assertUuid(res.meta.requestId);
});

test('vin', async() => {
  const res = await volt.vin();
  h.assertKeys(res, ['vin']);
  assert.equal(res.vin.length, 17);
});

test('odometer', async() => {
  const res = await volt.odometer();
  h.assertKeys(res, ['distance']);
  h.assertNumber(res.distance);
  h.assertDataMeta(res.meta);
});

test('location', async() => {
  const res = await volt.location();
  h.assertKeys(res, ['latitude', 'longitude']);
  h.assertNumber(res.latitude);
  h.assertNumber(res.longitude);
  h.assertDataMeta(res.meta);
});

test('fuel', async() => {
  const res = await volt.fuel();
  h.assertKeys(res, ['range', 'percentRemaining', 'amountRemaining']);
  fraction(res.percentRemaining);
  h.assertDataMeta(res.meta);
});

test('battery', async() => {
  const res = await volt.battery();
  h.assertKeys(res, ['percentRemaining', 'range']);
  fraction(res.percentRemaining);
  h.assertDataMeta(res.meta);
});

test('batteryCapacity', h.needs('battery-capacity'), async() => {
  const res = await volt.batteryCapacity();
  h.assertKeys(res, ['capacity']);
  h.assertNumber(res.capacity);
});

test('nominalCapacity', h.needs('battery-capacity'), async() => {
  const res = await volt.nominalCapacity();
  h.assertKeys(res, ['availableCapacities', 'capacity', 'url']);
  assert.ok(res.availableCapacities.length >= 1);
  h.assertNumber(res.capacity.nominal);
});

test('charge', async() => {
  const res = await volt.charge();
  h.assertKeys(res, ['isPluggedIn', 'state']);
  assert.equal(typeof res.isPluggedIn, 'boolean');
  assert.ok(['CHARGING', 'FULLY_CHARGED', 'NOT_CHARGING'].includes(res.state));
  h.assertDataMeta(res.meta);
});

test('getChargeLimit', h.needs('charge-limit'), async() => {
  const res = await volt.getChargeLimit();
  h.assertKeys(res, ['limit']);
  fraction(res.limit);
  h.assertDataMeta(res.meta);
});

test('engineOil', async() => {
  const res = await volt.engineOil();
  h.assertKeys(res, ['lifeRemaining']);
  fraction(res.lifeRemaining);
  h.assertDataMeta(res.meta);
});

test('tirePressure', async() => {
  const res = await volt.tirePressure();
  h.assertKeys(res, ['frontLeft', 'frontRight', 'backLeft', 'backRight']);
  h.assertDataMeta(res.meta);
});

test('lockStatus', async() => {
  const res = await volt.lockStatus();
  h.assertKeys(res, ['isLocked', 'doors', 'windows', 'sunroof', 'storage', 'chargingPort']);
  assert.equal(typeof res.isLocked, 'boolean');
  h.assertDataMeta(res.meta);
});

test('serviceHistory with and without dates (no dates sends start_date=undefined)', h.needs('service-history'), async() => {
  const res = await volt.serviceHistory('2020-01-01', '2030-01-01');
  assert.ok(Array.isArray(res.data) && res.data.length >= 1);
  for (const record of res.data) {
    h.assertNumber(record.odometerDistance);
  }
  h.assertDataMeta(res.meta);
  const all = await volt.serviceHistory();
  assert.ok(Array.isArray(all.data));
});

test('diagnosticSystemStatus / diagnosticTroubleCodes', h.needs('diagnostics'), async() => {
  const status = await volt.diagnosticSystemStatus();
  h.assertKeys(status, ['systems']);
  assert.ok(status.systems.length >= 1);
  const dtcs = await volt.diagnosticTroubleCodes();
  h.assertKeys(dtcs, ['activeCodes']);
  assert.ok(dtcs.activeCodes.length >= 1);
});

test('permissions and paging', async() => {
  const expected = [...new Set(h.FULL_SCOPE.map((p) => p.replace('required:', '')))].sort();
  const res = await volt.permissions();
  h.assertKeys(res, ['permissions', 'paging']);
  assert.deepEqual([...res.permissions].sort(), expected);
  assert.deepEqual(res.paging, {count: expected.length, offset: 0});
  const page = await volt.permissions({limit: 2, offset: 1});
  assert.deepEqual(page.permissions, res.permissions.slice(1, 3));
  assert.deepEqual(page.paging, {count: expected.length, offset: 1});
});

// ------------------------------------------------------------------ units, versions, request()

test('imperial units', async() => {
  const metric = await volt.odometer();
  const imperial = await voltImperial.odometer();
  assert.equal(imperial.meta.unitSystem, 'imperial');
  assert.ok(Math.abs(imperial.distance - metric.distance / MI) < metric.distance * 1e-3);
});

test('v1.0 vehicle', async() => {
  const v1 = new smartcar.Vehicle(chevy.vehicleId, chevy.access.accessToken, {version: '1.0'});
  h.assertNumber((await v1.odometer()).distance);
});

test('vehicle flags', async() => {
  const v = new smartcar.Vehicle(chevy.vehicleId, chevy.access.accessToken, {flags: {country: 'DE', flag: true}});
  h.assertNumber((await v.odometer()).distance);
});

test('request(): GET odometer with imperial header', async() => {
  const res = await volt.request('get', 'odometer', null, {'sc-unit-system': 'imperial'});
  assert.deepEqual(Object.keys(res.body), ['distance']);
  assert.equal(res.meta.unitSystem, 'imperial');
  h.assertUuid(res.meta.requestId);
});

test('request(): POST batch returns the raw batch body', h.needs('batch'), async() => {
  const res = await volt.request('post', 'batch', {requests: [{path: '/odometer'}, {path: '/tires/pressure'}]});
  assert.deepEqual(res.body.responses.map((r) => r.path), ['/odometer', '/tires/pressure']);
  assert.equal(res.body.responses[0].headers['sc-unit-system'], 'metric');
});

test('request(): bad bearer and Basic credentials are 401 AUTHENTICATION', async() => {
  for (const auth of ['Bearer abc', `Basic ${Buffer.from('abc:def').toString('base64')}`]) {
    const err = await h.rejectsWith(volt.request('get', 'odometer', null, {Authorization: auth}));
    assert.equal(err.statusCode, 401);
    assert.equal(err.type, 'AUTHENTICATION');
  }
});

// ------------------------------------------------------------------ batch

test('batch of every path', h.needs('batch', 'battery-capacity', 'charge-limit', 'diagnostics'), async() => {
  const res = await volt.batch([
    '/odometer', '/location', '/engine/oil', '/vin', '/tires/pressure', '/fuel', '/battery',
    '/battery/capacity', '/charge', '/charge/limit', '/security', '/diagnostics/system_status',
    '/diagnostics/dtcs', '/',
  ]);
  const odometer = res.odometer();
  h.assertKeys(odometer, ['distance']);
  assert.equal(odometer.meta.unitSystem, 'metric');
  h.assertUuid(odometer.meta.requestId);
  assert.ok(odometer.meta.dataAge instanceof Date);
  h.assertKeys(res.tirePressure(), ['frontLeft', 'frontRight', 'backLeft', 'backRight']);
  h.assertKeys(res.lockStatus(), ['isLocked', 'doors', 'windows', 'sunroof', 'storage', 'chargingPort']);
  h.assertKeys(res.attributes(), ['id', 'make', 'model', 'year']);
  h.assertKeys(res.diagnosticSystemStatus(), ['systems']);
  h.assertKeys(res.diagnosticTroubleCodes(), ['activeCodes']);
  h.assertKeys(res.chargeLimit(), ['limit']);
  h.assertKeys(res.batteryCapacity(), ['capacity']);
  h.assertKeys(res.engineOil(), ['lifeRemaining']);
  h.assertKeys(res.vin(), ['vin']);
  h.assertKeys(res.location(), ['latitude', 'longitude']);
  h.assertKeys(res.fuel(), ['range', 'percentRemaining', 'amountRemaining']);
  h.assertKeys(res.battery(), ['percentRemaining', 'range']);
  h.assertKeys(res.charge(), ['isPluggedIn', 'state']);
});

test('batch item permission error', h.needs('batch'), async() => {
  const v = new smartcar.Vehicle(ford.vehicleId, ford.access.accessToken);
  const res = await v.batch(['/battery', '/odometer']);
  fraction(res.battery().percentRemaining);
  let err;
  try {
    res.odometer();
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof smartcar.SmartcarError);
  assert.equal(err.type, 'PERMISSION');
  assert.deepEqual(err.resolution, {type: 'REAUTHENTICATE'});
  assert.match(err.message, /^PERMISSION:null - Your application has insufficient permissions/);
  // Node quirk: a batch item error carries the *batch* HTTP status (200), not the item's code.
  assert.equal(err.statusCode, 200);
  h.assertUuid(err.requestId);
});

test('batch with an unknown path is 400 VALIDATION', h.needs('batch'), async() => {
  const err = await h.rejectsWith(volt.batch(['/odometer', '/LOCATIONNNNNNNN']));
  assert.equal(err.statusCode, 400);
  assert.equal(err.type, 'VALIDATION');
});

// ------------------------------------------------------------------ commands

test('lock / unlock', h.needs('commands'), async() => {
  assert.deepEqual({...(await volt.lock()), meta: undefined}, {...ACTION, meta: undefined});
  assert.deepEqual({...(await volt.unlock()), meta: undefined}, {...ACTION, meta: undefined});
});

test('startCharge / stopCharge', h.needs('commands'), async() => {
  const v = new smartcar.Vehicle(ford.vehicleId, ford.access.accessToken);
  const start = await v.startCharge();
  h.assertKeys(start, ['status', 'message']);
  assert.equal(start.message, ACTION.message);
  const stop = await v.stopCharge();
  assert.equal(stop.message, ACTION.message);
});

test('setChargeLimit sends the limit as a string', h.needs('commands', 'charge-limit'), async() => {
  const v = new smartcar.Vehicle(kia.vehicleId, kia.access.accessToken);
  const res = await v.setChargeLimit(0.7);
  h.assertKeys(res, ['status', 'message']);
  assert.equal(res.status, 'success');
  const limit = await v.getChargeLimit();
  assert.ok(Math.abs(limit.limit - 0.7) < 1e-9);
});

test('sendDestination', h.needs('commands'), async() => {
  const v = new smartcar.Vehicle(ford.vehicleId, ford.access.accessToken);
  const res = await v.sendDestination(47.6205063, -122.3518523);
  h.assertKeys(res, ['status', 'message']);
  assert.equal(res.status, 'success');
});

test('disconnect', h.needs('disconnect'), async() => {
  const v = new smartcar.Vehicle(kia.vehicleId, kia.access.accessToken);
  const res = await v.disconnect();
  h.assertKeys(res, ['status']);
  assert.equal(res.status, 'success');
  const err = await h.rejectsWith(v.odometer());
  assert.ok([401, 403, 404].includes(err.statusCode));
});
