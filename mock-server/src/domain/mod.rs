//! The platform's domain: what Smartcar is and does, with no HTTP in it.
//!
//! The surfaces around it (Connect pages, token endpoint, vehicle API, admin API, webhook
//! sender) parse a request, call in here, and render what comes back. Nothing here imports
//! `axum`, `http`, `hyper`, `tower` or `reqwest`, or any module outside `domain` (the test
//! `tests/domain_purity.rs` reads the sources to keep it so): statuses are numbers, methods and
//! paths are text, bodies are bytes.
//!
//! # Layout
//! - [`clock`]: the virtual clock every expiry and timestamp reads.
//! - [`permissions`]: the permissions of a Connect `scope`.
//! - [`catalogue`]: Smartcar's error table as data.
//! - [`fixtures`]: apps, brands, accounts — the seed, parsed and validated at start-up.
//! - [`vehicle`]: a vehicle's spec, its state, and the connected copy a user owns.
//! - `compatibility`: what Smartcar supports for a VIN, a model or a test-mode level.
//! - [`webhooks`]: the webhooks apps declare and the signals they carry.
//! - [`world`]: the mutable state (users, vehicles, grants, codes, tokens) behind a handle.
//! - `logins`: the test-mode login grammar (`<n>-vehicles@smartcar.com`, …).
//! - [`sign_in`]: signing in to Connect, and the errors Connect ends in.
//! - `caller`: who a request is from, as its credentials prove.
//! - `faults`: the fault-injection rule book (test control).
//! - `limits`: Smartcar's request limits, switchable (test control).
//! - `journal`: what the mock received and answered, per app (test control).
//! - [`simulator`]: trip profiles that move a vehicle through time (test control).
//! - [`snapshot`]: the world as a file (scenarios, `GET`/`PUT /admin/snapshot`).
//! - [`store`]: where the world is kept beyond memory (`--state FILE`).
//! - `ring`: a bounded store that forgets its oldest entry first (token pairs, codes).

pub(crate) mod caller;
pub(crate) mod catalogue;
pub(crate) mod clock;
pub(crate) mod compatibility;
pub(crate) mod faults;
pub(crate) mod fixtures;
pub(crate) mod journal;
pub(crate) mod limits;
pub(crate) mod logins;
pub(crate) mod permissions;
pub(crate) mod ring;
pub(crate) mod sign_in;
pub(crate) mod simulator;
pub(crate) mod snapshot;
pub(crate) mod store;
pub(crate) mod vehicle;
pub(crate) mod webhooks;
pub(crate) mod world;
