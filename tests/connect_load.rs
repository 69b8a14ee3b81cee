//! 1,000 Connect flows at once, over HTTP as a browser walks them: every flow
//! ends with its own code, each code is exchanged once for exactly one working token pair, and
//! nothing is lost or issued twice.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::Semaphore;

use crate::support::{CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, hidden_flow, location, query_value};

const FLOWS: usize = 1000;
/// Flows walking at once: enough to overlap heavily, few enough for a 2-core CI machine.
const AT_ONCE: usize = 100;

/// What one flow ended with.
struct Outcome {
    state: String,
    code: String,
    access_token: String,
    refresh_token: String,
    user: String,
}

/// Posts a Connect step's form with the page's hidden flow and returns the next page or redirect.
async fn step(
    http: &reqwest::Client,
    base: &str,
    action: &str,
    page: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let flow = hidden_flow(page);
    let mut form = vec![("flow", flow.as_str())];
    form.extend_from_slice(fields);
    let response = http
        .post(format!("{base}{action}"))
        .form(&form)
        .send()
        .await
        .expect("a step");
    assert!(
        matches!(response.status(), StatusCode::OK | StatusCode::FOUND),
        "{action}: {}",
        response.status()
    );
    response
}

async fn page(response: reqwest::Response) -> String {
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.expect("a page")
}

/// One person: authorize, preamble, brand, sign-in, Allow, then the app's backend exchanges the
/// code and reads the vehicle list with the access token.
async fn walk(http: reqwest::Client, base: String, n: usize) -> Outcome {
    let state = format!("flow-{n}+/=");
    let username = format!("load-{n}@example.com");
    let preamble = http
        .get(format!("{base}/oauth/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", CLIENT_ID),
            ("redirect_uri", REDIRECT_URI),
            ("mode", "test"),
            ("scope", "read_vehicle_info read_odometer"),
            ("state", state.as_str()),
        ])
        .send()
        .await
        .expect("authorize");
    let preamble = page(preamble).await;
    let brands = page(step(&http, &base, "/connect/brand", &preamble, &[]).await).await;
    let login = page(step(&http, &base, "/connect/login", &brands, &[("make", "TESLA")]).await).await;
    let credentials = [("username", username.as_str()), ("password", "p")];
    let grant = page(step(&http, &base, "/connect/sign-in", &login, &credentials).await).await;
    let done = step(&http, &base, "/connect/grant", &grant, &[("decision", "allow")]).await;
    assert_eq!(done.status(), StatusCode::FOUND);
    let location = location(&done);
    assert!(location.starts_with(REDIRECT_URI), "{location}");
    let code = query_value(&location, "code").unwrap_or_else(|| panic!("no code in {location}"));
    let returned_state = query_value(&location, "state").expect("the state");

    let tokens: Value = http
        .post(format!("{base}/oauth/token"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
        ])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("token json");
    let access_token = tokens["access_token"].as_str().expect("an access token").to_owned();
    let user: Value = http
        .get(format!("{base}/v2.0/user"))
        .bearer_auth(&access_token)
        .send()
        .await
        .expect("user")
        .json()
        .await
        .expect("user json");
    assert_eq!(returned_state, state, "each flow gets its own state back");
    Outcome {
        state,
        code,
        access_token,
        refresh_token: tokens["refresh_token"].as_str().expect("a refresh token").to_owned(),
        user: user["id"].as_str().expect("a user id").to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_connect_flows_each_get_exactly_one_working_token_pair() {
    let env = crate::support::TestEnv::start().await;
    let started = Instant::now();
    let gate = Arc::new(Semaphore::new(AT_ONCE));
    let walking = Arc::new(AtomicUsize::new(0));
    let most_at_once = Arc::new(AtomicUsize::new(0));

    let flows: Vec<_> = (0..FLOWS)
        .map(|n| {
            let (http, base) = (env.http.clone(), env.base.clone());
            let (gate, walking, most_at_once) = (Arc::clone(&gate), Arc::clone(&walking), Arc::clone(&most_at_once));
            tokio::spawn(async move {
                let _permit = gate.acquire_owned().await.expect("the gate stays open");
                let now = walking.fetch_add(1, Ordering::SeqCst) + 1;
                most_at_once.fetch_max(now, Ordering::SeqCst);
                let outcome = walk(http, base, n).await;
                walking.fetch_sub(1, Ordering::SeqCst);
                outcome
            })
        })
        .collect();
    let mut outcomes = Vec::with_capacity(FLOWS);
    for flow in flows {
        outcomes.push(flow.await.expect("the flow finished"));
    }
    let elapsed = started.elapsed();
    eprintln!(
        "{FLOWS} Connect + exchange flows, {} at most at once: {elapsed:?}",
        most_at_once.load(Ordering::SeqCst)
    );

    assert_eq!(outcomes.len(), FLOWS, "nothing lost");
    assert!(
        most_at_once.load(Ordering::SeqCst) > AT_ONCE / 2,
        "the flows overlapped"
    );
    let distinct = |field: fn(&Outcome) -> &str| outcomes.iter().map(field).collect::<HashSet<_>>().len();
    assert_eq!(distinct(|o| &o.code), FLOWS, "no code issued twice");
    assert_eq!(distinct(|o| &o.state), FLOWS);
    assert_eq!(distinct(|o| &o.access_token), FLOWS);
    assert_eq!(distinct(|o| &o.refresh_token), FLOWS);
    assert_eq!(distinct(|o| &o.user), FLOWS, "one user per flow");
    assert_eq!(env.state.world.vehicles(Some(CLIENT_ID)).len(), FLOWS);
    assert_eq!(env.state.flow_keys.pending_steps(), 0, "every shown step was used up");
    // Exactly one pair per code: a second exchange of any code is refused.
    let again = env
        .token_request(&[
            ("grant_type", "authorization_code"),
            ("code", outcomes[0].code.as_str()),
            ("redirect_uri", REDIRECT_URI),
        ])
        .await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
}
