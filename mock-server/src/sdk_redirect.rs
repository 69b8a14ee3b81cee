//! The JavaScript SDK's hosted redirect page (docs/contract/connect.md#the-js-sdks-redirect-page):
//! our own implementation of what `https://javascript-sdk.smartcar.com/v2/redirect` does.
//!
//! - `GET /v2/redirect` — the page (`text/html`); it only loads `/v2/redirect.js` from this origin
//! - `GET /v2/redirect.js` — posts a `SmartcarAuthMessage` built from the query to
//!   `window.opener` at `app_origin` (or this origin), then closes the popup
//! - `GET /redirect` — the same page, at the path the SDK's own integration tests use
//!
//! No `Cross-Origin-Opener-Policy` header is sent: the popup must keep `window.opener`.

use axum::Router;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;

/// Like the CDN's page: a title and the script, by absolute path on the same origin.
const PAGE: &str = include_str!("../assets/redirect.html");
const SCRIPT: &str = include_str!("../assets/redirect.js");

/// Stateless, so it merges into a router of any state.
pub(crate) fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/v2/redirect", get(page))
        .route("/redirect", get(page))
        .route("/v2/redirect.js", get(script))
}

async fn page() -> Html<&'static str> {
    Html(PAGE)
}

async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/javascript; charset=utf-8")],
        SCRIPT,
    )
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    use super::*;

    async fn get(path: &str) -> (StatusCode, axum::http::HeaderMap, String) {
        let response = router::<()>()
            .oneshot(Request::get(path).body(Body::empty()).expect("a request"))
            .await
            .expect("the router answers");
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("a body");
        (status, headers, String::from_utf8(body.to_vec()).expect("UTF-8"))
    }

    #[tokio::test]
    async fn the_redirect_page_is_html_that_loads_the_script_from_this_origin() {
        for path in [
            "/v2/redirect?app_origin=http://localhost:3000&code=c&state=s",
            "/redirect",
        ] {
            let (status, headers, body) = get(path).await;

            assert_eq!(status, StatusCode::OK, "{path}");
            assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8", "{path}");
            assert!(
                body.contains(r#"<script src="/v2/redirect.js"></script>"#),
                "{path}: {body}"
            );
            assert!(!headers.contains_key("cross-origin-opener-policy"), "{path}");
        }
    }

    #[tokio::test]
    async fn the_script_is_javascript_posting_a_smartcar_auth_message() {
        let (status, headers, body) = get("/v2/redirect.js").await;

        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "application/javascript; charset=utf-8");
        assert!(body.contains("'SmartcarAuthMessage'"));
        assert!(body.contains("window.opener.postMessage(message, targetOrigin)"));
        assert!(!headers.contains_key("cross-origin-opener-policy"));
    }
}
