//! End-to-end tests: the mock server in-process on port 0, driven over HTTP as a browser, an app
//! and its backend would drive the real platform.

// Test modules share helpers with plain `pub`; nothing here is a public API.
#![allow(unreachable_pub)]

// Shared set-up and helpers named after user actions: the server, a connected car, the admin
// API, the vehicle API's answers.
mod support;

// Connect: validation, the five steps, redirects and Connect errors.
mod connect_flow;
// The token endpoint: code and refresh grants and their errors.
mod token_exchange;
// The vehicle API's basic reads, units, headers and error shapes.
mod vehicle_api;
// Odd and hostile input never crashes the server.
mod hostile_input;
// The demo backend's page, the mock's JS SDK redirect page and the real @smartcar/auth, in Chromium.
mod browser;
// The Rust `smartcar` crate, unmodified, against the mock.
mod sdk_rust;
// The v2 reads beyond the basic ones, v1 variants and brand endpoints.
mod vehicle_reads;
// Commands that change state, simulated-mode checks, disconnect.
mod vehicle_commands;
// Batch requests.
mod batch;
// The v3 vehicle and signals API.
mod v3;
// Test-mode logins that shape vehicle answers.
mod test_logins;
// The vehicle API with the exact requests the official SDKs send.
mod sdk_requests;
// The management API: connections listed, filtered, paged and deleted.
mod management;
// The compatibility API: VIN checks, test-mode levels and the matrix.
mod compatibility;
// Webhooks: subscriptions, VERIFY, signed deliveries, retries and the delivery log.
mod webhooks;
// Hostile use of Connect: single-use steps, capped logins, no framing, `state` byte for byte.
mod connect_hardening;
// 1,000 concurrent Connect + exchange flows.
mod connect_load;
// Token families revoked on reuse; client credentials read strictly.
mod oauth_hardening;
// Test control (not Smartcar): the admin API and its helpers.
mod admin_authorize;
mod admin_clock;
mod admin_faults;
mod admin_guard;
mod admin_isolation;
mod admin_journal;
mod admin_limits;
mod admin_vehicles;
// The vehicle simulator: created-connected vehicles, trips on the clock, their webhooks.
mod simulator;
// The world as a file: snapshots saved and loaded, scenario files and their examples.
mod scenarios;
