//! What the test modules share, in one place:
//!
//! - [`env`]: `TestEnv`, a mock server on port 0 in the test's own runtime, and helpers named after
//!   what a person or an app does (open Connect, sign in, allow, exchange the code, call the API);
//!   `env.json(response)` reads any answer as its status and JSON body;
//! - [`connected`]: `Connected`, a user's tokens and their vehicle, however they were connected;
//! - [`admin`]: test control over HTTP (connect without a browser, faults, the clock, the journal);
//! - [`vehicle`]: `Car`, a server with one connected car, and the vehicle API's answers with their
//!   headers.
//!
//! Everything is re-exported here, so a test imports from `crate::support`.

mod admin;
pub mod connected;
pub mod env;
pub mod vehicle;

pub use connected::*;
pub use env::*;
pub use vehicle::*;
