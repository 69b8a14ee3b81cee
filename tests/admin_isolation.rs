//! Isolation and reset: apps (client ids) never see each other's users, tokens, vehicles, faults
//! or journal, even when used at the same time; one app or everything can be reset.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::Connected;
use crate::support::TestEnv;

const OTHER_APP: &str = "sdk-test-client";

async fn read_many(env: &TestEnv, car: &Connected, n: usize) -> Vec<StatusCode> {
    let mut statuses = Vec::new();
    for _ in 0..n {
        statuses.push(env.read(car, "/odometer").await.status());
    }
    statuses
}

#[tokio::test]
async fn two_apps_used_concurrently_do_not_interfere() {
    let env = TestEnv::start().await;
    let a = env.authorize("CHEVROLET", "read_odometer").await;
    let b = env.authorize_as(OTHER_APP, "CHEVROLET", "read_odometer").await;
    env.add_fault(json!({ "app": "demo-client", "error": "VEHICLE_STATE:ASLEEP" }))
        .await;
    env.admin_ok(
        Method::PATCH,
        &format!("/admin/vehicles/{}", a.vehicle),
        Some(json!({ "odometer": { "distance": 1.5 } })),
    )
    .await;

    let (a_statuses, b_statuses) = tokio::join!(read_many(&env, &a, 25), read_many(&env, &b, 25));
    let b_odometer: serde_json::Value = env.read(&b, "/odometer").await.json().await.expect("json");
    let a_journal = env.journal("app=demo-client").await;
    let b_journal = env.journal(&format!("app={OTHER_APP}")).await;

    assert!(a_statuses.iter().all(|s| *s == StatusCode::CONFLICT), "{a_statuses:?}");
    assert!(b_statuses.iter().all(|s| *s == StatusCode::OK), "{b_statuses:?}");
    assert_ne!(b_odometer["distance"], 1.5, "a's state change did not reach b's car");
    assert_eq!(a_journal.len(), 25);
    assert_eq!(b_journal.len(), 26);
    assert!(b_journal.iter().all(|r| r["app"] == OTHER_APP));
}

#[tokio::test]
async fn a_token_of_one_app_does_not_reach_another_apps_vehicle() {
    let env = TestEnv::start().await;
    let a = env.authorize("CHEVROLET", "read_odometer").await;
    let b = env.authorize_as(OTHER_APP, "CHEVROLET", "read_odometer").await;

    let crossed = env
        .get(&format!("/v2.0/vehicles/{}/odometer", b.vehicle), &a.access_token)
        .await;

    assert_eq!(crossed.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn resetting_one_app_leaves_the_other_working() {
    let env = TestEnv::start().await;
    let a = env.authorize("CHEVROLET", "read_odometer").await;
    let b = env.authorize_as(OTHER_APP, "CHEVROLET", "read_odometer").await;
    env.add_fault(json!({ "app": OTHER_APP, "latency": "1ms" })).await;

    env.admin_ok(Method::POST, "/admin/reset?app=demo-client", None).await;
    let a_after = env.read(&a, "/odometer").await.status();
    let b_after = env.read(&b, "/odometer").await.status();
    let faults = env.admin_ok(Method::GET, "/admin/faults", None).await;
    let a_journal = env.journal("app=demo-client").await;

    assert_eq!(a_after, StatusCode::UNAUTHORIZED, "demo-client's tokens are gone");
    assert_eq!(b_after, StatusCode::OK);
    assert_eq!(
        faults["rules"].as_array().map(Vec::len),
        Some(1),
        "the other app's rule stays"
    );
    assert!(
        a_journal.is_empty(),
        "its journal went with it (the dead token belongs to no app)"
    );
}

#[tokio::test]
async fn resetting_everything_forgets_tokens_faults_and_the_clock() {
    let env = TestEnv::start().await;
    let a = env.authorize("CHEVROLET", "read_odometer").await;
    env.add_fault(json!({ "error": "VEHICLE_STATE:ASLEEP" })).await;
    env.advance_clock("5d").await;

    let answer = env.admin_ok(Method::POST, "/admin/reset", None).await;
    let clock = env.admin_ok(Method::GET, "/admin/clock", None).await;
    let faults = env.admin_ok(Method::GET, "/admin/faults", None).await;
    let fresh = env.authorize("CHEVROLET", "read_odometer").await;

    assert_eq!(answer, json!({ "reset": "everything" }));
    assert_eq!(env.read(&a, "/odometer").await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(env.read(&fresh, "/odometer").await.status(), StatusCode::OK);
    assert_eq!(clock["offset_seconds"], 0);
    assert_eq!(faults, json!({ "rules": [], "connect": [] }));
}
