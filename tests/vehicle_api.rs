//! The vehicle API's reads, headers, units and error shapes (docs/contract/api.md).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::TestEnv;

const EVERYTHING: &str = "read_vehicle_info read_vin read_odometer read_location read_fuel read_battery \
                          read_charge read_engine_oil read_tires read_security";

#[tokio::test]
async fn connecting_a_chevrolet_shows_its_attributes_and_odometer() {
    let env = TestEnv::start().await;
    let (tokens, id) = env.connect_vehicle("CHEVROLET", EVERYTHING).await;

    let (_, attributes) = env
        .json(env.get(&format!("/v2.0/vehicles/{id}"), &tokens.access_token).await)
        .await;
    let (_, odometer) = env
        .json(
            env.get(&format!("/v2.0/vehicles/{id}/odometer"), &tokens.access_token)
                .await,
        )
        .await;

    assert_eq!(
        attributes,
        json!({ "id": id, "make": "CHEVROLET", "model": "Volt", "year": 2019 })
    );
    assert_eq!(odometer, json!({ "distance": 52340.5 }));
}

#[tokio::test]
async fn every_first_read_answers_with_its_exact_key_set() {
    let env = TestEnv::start().await;
    let (tokens, id) = env.connect_vehicle("CHEVROLET", EVERYTHING).await;
    let cases: [(&str, &[&str]); 9] = [
        ("vin", &["vin"]),
        ("location", &["latitude", "longitude"]),
        ("fuel", &["amountRemaining", "percentRemaining", "range"]),
        ("battery", &["percentRemaining", "range"]),
        ("charge", &["isPluggedIn", "state"]),
        ("tires/pressure", &["backLeft", "backRight", "frontLeft", "frontRight"]),
        ("engine/oil", &["lifeRemaining"]),
        (
            "security",
            &["chargingPort", "doors", "isLocked", "storage", "sunroof", "windows"],
        ),
        ("permissions", &["paging", "permissions"]),
    ];

    for (path, keys) in cases {
        let (status, body) = env
            .json(
                env.get(&format!("/v2.0/vehicles/{id}/{path}"), &tokens.access_token)
                    .await,
            )
            .await;

        assert_eq!(status, StatusCode::OK, "{path}");
        let mut actual: Vec<&str> = body.as_object().expect("object").keys().map(String::as_str).collect();
        actual.sort_unstable();
        assert_eq!(actual, keys, "{path}");
    }
}

#[tokio::test]
async fn measurements_are_floats_with_a_fractional_part() {
    let env = TestEnv::start().await;
    let (tokens, id) = env.connect_vehicle("CHEVROLET", EVERYTHING).await;

    let text = env
        .get(&format!("/v2.0/vehicles/{id}/tires/pressure"), &tokens.access_token)
        .await
        .text()
        .await
        .expect("body");

    assert_eq!(
        text,
        r#"{"frontLeft":230.0,"frontRight":230.0,"backLeft":220.0,"backRight":225.0}"#
    );
}

#[tokio::test]
async fn imperial_units_convert_with_the_exact_factors() {
    let env = TestEnv::start().await;
    let (tokens, id) = env.connect_vehicle("CHEVROLET", EVERYTHING).await;
    let get = |path: &'static str| {
        env.http
            .get(env.url(&format!("/v2.0/vehicles/{id}/{path}")))
            .bearer_auth(&tokens.access_token)
            .header("sc-unit-system", "imperial")
            .send()
    };

    let odometer = get("odometer").await.expect("odometer");
    let unit_header = odometer.headers()["sc-unit-system"].clone();
    let odometer: Value = odometer.json().await.expect("json");
    let fuel: Value = get("fuel").await.expect("fuel").json().await.expect("json");
    let tires: Value = get("tires/pressure").await.expect("tires").json().await.expect("json");

    assert_eq!(unit_header, "imperial");
    assert_eq!(odometer["distance"], 52340.5 / 1.609344);
    assert_eq!(fuel["range"], 410.0 / 1.609344);
    assert_eq!(fuel["amountRemaining"], 25.2 / 3.785411784);
    assert_eq!(tires["frontLeft"], 230.0 / 6.894757);
    assert_eq!(fuel["percentRemaining"], 0.72, "fractions do not convert");
}

#[tokio::test]
async fn data_reads_carry_unit_system_data_age_and_fetched_at() {
    let env = TestEnv::start().await;
    let (tokens, id) = env.connect_vehicle("CHEVROLET", EVERYTHING).await;

    let response = env
        .get(&format!("/v2.0/vehicles/{id}/odometer"), &tokens.access_token)
        .await;

    let headers = response.headers();
    assert_eq!(headers["sc-unit-system"], "metric");
    assert_eq!(headers["content-type"], "application/json; charset=utf-8");
    for name in ["sc-data-age", "sc-fetched-at"] {
        let value = headers[name].to_str().expect("ascii");
        let format =
            time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
        assert!(time::PrimitiveDateTime::parse(value, format).is_ok(), "{name}: {value}");
    }
    assert_eq!(headers["sc-request-id"].len(), 36);
}

#[tokio::test]
async fn a_request_without_a_token_gets_the_exact_authentication_error() {
    let env = TestEnv::start().await;

    let response = env.http.get(env.url("/v2.0/vehicles")).send().await.expect("request");

    let request_id = response.headers()["sc-request-id"].to_str().expect("ascii").to_owned();
    let (status, body) = env.json(response).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        json!({
            "type": "AUTHENTICATION",
            "code": null,
            "description": "The authorization header is missing or malformed, or it contains invalid or expired authentication credentials. Please check for missing parameters, spelling and casing mistakes, and other syntax issues.",
            "docURL": "https://smartcar.com/docs/errors/api-errors/authentication-errors#null",
            "statusCode": 401,
            "requestId": request_id,
            "resolution": { "type": null }
        })
    );
}

#[tokio::test]
async fn a_basic_authorization_header_is_not_a_bearer_token() {
    let env = TestEnv::start().await;

    let response = env
        .http
        .get(env.url("/v2.0/user"))
        .basic_auth("abc", Some("def"))
        .send()
        .await
        .expect("request");

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_expired_access_token_gets_authentication_and_the_refresh_still_works() {
    let env = TestEnv::start().await;
    let (tokens, _) = env.connect_vehicle("CHEVROLET", EVERYTHING).await;
    env.state.clock.advance(time::Duration::hours(2));

    let expired = env.get("/v2.0/user", &tokens.access_token).await;
    let refreshed = env
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &tokens.refresh_token),
        ])
        .await;

    assert_eq!(env.json(expired).await.1["type"], "AUTHENTICATION");
    assert_eq!(refreshed.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_missing_permission_gets_403_before_any_capability_check() {
    let env = TestEnv::start().await;
    let (tokens, id) = env.connect_vehicle("FORD", "read_vehicle_info read_battery").await;

    let (status, body) = env
        .json(
            env.get(&format!("/v2.0/vehicles/{id}/fuel"), &tokens.access_token)
                .await,
        )
        .await;

    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["type"], "PERMISSION");
    assert_eq!(body["resolution"], json!({ "type": "REAUTHENTICATE" }));
}

#[tokio::test]
async fn a_vehicle_without_the_capability_gets_501_compatibility() {
    let env = TestEnv::start().await;
    let (tokens, id) = env.connect_vehicle("FORD", "read_fuel").await;

    let (status, body) = env
        .json(
            env.get(&format!("/v2.0/vehicles/{id}/fuel"), &tokens.access_token)
                .await,
        )
        .await;

    assert_eq!(status, StatusCode::NOT_IMPLEMENTED);
    assert_eq!(
        (body["type"].as_str(), body["code"].as_str()),
        (Some("COMPATIBILITY"), Some("VEHICLE_NOT_CAPABLE"))
    );
}

#[tokio::test]
async fn v1_errors_use_the_v1_body() {
    let env = TestEnv::start().await;
    let (tokens, id) = env.connect_vehicle("CHEVROLET", "read_vehicle_info").await;

    let response = env
        .get(&format!("/v1.0/vehicles/{id}/odometer"), &tokens.access_token)
        .await;

    let request_id = response.headers()["sc-request-id"].to_str().expect("ascii").to_owned();
    let (status, body) = env.json(response).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body,
        json!({
            "error": "permission_error",
            "message": "Insufficient permissions to access requested resource.",
            "statusCode": 403,
            "requestId": request_id
        })
    );
}

#[tokio::test]
async fn a_vehicle_id_that_is_not_a_uuid_is_a_validation_error_on_v2_and_v1() {
    let env = TestEnv::start().await;
    let (tokens, _) = env.connect_vehicle("CHEVROLET", EVERYTHING).await;

    let (v2_status, v2) = env
        .json(env.get("/v2.0/vehicles/bad_id/odometer", &tokens.access_token).await)
        .await;
    let (v1_status, v1) = env
        .json(env.get("/v1.0/vehicles/bad_id/odometer", &tokens.access_token).await)
        .await;

    assert_eq!(
        (v2_status, v2["type"].as_str()),
        (StatusCode::BAD_REQUEST, Some("VALIDATION"))
    );
    assert_eq!(
        (v1_status, v1["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("validation_error"))
    );
}

#[tokio::test]
async fn a_vehicle_of_another_user_is_not_reachable() {
    let env = TestEnv::start().await;
    let (mine, _) = env.connect_vehicle("CHEVROLET", EVERYTHING).await;
    let (_, theirs) = env.connect_vehicle("CHEVROLET", EVERYTHING).await;

    let (status, body) = env
        .json(
            env.get(&format!("/v2.0/vehicles/{theirs}/odometer"), &mine.access_token)
                .await,
        )
        .await;

    assert_eq!(
        (status, body["type"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("AUTHENTICATION"))
    );
}

#[tokio::test]
async fn unknown_routes_and_versions_get_a_smartcar_404() {
    let env = TestEnv::start().await;
    let (tokens, id) = env.connect_vehicle("CHEVROLET", EVERYTHING).await;

    let (path_status, path) = env
        .json(
            env.get(&format!("/v2.0/vehicles/{id}/teleport"), &tokens.access_token)
                .await,
        )
        .await;
    let (version_status, version) = env
        .json(env.get("/vJohnny%20Appleseed/user", &tokens.access_token).await)
        .await;
    let (other_status, other) = env
        .json(env.get("/nothing/here/at/all", &tokens.access_token).await)
        .await;

    assert_eq!(
        (path_status, path["type"].as_str(), path["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("RESOURCE_NOT_FOUND"), Some("PATH"))
    );
    assert_eq!(
        (version_status, version["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("VERSION"))
    );
    assert_eq!(
        (other_status, other["statusCode"].as_u64()),
        (StatusCode::NOT_FOUND, Some(404))
    );
}

/// Reads take a shortcut past the router unless something in the path needs decoding; a
/// percent-encoded spelling of the same path goes through the router. Both must answer alike.
#[tokio::test]
async fn a_read_answers_the_same_whether_or_not_its_path_was_percent_encoded() {
    let env = TestEnv::start().await;
    let (tokens, id) = env.connect_vehicle("CHEVROLET", EVERYTHING).await;
    let cases = [
        format!("/v2.0/vehicles/{id}/odometer"),
        format!("/v2.0/vehicles/{id}"),
        format!("/v1.0/vehicles/{id}/odometer"),
        format!("/v2.0/vehicles/{id}/teleport"),
        format!("/v2.0/vehicles/{id}/odometer/extra"),
        format!("/v2.0/vehicles/{id}/permissions?limit=1"),
        "/v2.0/vehicles/not-a-uuid/odometer".to_owned(),
        "/v2.0/vehicles//odometer".to_owned(),
        "/vx/vehicles/1/odometer".to_owned(),
        format!("//vehicles/{id}/odometer"),
    ];

    for plain in cases {
        // `%2D` is `-`, `%6F` is `o`: the same path, spelled so the router has to decode it.
        let encoded = if plain.contains('-') {
            plain.replacen('-', "%2D", 1)
        } else {
            plain.replacen("odometer", "%6Fdometer", 1)
        };
        assert_ne!(plain, encoded);
        let (plain_status, plain_body) = env.json(env.get(&plain, &tokens.access_token).await).await;
        let (encoded_status, encoded_body) = env.json(env.get(&encoded, &tokens.access_token).await).await;
        assert_eq!(plain_status, encoded_status, "{plain}");
        let comparable = |mut body: Value| {
            body.as_object_mut().map(|body| body.remove("requestId"));
            body
        };
        assert_eq!(comparable(plain_body), comparable(encoded_body), "{plain}");
    }
}

#[tokio::test]
async fn any_numeric_version_and_a_trailing_slash_are_accepted() {
    let env = TestEnv::start().await;
    let (tokens, id) = env.connect_vehicle("CHEVROLET", EVERYTHING).await;

    let odd_version = env
        .get(&format!("/v99999999.99/vehicles/{id}/odometer"), &tokens.access_token)
        .await;
    let slashed = env.get(&format!("/v2.0/vehicles/{id}/"), &tokens.access_token).await;
    let user = env.get("/v2.0/user/", &tokens.access_token).await;

    assert_eq!(odd_version.status(), StatusCode::OK);
    assert_eq!(slashed.status(), StatusCode::OK);
    assert_eq!(user.status(), StatusCode::OK);
}

#[tokio::test]
async fn vehicles_are_paged_with_the_total_count() {
    let env = TestEnv::start().await;
    let (tokens, _) = env.connect_vehicle("CHEVROLET", EVERYTHING).await;

    let (_, all) = env.json(env.get("/v2.0/vehicles", &tokens.access_token).await).await;
    let (_, second_page) = env
        .json(env.get("/v2.0/vehicles?limit=1&offset=1", &tokens.access_token).await)
        .await;
    let (bad_status, _) = env
        .json(env.get("/v2.0/vehicles?limit=ten", &tokens.access_token).await)
        .await;

    assert_eq!(all["paging"], json!({ "count": 1, "offset": 0 }));
    assert_eq!(
        second_page,
        json!({ "vehicles": [], "paging": { "count": 1, "offset": 1 } })
    );
    assert_eq!(bad_status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn permissions_list_the_granted_names_without_the_required_prefix() {
    let env = TestEnv::start().await;
    let (tokens, id) = env
        .connect_vehicle("CHEVROLET", "required:read_odometer read_vin")
        .await;

    let (_, body) = env
        .json(
            env.get(&format!("/v2.0/vehicles/{id}/permissions"), &tokens.access_token)
                .await,
        )
        .await;

    assert_eq!(
        body,
        json!({ "permissions": ["read_odometer", "read_vin"], "paging": { "count": 2, "offset": 0 } })
    );
}

#[tokio::test]
async fn the_user_endpoint_returns_the_users_id() {
    let env = TestEnv::start().await;
    let (tokens, _) = env.connect_vehicle("CHEVROLET", EVERYTHING).await;

    let (status, body) = env.json(env.get("/v2.0/user", &tokens.access_token).await).await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.as_object().map(|o| o.len()), Some(1));
    assert_eq!(body["id"].as_str().map(str::len), Some(36));
}

#[tokio::test]
async fn a_forced_error_login_fails_data_reads_but_not_static_ones() {
    let env = TestEnv::start().await;
    let code = env
        .code(&crate::support::Connect {
            username: "VEHICLE_STATE.UNKNOWN@smartcar.com".to_owned(),
            scope: Some(EVERYTHING),
            ..Default::default()
        })
        .await;
    let tokens = env.exchange(&code).await;
    let (_, list) = env.json(env.get("/v2.0/vehicles", &tokens.access_token).await).await;
    let id = list["vehicles"][0].as_str().expect("vehicle").to_owned();

    let (odometer_status, odometer) = env
        .json(
            env.get(&format!("/v2.0/vehicles/{id}/odometer"), &tokens.access_token)
                .await,
        )
        .await;
    let vin = env.get(&format!("/v2.0/vehicles/{id}/vin"), &tokens.access_token).await;

    assert_eq!(odometer_status, StatusCode::CONFLICT);
    assert_eq!(
        (odometer["type"].as_str(), odometer["code"].as_str()),
        (Some("VEHICLE_STATE"), Some("UNKNOWN"))
    );
    assert_eq!(vin.status(), StatusCode::OK);
}
