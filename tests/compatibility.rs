//! The compatibility API: the VINs the SDKs' suites check, the test-mode levels and the matrix
//! (docs/contract/compatibility.md).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{CLIENT_ID, CLIENT_SECRET, TestEnv};

async fn ask(env: &TestEnv, path: &str, query: &[(&str, &str)]) -> (StatusCode, Value) {
    let response = env
        .http
        .get(env.url(path))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .query(query)
        .send()
        .await
        .expect("compatibility request");
    let status = response.status();
    (status, response.json().await.expect("a JSON body"))
}

async fn vin(env: &TestEnv, vin: &str, scope: &str) -> Value {
    let (status, body) = ask(
        env,
        "/v2.0/compatibility",
        &[("vin", vin), ("scope", scope), ("country", "US")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn capability(permission: &str, endpoint: &str, capable: bool, reason: Option<&str>) -> Value {
    json!({ "permission": permission, "endpoint": endpoint, "capable": capable, "reason": reason })
}

#[tokio::test]
async fn a_tesla_model_x_is_capable_of_odometer_and_location() {
    let env = TestEnv::start().await;

    let body = vin(&env, "5YJXCDE22HF068739", "read_odometer read_location").await;

    assert_eq!(
        body,
        json!({ "compatible": true, "reason": null, "capabilities": [
            capability("read_odometer", "/odometer", true, None),
            capability("read_location", "/location", true, None),
        ]})
    );
}

#[tokio::test]
async fn the_country_defaults_to_the_united_states() {
    let env = TestEnv::start().await;

    let (_, body) = ask(
        &env,
        "/v2.0/compatibility",
        &[("vin", "5YJXCDE22HF068739"), ("scope", "read_odometer")],
    )
    .await;

    assert_eq!(body["compatible"], true);
}

#[tokio::test]
async fn an_audi_a4_is_compatible_but_capable_of_neither_odometer_nor_location() {
    let env = TestEnv::start().await;

    let body = vin(&env, "WAUAFAFL1GN014882", "read_odometer read_location").await;

    assert_eq!(
        body,
        json!({ "compatible": true, "reason": null, "capabilities": [
            capability("read_odometer", "/odometer", false, Some("SMARTCAR_NOT_CAPABLE")),
            capability("read_location", "/location", false, Some("SMARTCAR_NOT_CAPABLE")),
        ]})
    );
}

#[tokio::test]
async fn an_audi_a4_is_compatible_for_vehicle_info() {
    let env = TestEnv::start().await;

    let body = vin(&env, "WAUAFAFL1GN014882", "read_vehicle_info").await;

    assert_eq!(body["compatible"], true);
}

#[tokio::test]
async fn a_2013_bmw_is_not_compatible() {
    let env = TestEnv::start().await;

    let body = vin(&env, "WBAKE5C58DJ107700", "read_odometer read_location").await;

    assert_eq!(
        body,
        json!({ "compatible": false, "reason": "VEHICLE_NOT_COMPATIBLE", "capabilities": [] })
    );
}

#[tokio::test]
async fn the_gmc_test_vin_reads_the_odometer_but_has_no_fuel_tank() {
    let env = TestEnv::start().await;

    let body = vin(&env, "0SCGMCT0386A85356", "read_odometer read_fuel").await;

    assert_eq!(
        body,
        json!({ "compatible": true, "reason": null, "capabilities": [
            capability("read_odometer", "/odometer", true, None),
            capability("read_fuel", "/fuel", false, Some("VEHICLE_NOT_CAPABLE")),
        ]})
    );
}

#[tokio::test]
async fn a_tesla_model_s_has_no_fuel_capability_smartcar_supports() {
    let env = TestEnv::start().await;

    let body = vin(&env, "5YJSA1E29LF403082", "read_odometer read_fuel").await;

    assert_eq!(
        body,
        json!({ "compatible": true, "reason": null, "capabilities": [
            capability("read_odometer", "/odometer", true, None),
            capability("read_fuel", "/fuel", false, Some("SMARTCAR_NOT_CAPABLE")),
        ]})
    );
}

#[tokio::test]
async fn version_one_answers_only_whether_the_vehicle_is_compatible() {
    let env = TestEnv::start().await;

    let (_, body) = ask(
        &env,
        "/v1.0/compatibility",
        &[("vin", "5YJXCDE22HF068739"), ("scope", "read_odometer")],
    )
    .await;

    assert_eq!(body, json!({ "compatible": true }));
}

#[tokio::test]
async fn test_mode_without_a_level_is_the_exact_validation_error() {
    let env = TestEnv::start().await;

    let (status, body) = ask(
        &env,
        "/v2.0/compatibility",
        &[
            ("vin", "0SCAUDI037A5ADB1C"),
            ("scope", "read_odometer"),
            ("mode", "test"),
        ],
    )
    .await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["type"], "VALIDATION");
    assert_eq!(body["code"], Value::Null);
    assert_eq!(
        body["detail"],
        json!([{
            "field": "test_mode_compatibility_level",
            "message": "Field must be one of: [compatible,phev,incompatible,fuel,dinosaur,bev]"
        }])
    );
}

#[tokio::test]
async fn each_test_mode_level_answers_as_test_mode_describes() {
    let env = TestEnv::start().await;
    let cases = [
        ("compatible", true, true, true),
        ("phev", true, true, true),
        ("fuel", true, true, false),
        ("bev", true, false, true),
        ("incompatible", false, false, false),
        ("dinosaur", false, false, false),
    ];

    for (level, compatible, fuel, battery) in cases {
        let (status, body) = ask(
            &env,
            "/v2.0/compatibility",
            &[
                ("vin", "0SCAUDI037A5ADB1C"),
                ("scope", "read_fuel read_battery"),
                ("mode", "test"),
                ("test_mode_compatibility_level", level),
            ],
        )
        .await;

        assert_eq!(status, StatusCode::OK, "{level}");
        assert_eq!(body["compatible"], compatible, "{level}");
        if compatible {
            assert_eq!(body["capabilities"][0]["capable"], fuel, "{level}");
            assert_eq!(body["capabilities"][1]["capable"], battery, "{level}");
        } else {
            assert_eq!(body["capabilities"], json!([]), "{level}");
        }
    }
}

#[tokio::test]
async fn a_level_without_a_mode_means_test_mode() {
    let env = TestEnv::start().await;

    let (_, body) = ask(
        &env,
        "/v2.0/compatibility",
        &[
            ("vin", "WBAKE5C58DJ107700"),
            ("test_mode_compatibility_level", "compatible"),
        ],
    )
    .await;

    assert_eq!(body["compatible"], true);
}

#[tokio::test]
async fn a_missing_vin_or_unknown_permission_is_a_validation_error() {
    let env = TestEnv::start().await;

    let (no_vin, no_vin_body) = ask(&env, "/v2.0/compatibility", &[("scope", "read_odometer")]).await;
    let (bad_scope, bad_scope_body) = ask(
        &env,
        "/v2.0/compatibility",
        &[("vin", "5YJXCDE22HF068739"), ("scope", "read_mind")],
    )
    .await;

    assert_eq!(no_vin, StatusCode::BAD_REQUEST);
    assert_eq!(no_vin_body["detail"][0]["field"], "vin");
    assert_eq!(bad_scope, StatusCode::BAD_REQUEST);
    assert_eq!(bad_scope_body["detail"][0]["field"], "scope");
}

#[tokio::test]
async fn wrong_client_credentials_are_an_authentication_error() {
    let env = TestEnv::start().await;

    let response = env
        .http
        .get(env.url("/v2.0/compatibility?vin=5YJXCDE22HF068739"))
        .basic_auth(CLIENT_ID, Some("wrong"))
        .send()
        .await
        .expect("request");

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["type"], "AUTHENTICATION");
}

#[tokio::test]
async fn the_matrix_for_nissan_bevs_with_battery_and_charge_is_the_leaf() {
    let env = TestEnv::start().await;

    let (status, body) = ask(
        &env,
        "/v2.0/compatibility/matrix",
        &[
            ("region", "US"),
            ("scope", "read_battery read_charge"),
            ("make", "NISSAN"),
            ("type", "BEV"),
        ],
    )
    .await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"NISSAN":[{"model":"LEAF","startYear":2018,"endYear":2022,"type":"BEV",
            "endpoints":["EV battery","EV charging status","Location","Lock & unlock","Odometer"],
            "permissions":["read_battery","read_charge","read_location","control_security","read_odometer"]}]})
    );
}

#[tokio::test]
async fn every_matrix_entry_supports_the_requested_scope_and_type() {
    let env = TestEnv::start().await;

    let (_, body) = ask(
        &env,
        "/v2.0/compatibility/matrix",
        &[("region", "US"), ("scope", "read_battery read_charge"), ("type", "BEV")],
    )
    .await;

    let makes = body.as_object().expect("an object keyed by make");
    assert!(makes.len() > 1, "{body}");
    for entry in makes
        .values()
        .flat_map(|entries| entries.as_array().into_iter().flatten())
    {
        let mut keys: Vec<&str> = entry.as_object().expect("entry").keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["endYear", "endpoints", "model", "permissions", "startYear", "type"]
        );
        assert_eq!(entry["type"], "BEV");
        let permissions = entry["permissions"].as_array().expect("permissions");
        assert!(permissions.contains(&json!("read_battery")) && permissions.contains(&json!("read_charge")));
    }
}

#[tokio::test]
async fn the_matrix_needs_a_known_region() {
    let env = TestEnv::start().await;

    let (status, body) = ask(&env, "/v2.0/compatibility/matrix", &[("region", "MARS")]).await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["detail"][0]["field"], "region");
}
