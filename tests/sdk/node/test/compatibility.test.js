'use strict';

const assert = require('node:assert/strict');
const {after, before, describe, test} = require('node:test');
const smartcar = require('smartcar');
const h = require('../support/helpers');

describe('compatibility API', h.needs('compatibility'), () => {
  before(h.startMock);
  after(h.stopAll);

  test('Tesla VIN: compatible, every capability capable', async() => {
    const res = await smartcar.getCompatibility('5YJXCDE22HF068739', ['read_odometer', 'read_location'], 'US');
    h.assertKeys(res, ['compatible', 'reason', 'capabilities']);
    assert.equal(res.compatible, true);
    assert.equal(res.reason, null);
    assert.equal(res.capabilities.length, 2);
    for (const c of res.capabilities) {
      assert.deepEqual(Object.keys(c).sort(), ['capable', 'endpoint', 'permission', 'reason']);
      assert.equal(c.capable, true);
    }
    h.assertUuid(res.meta.requestId);
  });

  test('Audi VIN: compatible, no capability capable', async() => {
    const res = await smartcar.getCompatibility('WAUAFAFL1GN014882', ['read_odometer', 'read_location']);
    assert.equal(res.compatible, true);
    assert.equal(res.reason, null);
    assert.equal(res.capabilities.length, 2);
    assert.ok(res.capabilities.every((c) => c.capable === false));
  });

  test('BMW VIN: not compatible, no capabilities', async() => {
    const res = await smartcar.getCompatibility('WBAKE5C58DJ107700', ['read_odometer', 'read_location'], {
      clientId: h.CLIENT_ID,
      clientSecret: h.CLIENT_SECRET,
    });
    assert.equal(res.compatible, false);
    assert.equal(res.reason, 'VEHICLE_NOT_COMPATIBLE');
    assert.deepEqual(res.capabilities, []);
  });

  test('test mode without a level is 400 VALIDATION with detail', async() => {
    const err = await h.rejectsWith(
      smartcar.getCompatibility('5YJXCDE22HF068739', ['read_odometer'], {mode: 'test'}),
    );
    assert.equal(err.statusCode, 400);
    assert.equal(err.type, 'VALIDATION');
    assert.deepEqual(err.detail, [{
      field: 'test_mode_compatibility_level',
      message: 'Field must be one of: [compatible,phev,incompatible,fuel,dinosaur,bev]',
    }]);
  });

  test('test mode with a level', async() => {
    const res = await smartcar.getCompatibility('5YJXCDE22HF068739', ['read_odometer'], {
      testModeCompatibilityLevel: 'compatible',
    });
    assert.equal(typeof res.compatible, 'boolean');
  });

  test('getCompatibilityMatrix', async() => {
    const res = await smartcar.getCompatibilityMatrix('US', {
      scope: ['read_battery', 'read_charge'],
      make: 'NISSAN',
      type: 'BEV',
    });
    assert.ok(Array.isArray(res.NISSAN) && res.NISSAN.length > 0);
    for (const entry of res.NISSAN) {
      assert.deepEqual(Object.keys(entry).sort(), ['endYear', 'endpoints', 'model', 'permissions', 'startYear', 'type']);
      assert.equal(entry.type, 'BEV');
      assert.ok(entry.permissions.includes('read_battery') && entry.permissions.includes('read_charge'));
    }
  });
});
