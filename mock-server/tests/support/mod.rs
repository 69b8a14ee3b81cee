//! What the tests that run the `mock-server` binary share: the command, with none of the caller's
//! `SMARTCAR_MOCK_*` settings, and starting it until it says where it listens.

// Each test file is a crate of its own and uses its part of this.
#![allow(dead_code)]

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub(crate) const BINARY: &str = env!("CARGO_BIN_EXE_mock-server");

/// `mock-server --addr 127.0.0.1:0`, with none of the `SMARTCAR_MOCK_*` variables of the shell
/// that runs the tests (an admin token or `--limits` there would change every answer).
pub(crate) fn command() -> Command {
    let mut command = Command::new(BINARY);
    command.args(["--addr", "127.0.0.1:0"]);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("SMARTCAR_MOCK_") {
            command.env_remove(name);
        }
    }
    command
}

/// Runs `command` (its stdout piped, killed when dropped) and reads its address from the first
/// line, `listening on http://…`. Installs the crypto provider reqwest needs (it has none of its
/// own; the mock uses ring).
pub(crate) async fn spawn(mut command: Command) -> (Child, String) {
    let mut child = command
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut first = String::new();
    BufReader::new(stdout)
        .read_line(&mut first)
        .await
        .expect("a first line");
    let url = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_owned();
    mock_server::net::install_crypto_provider();
    (child, url)
}
