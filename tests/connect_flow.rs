//! Connect as a browser walks it (docs/contract/connect.md).

use reqwest::StatusCode;
use reqwest::header;

use crate::support::{CLIENT_ID, Connect, REDIRECT_URI, TestEnv, hidden_flow, location, query_value, text_of};

fn authorize_query<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut query = vec![
        ("response_type", "code"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", REDIRECT_URI),
        ("mode", "test"),
    ];
    query.extend_from_slice(extra);
    query
}

#[tokio::test]
async fn walking_connect_ends_at_the_redirect_uri_with_a_code_and_the_state() {
    let env = TestEnv::start().await;

    let location = env
        .walk_connect(
            &Connect {
                state: Some("xyz"),
                ..Connect::default()
            },
            "allow",
        )
        .await;

    let code = query_value(&location, "code").expect("a code");
    assert_eq!(location, format!("{REDIRECT_URI}?code={code}&state=xyz"));
    assert_eq!(code.len(), 36);
}

#[tokio::test]
async fn each_step_shows_only_its_own_elements() {
    let env = TestEnv::start().await;

    let preamble = text_of(env.open_connect(&authorize_query(&[])).await).await;
    let brands = text_of(env.submit("/connect/brand", &preamble, &[]).await).await;
    let login = text_of(env.submit("/connect/login", &brands, &[("make", "FORD")]).await).await;
    let username = [("username", "a@b.c"), ("password", "x")];
    let grant = text_of(env.submit("/connect/sign-in", &login, &username).await).await;

    assert!(preamble.contains(r#"id="continue-button""#) && !preamble.contains("brand-search"));
    assert!(brands.contains(r#"id="brand-search""#) && !brands.contains("sign-in-button"));
    for make in [
        "CHEVROLET",
        "FORD",
        "TESLA",
        "BMW",
        "KIA",
        "NISSAN",
        "HYUNDAI",
        "AUDI",
        "TOYOTA",
        "VOLKSWAGEN",
    ] {
        assert!(
            brands.contains(&format!(r#"id="{make}" class="brand-list-item""#)),
            "{make} has a button"
        );
    }
    for id in ["username", "password", "sign-in-button"] {
        assert!(login.contains(&format!(r#"id="{id}""#)), "login has #{id}");
    }
    assert!(!login.contains("approval-button"));
    assert!(grant.contains(r#"class="page-content""#));
    assert!(grant.contains(r#"id="approval-button""#) && grant.contains(r#"id="deny-button""#));
}

#[tokio::test]
async fn no_page_url_or_header_carries_the_redirect_uri_after_the_first() {
    let env = TestEnv::start().await;

    let preamble = text_of(env.open_connect(&authorize_query(&[])).await).await;
    let response = env.submit("/connect/brand", &preamble, &[]).await;

    assert_eq!(response.url().path(), "/connect/brand");
    assert!(response.url().query().is_none());
    assert!(
        !text_of(response).await.contains("example.com"),
        "the flow is signed, not spelled out"
    );
}

#[tokio::test]
async fn state_comes_back_byte_for_byte() {
    let env = TestEnv::start().await;
    let raw_state = "eyJpbnN0YW5jZUlkIjoiMTc5NTg2+NjIwNTEwMDI2/MTY5MDc0In0=";
    let url = format!(
        "{}/oauth/authorize?response_type=code&application_id={CLIENT_ID}&redirect_uri={}&mode=test&state={raw_state}",
        env.base, "https%3A%2F%2Fexample.com%2Fauth"
    );

    let preamble = text_of(env.http.get(url).send().await.expect("authorize")).await;
    let brands = text_of(env.submit("/connect/brand", &preamble, &[]).await).await;
    let login = text_of(env.submit("/connect/login", &brands, &[("make", "KIA")]).await).await;
    let grant = text_of(
        env.submit("/connect/sign-in", &login, &[("username", "a@b.c"), ("password", "p")])
            .await,
    )
    .await;
    let done = env.submit("/connect/grant", &grant, &[("decision", "allow")]).await;

    assert_eq!(query_value(&location(&done), "state").as_deref(), Some(raw_state));
}

#[tokio::test]
async fn denying_consent_redirects_back_with_access_denied() {
    let env = TestEnv::start().await;

    let location = env
        .walk_connect(
            &Connect {
                state: Some("s1"),
                ..Connect::default()
            },
            "deny",
        )
        .await;

    assert_eq!(
        location,
        format!("{REDIRECT_URI}?error=access_denied&error_description=User+denied+access+to+application.&state=s1")
    );
}

#[tokio::test]
async fn an_unknown_client_gets_an_error_page_and_no_redirect() {
    let env = TestEnv::start().await;

    let response = env
        .open_connect(&[
            ("response_type", "code"),
            ("client_id", "nobody"),
            ("redirect_uri", REDIRECT_URI),
        ])
        .await;

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers().get(header::LOCATION).is_none());
    assert!(
        response
            .text()
            .await
            .expect("page")
            .contains("No application has the client_id nobody.")
    );
}

#[tokio::test]
async fn a_redirect_uri_that_is_not_registered_exactly_gets_an_error_page() {
    let env = TestEnv::start().await;

    for uri in [
        "https://example.com/auth/",
        "https://example.com/AUTH",
        "https://evil.example/auth",
    ] {
        let response = env
            .open_connect(&[
                ("response_type", "code"),
                ("client_id", CLIENT_ID),
                ("redirect_uri", uri),
            ])
            .await;

        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{uri} is refused");
        assert!(response.headers().get(header::LOCATION).is_none());
    }
}

#[tokio::test]
async fn hostile_text_in_the_query_is_escaped_on_the_error_page() {
    let env = TestEnv::start().await;

    let response = env
        .open_connect(&[("response_type", "code"), ("client_id", "<script>alert(1)</script>")])
        .await;

    let page = response.text().await.expect("page");
    assert!(!page.contains("<script>alert(1)</script>"));
    assert!(page.contains("&#60;script&#62;alert(1)&#60;/script&#62;") || page.contains("&lt;script&gt;"));
}

#[tokio::test]
async fn an_unknown_permission_is_reported_to_the_app_as_invalid_scope() {
    let env = TestEnv::start().await;

    let response = env
        .open_connect(&authorize_query(&[("scope", "read_vin read_mind"), ("state", "s")]))
        .await;

    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(
        location(&response),
        format!("{REDIRECT_URI}?error=invalid_scope&error_description=Invalid+scope%3A+read_mind.&state=s")
    );
}

#[tokio::test]
async fn a_response_type_other_than_code_is_reported_to_the_app() {
    let env = TestEnv::start().await;
    let query = [
        ("response_type", "token"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", REDIRECT_URI),
    ];

    let response = env.open_connect(&query).await;

    assert_eq!(
        query_value(&location(&response), "error").as_deref(),
        Some("unsupported_response_type")
    );
}

#[tokio::test]
async fn without_a_redirect_uri_the_apps_first_registered_one_is_used() {
    let env = TestEnv::start().await;
    let query = [
        ("response_type", "code"),
        ("client_id", CLIENT_ID),
        ("mode", "test"),
        ("scope", "bogus"),
    ];

    let response = env.open_connect(&query).await;

    assert!(location(&response).starts_with("http://localhost:8000/exchange?error=invalid_scope"));
}

#[tokio::test]
async fn a_registered_redirect_uri_with_a_query_is_joined_with_an_ampersand() {
    let env = TestEnv::start().await;
    let js_sdk = "https://javascript-sdk.smartcar.com/v2/redirect?app_origin=http://localhost:3000";

    let location = env
        .walk_connect(
            &Connect {
                redirect_uri: js_sdk,
                ..Connect::default()
            },
            "allow",
        )
        .await;

    assert!(location.starts_with(&format!("{js_sdk}&code=")), "{location}");
}

#[tokio::test]
async fn make_skips_the_brand_list() {
    let env = TestEnv::start().await;

    let preamble = text_of(env.open_connect(&authorize_query(&[("make", "TESLA")])).await).await;
    let next = text_of(env.submit("/connect/brand", &preamble, &[]).await).await;

    assert!(next.contains(r#"id="sign-in-button""#));
    assert!(next.contains("Sign in to your Tesla account"));
}

#[tokio::test]
async fn connect_pages_send_no_cross_origin_opener_policy() {
    let env = TestEnv::start().await;

    let response = env.open_connect(&authorize_query(&[])).await;

    assert!(response.headers().get("cross-origin-opener-policy").is_none());
}

#[tokio::test]
async fn a_tampered_flow_is_refused_with_a_page() {
    let env = TestEnv::start().await;
    let preamble = text_of(env.open_connect(&authorize_query(&[])).await).await;
    let flow = hidden_flow(&preamble);
    let tampered = format!("{}x", &flow[..flow.len() - 1]);

    let response = env
        .http
        .post(env.url("/connect/brand"))
        .form(&[("flow", tampered)])
        .send()
        .await
        .expect("post");

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers().get(header::LOCATION).is_none());
}

#[tokio::test]
async fn skipping_a_step_is_reported_as_a_configuration_error() {
    let env = TestEnv::start().await;
    let preamble = text_of(env.open_connect(&authorize_query(&[("state", "s")])).await).await;

    let response = env.submit("/connect/grant", &preamble, &[("decision", "allow")]).await;

    assert_eq!(response.status(), StatusCode::FOUND);
    let location = location(&response);
    assert!(
        location.starts_with(&format!("{REDIRECT_URI}?error=configuration_error")),
        "{location}"
    );
    assert_eq!(query_value(&location, "state").as_deref(), Some("s"));
}

#[tokio::test]
async fn live_mode_signs_in_only_the_fixtures_accounts() {
    let env = TestEnv::start().await;
    let live = |password| Connect {
        mode: "live",
        brand: "FORD",
        username: "driver@example.com".to_owned(),
        password,
        ..Connect::default()
    };

    let query = [
        ("response_type", "code"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", REDIRECT_URI),
        ("mode", "live"),
    ];
    let preamble = text_of(env.open_connect(&query).await).await;
    let brands = text_of(env.submit("/connect/brand", &preamble, &[]).await).await;
    let login = text_of(env.submit("/connect/login", &brands, &[("make", "FORD")]).await).await;
    let wrong = [("username", "driver@example.com"), ("password", "wrong")];
    let again = text_of(env.submit("/connect/sign-in", &login, &wrong).await).await;
    let code = env.code(&live("correct horse")).await;

    assert!(again.contains("The e-mail or password is incorrect.") && again.contains(r#"id="sign-in-button""#));
    assert_eq!(code.len(), 36);
}

#[tokio::test]
async fn a_live_account_without_vehicles_of_the_brand_gets_no_vehicles() {
    let env = TestEnv::start().await;
    let connect = Connect {
        mode: "live",
        username: "nocar@example.com".into(),
        ..Connect::default()
    };

    let location = env.walk_connect_until_sign_in(&connect).await;

    assert_eq!(query_value(&location, "error").as_deref(), Some("no_vehicles"));
}

#[tokio::test]
async fn test_logins_trigger_the_documented_connect_errors() {
    let env = TestEnv::start().await;
    let cases = [
        (
            "smartcar@invalid-subscription.com",
            "invalid_subscription",
            "User does not have an active connected vehicle subscription.",
        ),
        (
            "smartcar@vehicle-incompatible.com",
            "vehicle_incompatible",
            "The user's vehicle is not compatible.",
        ),
    ];

    for (username, error, description) in cases {
        let connect = Connect {
            username: username.to_owned(),
            state: Some("st"),
            ..Connect::default()
        };

        let location = env.walk_connect_until_sign_in(&connect).await;

        assert_eq!(query_value(&location, "error").as_deref(), Some(error));
        assert_eq!(
            query_value(&location, "error_description").as_deref(),
            Some(description)
        );
        assert_eq!(query_value(&location, "state").as_deref(), Some("st"));
    }
}

#[tokio::test]
async fn an_incompatible_vehicle_error_names_the_vehicle() {
    let env = TestEnv::start().await;
    let connect = Connect {
        username: "smartcar@vehicle-incompatible.com".into(),
        ..Connect::default()
    };

    let location = env.walk_connect_until_sign_in(&connect).await;

    assert_eq!(query_value(&location, "vin").as_deref(), Some("0SCAUDI012FE3B132"));
    assert_eq!(query_value(&location, "make").as_deref(), Some("AUDI"));
    assert!(query_value(&location, "year").is_some_and(|year| year.parse::<u16>().is_ok()));
}
