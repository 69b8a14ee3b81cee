//! No input makes the server panic or answer 500: odd paths, methods, headers and bodies get an
//! answer in the shape of the surface they hit.

use reqwest::{Method, StatusCode};

use crate::support::TestEnv;

#[tokio::test]
async fn odd_requests_never_get_a_5xx() {
    let env = TestEnv::start().await;
    let (tokens, id) = env
        .connect_vehicle("CHEVROLET", "read_odometer read_vehicle_info")
        .await;
    let vehicle = format!("/v2.0/vehicles/{id}");
    let cases: Vec<(Method, String, Option<&str>, &[u8])> = vec![
        (
            Method::GET,
            "/v2.0/vehicles/%00/odometer".into(),
            Some(tokens.access_token.as_str()),
            b"",
        ),
        (
            Method::GET,
            "/v2.0/vehicles/../../etc/passwd".into(),
            Some(tokens.access_token.as_str()),
            b"",
        ),
        (
            Method::GET,
            format!("{vehicle}/odometer?limit=%FF%FE&offset=-1"),
            Some(tokens.access_token.as_str()),
            b"",
        ),
        (
            Method::GET,
            "/v2.0/vehicles?limit=-5".into(),
            Some(tokens.access_token.as_str()),
            b"",
        ),
        (
            Method::GET,
            "/v2.0/vehicles?limit=99999999999999999999999".into(),
            Some(tokens.access_token.as_str()),
            b"",
        ),
        (
            Method::POST,
            format!("{vehicle}/odometer"),
            Some(tokens.access_token.as_str()),
            b"{not json",
        ),
        (Method::PUT, "/oauth/token".into(), None, b""),
        (Method::DELETE, "/oauth/authorize".into(), None, b""),
        (Method::POST, "/connect/grant".into(), None, b"flow=%ZZ&decision=allow"),
        (Method::POST, "/connect/sign-in".into(), None, b"\xff\xfe\x00"),
        (Method::POST, "/connect/brand".into(), None, b""),
        (
            Method::GET,
            "/oauth/authorize?client_id=%FF&redirect_uri=%00".into(),
            None,
            b"",
        ),
        (
            Method::GET,
            "/oauth/authorize?client_id=demo-client&state=%E0%A4%A".into(),
            None,
            b"",
        ),
        (
            Method::GET,
            format!("/v1.0/vehicles/{id}/{}", "a/".repeat(500)),
            Some(tokens.access_token.as_str()),
            b"",
        ),
        (Method::GET, "/v2.0/user".into(), Some("not-a-uuid"), b""),
    ];

    for (method, path, token, body) in cases {
        let mut request = env.http.request(method.clone(), env.url(&path)).body(body.to_vec());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("the server answers");

        let status = response.status();
        assert!(!status.is_server_error(), "{method} {path} answered {status}");
        assert!(
            response.headers().contains_key("sc-request-id"),
            "{method} {path} has a request id"
        );
    }
}

#[tokio::test]
async fn a_non_ascii_authorization_header_is_an_authentication_error() {
    let env = TestEnv::start().await;

    let response = env
        .http
        .get(env.url("/v2.0/vehicles"))
        .header(
            "authorization",
            reqwest::header::HeaderValue::from_bytes(b"Bearer \xe9t\xe9").expect("opaque bytes"),
        )
        .send()
        .await
        .expect("answer");

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}
