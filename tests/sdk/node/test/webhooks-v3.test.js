'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const {after, before, describe, test} = require('node:test');
const smartcar = require('smartcar');
const h = require('../support/helpers');

const V3_TOKEN = 'test-data-token';
const V3_VEHICLE = 'tst2e255-d3c8-4f90-9fec-e6e68b98e9cb';

function webhookId() {
  const {apps} = JSON.parse(fs.readFileSync(path.join(h.REPO_ROOT, 'fixtures', 'apps.json'), 'utf8'));
  const ids = (apps.find((a) => a.clientId === h.CLIENT_ID).webhooks || []).map((w) => w.id);
  assert.ok(ids.length, 'fixtures/apps.json: the demo app has no webhooks');
  return ids[0];
}

describe('webhooks, v3', () => {
  let volt;
  before(async() => {
    await h.startMock();
  });
  after(h.stopAll);

  describe('webhooks', h.needs('webhooks'), () => {
    before(async() => {
      const chevy = await h.connect('CHEVROLET');
      volt = new smartcar.Vehicle(chevy.vehicleId, chevy.access.accessToken);
    });

    test('subscribe (empty JSON POST) and unsubscribe (DELETE with {} body, Bearer AMT)', async() => {
      const id = webhookId();
      const sub = await volt.subscribe(id);
      h.assertKeys(sub, ['webhookId', 'vehicleId']);
      assert.deepEqual([sub.webhookId, sub.vehicleId], [id, volt.id]);
      const unsub = await volt.unsubscribe(h.AMT, id);
      h.assertKeys(unsub, ['status']);
      assert.equal(unsub.status, 'success');
    });

    test('subscribe to an unknown webhook is 400 VALIDATION', async() => {
      const err = await h.rejectsWith(volt.subscribe('00000000-0000-4000-8000-000000000000'));
      assert.equal(err.statusCode, 400);
      assert.equal(err.type, 'VALIDATION');
    });

    test('unsubscribe with a bad AMT is 401 before the webhook id is checked', async() => {
      const err = await h.rejectsWith(volt.unsubscribe('not-the-amt', 'not-a-webhook'));
      assert.equal(err.statusCode, 401);
      assert.equal(err.type, 'AUTHENTICATION');
    });
  });

  test('verifyPayload on a real delivery', h.needs('webhook-delivery'), async() => {
    // A receiver on port 0 that answers VERIFY challenges and records every delivery.
    const received = [];
    const server = http.createServer((req, res) => {
      let data = '';
      req.on('data', (chunk) => {
        data += chunk;
      });
      req.on('end', () => {
        const body = JSON.parse(data);
        received.push({signature: req.headers['sc-signature'], body});
        const challenge = (body.data || {}).challenge;
        res.writeHead(200, {'content-type': 'application/json'});
        res.end(JSON.stringify(challenge ? {challenge: smartcar.hashChallenge(h.AMT, challenge)} : {}));
      });
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const chevy = await h.connect('CHEVROLET');
      const vehicle = new smartcar.Vehicle(chevy.vehicleId, chevy.access.accessToken);
      // The mock's stand-in for the Dashboard: a new callback URL is verified there at once.
      const put = await fetch(`${process.env.SMARTCAR_API_ORIGIN}/v2.0/webhooks/${webhookId()}`, {
        method: 'PUT',
        headers: {'authorization': `Bearer ${h.AMT}`, 'content-type': 'application/json'},
        body: JSON.stringify({callbackUrl: `http://127.0.0.1:${server.address().port}/webhook`}),
      });
      assert.equal(put.status, 200);
      await vehicle.subscribe(webhookId());
      const deadline = Date.now() + 10000;
      while (received.length < 2 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.ok(received.length >= 2, 'a VERIFY and a first delivery arrive');
      for (const {signature, body} of received) {
        assert.ok(smartcar.verifyPayload(h.AMT, signature, body), JSON.stringify(body));
      }
    } finally {
      server.close();
    }
  });

  describe('what events carry', h.needs('webhook-delivery'), () => {
    // The permission each webhook signal needs (the vehicle-API read at its path needs it).
    const SIGNAL_PERMISSION = {
      'odometer-traveleddistance': 'read_odometer',
      'location-preciselocation': 'read_location',
      'tractionbattery-stateofcharge': 'read_battery',
      'tractionbattery-range': 'read_battery',
      'charge-ischarging': 'read_charge',
      'charge-ischargingcableconnected': 'read_charge',
      'charge-chargelimit': 'read_charge',
      'closure-islocked': 'read_security',
      'internalcombustionengine-fuellevel': 'read_fuel',
      'internalcombustionengine-oillife': 'read_engine_oil',
    };

    /**
     * Points the webhook at a fresh receiver, subscribes `vehicle`, waits for one event of each
     * of `types` about it (every delivery checked with `verifyPayload`), unsubscribes.
     * Resolves with {eventType: event}.
     */
    async function eventsAbout(vehicle, types) {
      const received = [];
      const server = http.createServer((req, res) => {
        let data = '';
        req.on('data', (chunk) => {
          data += chunk;
        });
        req.on('end', () => {
          const body = JSON.parse(data);
          received.push({signature: req.headers['sc-signature'], body});
          const challenge = (body.data || {}).challenge;
          res.writeHead(200, {'content-type': 'application/json'});
          res.end(JSON.stringify(challenge ? {challenge: smartcar.hashChallenge(h.AMT, challenge)} : {}));
        });
      });
      await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const put = await fetch(`${process.env.SMARTCAR_API_ORIGIN}/v2.0/webhooks/${webhookId()}`, {
          method: 'PUT',
          headers: {'authorization': `Bearer ${h.AMT}`, 'content-type': 'application/json'},
          body: JSON.stringify({callbackUrl: `http://127.0.0.1:${server.address().port}/webhook`}),
        });
        assert.equal(put.status, 200);
        await vehicle.subscribe(webhookId());
        const deadline = Date.now() + 10000;
        let events = {};
        while (Date.now() < deadline) {
          events = {};
          for (const {signature, body} of received) {
            assert.ok(smartcar.verifyPayload(h.AMT, signature, body), JSON.stringify(body));
            if (((body.data || {}).vehicle || {}).id === vehicle.id) {
              events[body.eventType] = body;
            }
          }
          if (types.every((type) => type in events)) {
            break;
          }
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        assert.deepEqual(types.filter((type) => !(type in events)), [], 'every event type arrived');
        return events;
      } finally {
        await vehicle.unsubscribe(h.AMT, webhookId());
        server.close();
      }
    }

    test('only the signals the grant permits', async() => {
      const ford = await h.connect('FORD', h.FORD_SCOPE);
      const vehicle = new smartcar.Vehicle(ford.vehicleId, ford.access.accessToken);
      const granted = h.FORD_SCOPE.map((p) => p.replace(/^required:/, ''));

      const events = await eventsAbout(vehicle, ['VEHICLE_STATE', 'VEHICLE_ERROR']);

      const stateCodes = events.VEHICLE_STATE.data.signals.map((s) => s.code);
      const errorCodes = events.VEHICLE_ERROR.data.errors.flatMap((e) => e.signals);
      assert.ok(stateCodes.length, 'the BEV reports its battery');
      for (const code of [...stateCodes, ...errorCodes]) {
        assert.ok(granted.includes(SIGNAL_PERMISSION[code]), `${code} needs ${SIGNAL_PERMISSION[code]}`);
      }
      // read_fuel is granted but a BEV has no fuel: an error, not left out.
      assert.ok(errorCodes.includes('internalcombustionengine-fuellevel'), JSON.stringify(errorCodes));
    });

    test('a <TYPE>.<CODE>@smartcar.com login\'s error, as a VEHICLE_ERROR', async() => {
      const code = await h.getCode('CHEVROLET', h.FULL_SCOPE, {}, {username: 'VEHICLE_STATE.UNKNOWN@smartcar.com'});
      const access = await h.authClient().exchangeCode(code);
      const {vehicles} = await smartcar.getVehicles(access.accessToken);
      const vehicle = new smartcar.Vehicle(vehicles[0], access.accessToken);
      const err = await h.rejectsWith(vehicle.odometer());

      const events = await eventsAbout(vehicle, ['VEHICLE_ERROR']);

      const errors = events.VEHICLE_ERROR.data.errors;
      assert.deepEqual(errors.map((e) => [e.type, e.code, e.state]), [[err.type, err.code, 'ERROR']]);
      assert.deepEqual([err.type, err.code], ['VEHICLE_STATE', 'UNKNOWN']);
      assert.ok(errors[0].signals.includes('odometer-traveleddistance'));
    });
  });

  describe('v3 (SMARTCAR_API_V3_ORIGIN)', h.needs('v3'), () => {
    test('getVehicle', async() => {
      const res = await smartcar.getVehicle(V3_TOKEN, V3_VEHICLE);
      assert.equal(res.body.id, V3_VEHICLE);
      assert.equal(typeof res.headers, 'object');
    });

    test('getSignals / getSignal', async() => {
      const v = new smartcar.Vehicle(V3_VEHICLE, V3_TOKEN);
      const signals = await v.getSignals();
      assert.equal(signals.body.data[0].attributes.status.value, 'SUCCESS');
      // smartcar@10.4.0 replaces the body's `meta` (totalCount, page) with the response headers.
      assert.equal(signals.body.meta, undefined);
      assert.equal(signals.body.data.length, 2);
      assert.equal(signals.body.included.vehicle.attributes.make, 'TESLA');
      assert.equal(typeof signals.headers['sc-request-id'], 'string');
      const one = await v.getSignal('odometer-traveleddistance');
      assert.equal(one.body.id, 'odometer-traveleddistance');
    });
  });
});
