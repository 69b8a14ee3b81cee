'use strict';

// Shared setup for the Node SDK conformance suite: start a fresh mock on port 0, point the
// `smartcar` npm SDK at it through its environment variables, and get codes by driving headless
// Chromium through the Connect pages with selenium-webdriver (like node-sdk's own e2e helpers).

const assert = require('node:assert/strict');
const {spawn} = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

const SDK_DIR = path.resolve(__dirname, '..', '..');
const REPO_ROOT = path.resolve(SDK_DIR, '..', '..');

const CLIENT_ID = 'demo-client';
const CLIENT_SECRET = 'demo-secret';
const AMT = 'demo-amt';
const REDIRECT_URI = 'https://example.com/auth';

// node-sdk e2e DEFAULT_SCOPES plus everything else the vehicle methods need.
const FULL_SCOPE = [
  'required:read_vehicle_info',
  'required:read_location',
  'required:read_odometer',
  'required:control_security',
  'required:read_vin',
  'required:read_fuel',
  'required:read_battery',
  'required:read_charge',
  'required:read_engine_oil',
  'required:read_tires',
  'required:read_user_profile',
  'required:read_diagnostics',
  'read_security',
  'control_charge',
  'control_navigation',
  'read_service_history',
];

// No read_odometer / read_location (missing-permission cases); read_fuel on a BEV (capability).
const FORD_SCOPE = [
  'required:read_vehicle_info',
  'required:read_battery',
  'required:read_charge',
  'control_charge',
  'read_security',
  'control_security',
  'control_navigation',
  'read_fuel',
  'read_service_history',
  'read_diagnostics',
];

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const TIMESTAMP_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

const state = {};

// Features listed in tests/sdk/pending-features.txt, or in $SDK_PENDING_FEATURES (comma/space
// separated; set it empty to run every test against whatever the mock has).
function pendingFeatures() {
  if (process.env.SDK_PENDING_FEATURES !== undefined) {
    return new Set(process.env.SDK_PENDING_FEATURES.split(/[\s,]+/).filter(Boolean));
  }
  return new Set(
    fs.readFileSync(path.join(SDK_DIR, 'pending-features.txt'), 'utf8')
      .split('\n')
      .map((line) => line.replace(/#.*/, '').trim())
      .filter(Boolean),
  );
}

/** Options for `test()`: skip with a clear reason while the mock lacks `features`. */
function needs(...features) {
  const pending = pendingFeatures();
  const missing = features.filter((f) => pending.has(f));
  return missing.length ? {skip: `not implemented in mock yet: ${missing.join(', ')}`} : {};
}

function mockBinary() {
  const bin = process.env.MOCK_SERVER_BIN || 'target/debug/mock-server';
  const candidates = path.isAbsolute(bin) ? [bin] : [path.resolve(bin), path.resolve(REPO_ROOT, bin)];
  const found = candidates.find((p) => fs.existsSync(p));
  if (!found) {
    throw new Error(`mock server binary not found (${candidates.join(', ')}); set MOCK_SERVER_BIN`);
  }
  return found;
}

/** Spawn the mock on port 0; resolve with its origin from the first stdout line. */
async function startMock() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sdk-node-mock-'));
  const log = fs.openSync(path.join(tmp, 'mock-stderr.log'), 'w');
  const child = spawn(mockBinary(), ['--addr', '127.0.0.1:0'], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', log],
  });
  const lines = readline.createInterface({input: child.stdout});
  const origin = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('mock did not start within 30 s')), 30000);
    child.once('exit', (code) => reject(new Error(`mock exited early (${code}); see ${tmp}`)));
    lines.once('line', (line) => {
      clearTimeout(timer);
      const m = /^listening on (http:\/\/127\.0\.0\.1:\d+)$/.exec(line);
      if (m) {
        resolve(m[1]);
      } else {
        reject(new Error(`unexpected first line from mock: ${JSON.stringify(line)}`));
      }
    });
  });
  lines.on('line', () => {}); // keep draining
  Object.assign(state, {child, origin, tmp});

  // The SDK reads these per call / per constructor, so setting them now is enough.
  process.env.SMARTCAR_API_ORIGIN = origin;
  process.env.SMARTCAR_AUTH_ORIGIN = origin; // Node: an origin, the SDK appends /oauth/token
  process.env.SMARTCAR_MANAGEMENT_API_ORIGIN = origin;
  process.env.SMARTCAR_API_V3_ORIGIN = origin;
  // Node never reads SMARTCAR_CONNECT_ORIGIN (its Connect URL comes from SMARTCAR_API_ORIGIN):
  // point it somewhere unusable so a change in that behaviour would show.
  process.env.SMARTCAR_CONNECT_ORIGIN = 'http://connect-origin-is-not-read-by-node.invalid';
  process.env.SMARTCAR_CLIENT_ID = CLIENT_ID;
  process.env.SMARTCAR_CLIENT_SECRET = CLIENT_SECRET;
  return origin;
}

async function stopAll() {
  if (state.driver) {
    await state.driver.quit().catch(() => {});
    state.driver = undefined;
  }
  if (state.child && state.child.exitCode === null) {
    const exited = new Promise((resolve) => state.child.once('exit', resolve));
    state.child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (state.child.exitCode === null) {
      state.child.kill('SIGKILL');
    }
  }
  for (const dir of [state.tmp, state.chromeDir]) {
    if (dir) {
      fs.rmSync(dir, {recursive: true, force: true});
    }
  }
}

async function driver() {
  if (state.driver) {
    return state.driver;
  }
  const {Builder} = require('selenium-webdriver');
  const chrome = require('selenium-webdriver/chrome');
  state.chromeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sdk-node-chrome-'));
  const options = new chrome.Options()
    .setChromeBinaryPath(process.env.CHROMIUM_BIN || '/usr/bin/chromium')
    .addArguments(
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
      `--user-data-dir=${state.chromeDir}`,
    );
  const service = new chrome.ServiceBuilder(process.env.CHROMEDRIVER_BIN || '/usr/bin/chromedriver');
  state.driver = await new Builder()
    .forBrowser('chrome')
    .setChromeOptions(options)
    .setChromeService(service)
    .build();
  await state.driver.manage().setTimeouts({pageLoad: 20000});
  return state.driver;
}

/**
 * Drive Connect like node-sdk test/end-to-end/helpers: continue, type the make into the brand
 * search, click the brand, sign in with a fresh e-mail, approve (or deny). Returns the query of
 * the final redirect to https://example.com/auth as a plain object.
 */
async function runConnectFlow(authUrl, brand = 'CHEVROLET', {deny = false, skipBrand = false, username} = {}) {
  const {By, until} = require('selenium-webdriver');
  const d = await driver();
  await d.manage().deleteAllCookies();
  await d.get(authUrl);
  const wait = (locator) => d.wait(until.elementLocated(locator), 10000);

  await (await wait(By.css('button#continue-button'))).click();
  if (!skipBrand) {
    await (await wait(By.css('input#brand-search'))).sendKeys(brand);
    await (await wait(By.css(`button#${brand}.brand-list-item`))).click();
  }
  const signIn = await wait(By.id('sign-in-button'));
  await d.findElement(By.css('input[id=username]')).sendKeys(username || `${crypto.randomUUID()}@email.com`);
  await d.findElement(By.css('input[id=password]')).sendKeys('password');
  await signIn.click();

  await wait(By.css('.page-content'));
  const button = deny ? 'button[id=deny-button]' : 'button[id=approval-button]';
  try {
    await (await d.findElement(By.css(button))).click();
  } catch (err) {
    // The redirect goes to example.com, unreachable offline; the URL is all we need.
  }
  await d.wait(until.urlContains('example.com'), 10000);
  const url = new URL(await d.getCurrentUrl());
  assert.equal(`${url.origin}${url.pathname}`, REDIRECT_URI);
  return Object.fromEntries(url.searchParams);
}

function authClient(extra = {}) {
  const smartcar = require('smartcar');
  return new smartcar.AuthClient({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    redirectUri: REDIRECT_URI,
    mode: 'test',
    ...extra,
  });
}

async function getCode(brand = 'CHEVROLET', scope = FULL_SCOPE, options = {}, flow = {}) {
  const query = await runConnectFlow(authClient().getAuthUrl(scope, options), brand, flow);
  assert.ok(query.code, JSON.stringify(query));
  return query.code;
}

/** Connect + exchange. Resolves with {access, vehicleId}. */
async function connect(brand = 'CHEVROLET', scope = FULL_SCOPE) {
  const smartcar = require('smartcar');
  const access = await authClient().exchangeCode(await getCode(brand, scope));
  const {vehicles} = await smartcar.getVehicles(access.accessToken);
  assert.equal(vehicles.length, 1);
  return {access, vehicleId: vehicles[0]};
}

function assertUuid(value) {
  assert.match(String(value), UUID_RE);
}

/** Metadata of a vehicle data read: request id, unit system, data age, fetched-at. */
function assertDataMeta(meta, unitSystem = 'metric') {
  assertUuid(meta.requestId);
  assert.equal(meta.unitSystem, unitSystem);
  assert.ok(meta.dataAge instanceof Date && !Number.isNaN(meta.dataAge.getTime()), 'dataAge');
  assert.ok(meta.fetchedAt instanceof Date && !Number.isNaN(meta.fetchedAt.getTime()), 'fetchedAt');
}

/** Exact key set, plus the SDK's own `meta` (node-sdk e2e compares with _.xor). */
function assertKeys(obj, keys) {
  assert.deepEqual(Object.keys(obj).sort(), [...keys, 'meta'].sort());
}

/** A finite JSON number (JS cannot tell 219.0 from 219; the Python suite checks floats). */
function assertNumber(x) {
  assert.equal(typeof x, 'number');
  assert.ok(Number.isFinite(x));
}

async function rejectsWith(promise) {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail('expected a rejection');
  return undefined;
}

module.exports = {
  AMT,
  CLIENT_ID,
  CLIENT_SECRET,
  FORD_SCOPE,
  FULL_SCOPE,
  REDIRECT_URI,
  REPO_ROOT,
  TIMESTAMP_RE,
  UUID_RE,
  assertDataMeta,
  assertNumber,
  assertKeys,
  assertUuid,
  authClient,
  connect,
  getCode,
  needs,
  rejectsWith,
  runConnectFlow,
  startMock,
  state,
  stopAll,
};
