'use strict';

const assert = require('node:assert/strict');
const {after, before, describe, test} = require('node:test');
const smartcar = require('smartcar');
const h = require('../support/helpers');

describe('management API (getConnections / deleteConnections)', h.needs('management'), () => {
  let bmw;
  let userId;
  before(async() => {
    await h.startMock();
    bmw = await h.connect('BMW', ['required:read_odometer']);
    userId = (await smartcar.getUser(bmw.access.accessToken)).id;
  });
  after(h.stopAll);

  test('getConnections lists this app\'s connections, newest first', async() => {
    const res = await smartcar.getConnections(h.AMT);
    h.assertKeys(res, ['connections', 'paging']);
    assert.ok(res.connections.some((c) => c.vehicleId === bmw.vehicleId && c.userId === userId));
    for (const c of res.connections) {
      assert.deepEqual(Object.keys(c).sort(), ['connectedAt', 'userId', 'vehicleId']);
      assert.match(c.connectedAt, h.TIMESTAMP_RE);
    }
    const dates = res.connections.map((c) => c.connectedAt);
    assert.deepEqual(dates, [...dates].sort().reverse());
    h.assertUuid(res.meta.requestId);
  });

  test('getConnections filters; limit=1 equals the user\'s vehicle count', async() => {
    const byVehicle = await smartcar.getConnections(h.AMT, {vehicleId: bmw.vehicleId});
    assert.deepEqual(byVehicle.connections.map((c) => [c.vehicleId, c.userId]), [[bmw.vehicleId, userId]]);
    const byUser = await smartcar.getConnections(h.AMT, {userId}, {limit: 1});
    assert.equal(byUser.connections.length, 1);
  });

  test('getConnections paging with cursor', async() => {
    await h.connect('CHEVROLET');
    const first = await smartcar.getConnections(h.AMT, {}, {limit: 1});
    assert.equal(first.connections.length, 1);
    assert.ok(first.paging.cursor);
    const second = await smartcar.getConnections(h.AMT, {}, {limit: 1, cursor: first.paging.cursor});
    assert.equal(second.connections.length, 1);
    assert.notDeepEqual(second.connections[0], first.connections[0]);
  });

  test('deleteConnections by vehicle revokes access', async() => {
    const res = await smartcar.deleteConnections(h.AMT, {vehicleId: bmw.vehicleId});
    assert.deepEqual(res.connections, [{vehicleId: bmw.vehicleId, userId}]);
    const err = await h.rejectsWith(new smartcar.Vehicle(bmw.vehicleId, bmw.access.accessToken).odometer());
    assert.ok(err instanceof smartcar.SmartcarError);
  });

  test('deleteConnections by user', async() => {
    const other = await h.connect('KIA');
    const otherUser = (await smartcar.getUser(other.access.accessToken)).id;
    const res = await smartcar.deleteConnections(h.AMT, {userId: otherUser});
    assert.deepEqual(res.connections, [{vehicleId: other.vehicleId, userId: otherUser}]);
  });

  test('bad AMT is 401 AUTHENTICATION', async() => {
    const err = await h.rejectsWith(smartcar.getConnections('not-the-amt'));
    assert.equal(err.statusCode, 401);
    assert.equal(err.type, 'AUTHENTICATION');
  });
});
