//! Browser tests: headless Chromium (Debian's `chromium` and `chromium-driver`, which
//! `scripts/install-test-deps.sh` installs) driven over WebDriver, against the mock and the demo
//! backend in the test's own runtime (docs/contract/tutorial-flow.md#the-popup-protocol).
//!
//! `CHROMIUM` and `CHROMEDRIVER` override the binaries' paths; `DEMO_BACKEND_URL` points the demo
//! page tests at a demo backend already running (`scripts/test-workshop-kit.sh` uses it). The real
//! `@smartcar/auth` comes from `tests/browser/sdk/` (`npm ci` there; the SDK tests run it
//! themselves when it is missing).

// ChromeDriver, Chromium and a WebDriver session per test; pages and servers the tests share.
mod driver;

// The demo backend's page: Connect in a popup, then the vehicle or the Connect error.
mod demo_page;
// The mock's JS SDK redirect page: the exact SmartcarAuthMessage, posted where it belongs.
mod redirect_page;
// The real @smartcar/auth 2.9.0 and 2.14.1: through a `window.open` shim and through TLS host mapping.
mod real_sdk;
// The mock's live dashboard: live updates, its controls, the requests page, no external host.
mod dashboard;
