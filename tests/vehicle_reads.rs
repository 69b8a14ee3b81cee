//! The v2 reads beyond the basic ones (docs/contract/api.md#endpoints): exact bodies, headers,
//! units, v1 variants and brand-specific endpoints (docs/contract/api.md#brand-specific-endpoints).

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{ALL, Car};

#[tokio::test]
async fn battery_capacity_is_reported_in_kilowatt_hours() {
    let car = Car::connect("CHEVROLET", ALL).await;

    let answer = car.get("/battery/capacity").await;

    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, json!({ "capacity": 18.4 }));
}

#[tokio::test]
async fn nominal_capacity_lists_the_available_capacities_and_the_selected_one() {
    let car = Car::connect("CHEVROLET", ALL).await;

    let answer = car.get("/battery/nominal_capacity").await;

    assert_eq!(
        answer.body,
        json!({
            "availableCapacities": [
                { "capacity": 8.399999999999999, "description": null },
                { "capacity": 18.4, "description": null },
                { "capacity": 28.4, "description": "BEV:Extended Range" }
            ],
            "capacity": { "nominal": 18.4, "source": "USER_SELECTED" },
            "url": null
        })
    );
}

#[tokio::test]
async fn the_charge_limit_is_a_fraction() {
    let car = Car::connect("CHEVROLET", ALL).await;

    assert_eq!(car.get("/charge/limit").await.body, json!({ "limit": 0.9 }));
}

#[tokio::test]
async fn service_history_without_dates_returns_every_record_as_a_top_level_array() {
    let car = Car::connect("CHEVROLET", ALL).await;

    let answer = car.get("/service/history").await;

    assert_eq!(answer.body.as_array().map(Vec::len), Some(2));
    assert_eq!(
        answer.body[0],
        json!({
            "serviceId": 9102,
            "serviceDate": "2025-04-14T16:20:00.000Z",
            "odometerDistance": 41250.0,
            "serviceTasks": [
                { "taskId": 1, "taskDescription": "Oil change" },
                { "taskId": 2, "taskDescription": "Tire rotation" }
            ],
            "serviceDetails": [{ "type": "LABOR", "value": "1.5 hours" }],
            "serviceCost": { "totalCost": 149.99, "currency": "USD" }
        })
    );
}

#[tokio::test]
async fn service_history_keeps_records_between_snake_case_dates() {
    let car = Car::connect("CHEVROLET", ALL).await;

    let answer = car
        .get("/service/history?start_date=2025-01-01&end_date=2025-12-31")
        .await;

    assert_eq!(answer.body.as_array().map(Vec::len), Some(1));
    assert_eq!(answer.body[0]["serviceId"], json!(9102));
}

#[tokio::test]
async fn service_history_accepts_pythons_camel_case_dates() {
    let car = Car::connect("CHEVROLET", ALL).await;

    let answer = car
        .get("/service/history?startDate=2024-01-01&endDate=2024-12-31")
        .await;

    assert_eq!(answer.body.as_array().map(Vec::len), Some(1));
    assert_eq!(answer.body[0]["serviceId"], json!(8877));
}

#[tokio::test]
async fn service_history_reads_dates_leniently_as_ruby_and_node_send_them() {
    let car = Car::connect("CHEVROLET", ALL).await;

    let ruby = car
        .get("/service/history?start_date=2025-01-01&end_date=2025-12-31%3F")
        .await;
    let node = car
        .get("/service/history?start_date=undefined&end_date=undefined")
        .await;

    assert_eq!(ruby.body.as_array().map(Vec::len), Some(1));
    assert_eq!(node.body.as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn service_history_understands_javas_percent_encoded_question_mark() {
    let car = Car::connect("CHEVROLET", ALL).await;

    let answer = car
        .get("/service/history%3Fstart_date=2024-01-01&end_date=2024-12-31")
        .await;

    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body.as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn service_history_distances_are_miles_in_imperial() {
    let car = Car::connect("CHEVROLET", ALL).await;

    let answer = car
        .send(
            Method::GET,
            &car.path("/service/history"),
            None,
            &[("sc-unit-system", "imperial")],
        )
        .await;

    assert_eq!(answer.body[0]["odometerDistance"], json!(41250.0 / 1.609344));
    assert_eq!(answer.header("sc-unit-system"), Some("imperial"));
}

#[tokio::test]
async fn diagnostics_system_status_lists_every_system() {
    let car = Car::connect("CHEVROLET", ALL).await;

    assert_eq!(
        car.get("/diagnostics/system_status").await.body,
        json!({ "systems": [
            { "systemId": "SYSTEM_TPMS", "status": "ALERT", "description": "Left rear tire pressure is low" },
            { "systemId": "SYSTEM_ABS", "status": "OK", "description": null },
            { "systemId": "SYSTEM_AIRBAG", "status": "OK", "description": null }
        ] })
    );
}

#[tokio::test]
async fn diagnostic_trouble_codes_list_the_active_codes() {
    let car = Car::connect("CHEVROLET", ALL).await;

    assert_eq!(
        car.get("/diagnostics/dtcs").await.body,
        json!({ "activeCodes": [
            { "code": "P0456", "timestamp": "2025-05-01T08:30:00.000Z" },
            { "code": "C0750", "timestamp": null }
        ] })
    );
}

#[tokio::test]
async fn every_new_read_carries_the_data_headers() {
    let car = Car::connect("CHEVROLET", ALL).await;

    for path in [
        "/battery/capacity",
        "/battery/nominal_capacity",
        "/charge/limit",
        "/service/history",
        "/diagnostics/system_status",
        "/diagnostics/dtcs",
    ] {
        let answer = car.get(path).await;
        assert_eq!(answer.header("sc-unit-system"), Some("metric"), "{path}");
        assert_eq!(answer.header("sc-data-age").map(str::len), Some(24), "{path}");
        assert_eq!(answer.header("sc-fetched-at").map(str::len), Some(24), "{path}");
    }
}

#[tokio::test]
async fn reads_without_their_permission_are_refused_before_capability() {
    let car = Car::connect("TOYOTA", "read_vehicle_info").await;

    let answer = car.get("/battery/capacity").await;

    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(answer.body["type"], "PERMISSION");
}

#[tokio::test]
async fn a_vehicle_without_the_feature_answers_vehicle_not_capable() {
    let car = Car::connect("TOYOTA", ALL).await;

    let answer = car.get("/battery/capacity").await;

    assert_eq!(answer.status, StatusCode::NOT_IMPLEMENTED);
    assert_eq!(
        (&answer.body["type"], &answer.body["code"]),
        (&json!("COMPATIBILITY"), &json!("VEHICLE_NOT_CAPABLE"))
    );
}

#[tokio::test]
async fn a_v1_read_answers_the_same_body() {
    let car = Car::connect("CHEVROLET", ALL).await;

    let answer = car
        .send(
            Method::GET,
            &format!("/v1.0/vehicles/{}/charge/limit", car.vehicle),
            None,
            &[],
        )
        .await;

    assert_eq!(answer.body, json!({ "limit": 0.9 }));
}

#[tokio::test]
async fn a_v1_refusal_uses_the_v1_envelope() {
    let car = Car::connect("CHEVROLET", "read_vehicle_info").await;

    let answer = car
        .send(
            Method::GET,
            &format!("/v1.0/vehicles/{}/diagnostics/dtcs", car.vehicle),
            None,
            &[],
        )
        .await;

    assert_eq!(
        answer.body_without_request_id(),
        json!({
            "error": "permission_error",
            "message": "Insufficient permissions to access requested resource.",
            "statusCode": 403
        })
    );
}

#[tokio::test]
async fn a_chevrolet_reports_its_charging_voltage() {
    let car = Car::connect("CHEVROLET", ALL).await;

    let answer = car.get("/chevrolet/charge/voltmeter").await;

    assert_eq!(answer.body, json!({ "voltage": 240.0 }));
}

#[tokio::test]
async fn tesla_endpoints_are_not_capable_on_other_makes() {
    let car = Car::connect("CHEVROLET", ALL).await;

    let answer = car.get("/tesla/speedometer").await;

    assert_eq!(answer.status, StatusCode::NOT_IMPLEMENTED);
    assert_eq!(answer.body["code"], "VEHICLE_NOT_CAPABLE");
}

#[tokio::test]
async fn a_tesla_thermometer_reads_fahrenheit_in_imperial() {
    let car = Car::connect("TESLA", ALL).await;

    let metric = car.get("/tesla/thermometer/exterior").await;
    let imperial = car
        .send(
            Method::GET,
            &car.path("/tesla/thermometer/exterior"),
            None,
            &[("sc-unit-system", "imperial")],
        )
        .await;

    assert_eq!(metric.body, json!({ "temperature": 12.5 }));
    assert_eq!(imperial.body, json!({ "temperature": 54.5 }));
}
