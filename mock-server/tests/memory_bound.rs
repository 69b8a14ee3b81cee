//! The memory ceiling of a long-running mock, measured on the real binary:
//! with `--max-users 1000`, signing in 5,000 new users leaves the resident set under a stated
//! bound, because the least recently used users are forgotten with everything they own.

use std::process::Stdio;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::process::Child;

mod support;

const MAX_USERS: usize = 1000;
const NEW_USERS: usize = 5000;
/// What the server may grow by between the warm-up (the first 1,000 users: the cap reached) and
/// the 5,000th user. Kept, those 4,000 users cost 7.3 MiB (measured with `--max-users 100000`,
/// about 1.8 KiB each); forgotten, the growth measured 1.2 MiB of allocator slack.
const GROWTH_BOUND_KIB: u64 = 3 * 1024;
/// The resident set after all 5,000 users (measured: 17.5 MiB at start, 24.3 MiB at the cap,
/// 25.5 MiB at the end, in a debug build).
const RSS_BOUND_KIB: u64 = 40 * 1024;

struct Server {
    url: String,
    child: Child,
    http: reqwest::Client,
}

impl Server {
    async fn start(flags: &[&str]) -> Server {
        let mut command = support::command();
        command
            .args(flags)
            .env("SMARTCAR_MOCK_JOURNAL_SIZE", "0")
            .stderr(Stdio::null());
        let (child, url) = support::spawn(command).await;
        let http = reqwest::Client::builder().no_proxy().build().expect("client");
        Server { url, child, http }
    }

    /// `VmRSS` of the server process, in KiB.
    fn rss_kib(&self) -> u64 {
        let pid = self.child.id().expect("still running");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("a VmRSS line")
    }

    /// Signs in a new user through `/admin/authorize` and returns their access token.
    async fn new_user(&self, n: usize) -> String {
        let response = self
            .http
            .post(format!("{}/admin/authorize", self.url))
            .json(&json!({ "email": format!("user-{n}@memory.example") }))
            .send()
            .await
            .expect("authorize");
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.expect("json");
        body["access_token"].as_str().expect("a token").to_owned()
    }

    async fn reads(&self, token: &str) -> StatusCode {
        self.http
            .get(format!("{}/v2.0/vehicles", self.url))
            .bearer_auth(token)
            .send()
            .await
            .expect("vehicles")
            .status()
    }
}

#[tokio::test]
async fn five_thousand_new_users_stay_under_the_memory_bound_with_max_users_1000() {
    let server = Server::start(&["--max-users", &MAX_USERS.to_string()]).await;
    let started = server.rss_kib();
    let first = server.new_user(0).await;
    for n in 1..MAX_USERS {
        server.new_user(n).await;
    }
    let warmed_up = server.rss_kib();
    assert_eq!(server.reads(&first).await, StatusCode::OK, "the cap is not reached yet");

    for n in MAX_USERS..NEW_USERS {
        server.new_user(n).await;
    }
    let finished = server.rss_kib();
    eprintln!(
        "VmRSS: {started} KiB at start, {warmed_up} KiB after {MAX_USERS} users, {finished} KiB after {NEW_USERS}"
    );

    assert_eq!(
        server.reads(&first).await,
        StatusCode::UNAUTHORIZED,
        "the least recently used user was forgotten"
    );
    assert!(
        finished.saturating_sub(warmed_up) < GROWTH_BOUND_KIB,
        "grew {} KiB after the cap was reached",
        finished.saturating_sub(warmed_up)
    );
    assert!(finished < RSS_BOUND_KIB, "{finished} KiB");
}
