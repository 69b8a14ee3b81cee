//! Which browser origins may read the backend's answers (CORS), on every route.
//!
//! The React tutorial's front end runs on `http://localhost:3000` and calls `GET /exchange` and
//! `GET /vehicle` from there, so that origin is always allowed, as is the backend's own (the demo
//! page), and whatever `--allow-origin` / `SMARTCAR_ALLOWED_ORIGINS` adds. Any other site gets no
//! `Access-Control-Allow-Origin`: a page on the web must not be able to read the connected
//! vehicle through a backend running on someone's laptop.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use axum::http::{HeaderValue, Method};
use reqwest::Url;
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

/// The React tutorial's dev server (`npm start`), which the tutorial's backends must serve.
pub const TUTORIAL_ORIGIN: &str = "http://localhost:3000";

/// A browser origin, `scheme://host[:port]`, written the way browsers send it in `Origin`
/// (lower-case host, no default port, no trailing slash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin(String);

impl Origin {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The origins a browser on this machine uses for a backend bound to `address`. A loopback
    /// or wildcard address is reached as `localhost` and as the loopback address itself, and
    /// these are different origins to a browser.
    pub fn of_listener(address: SocketAddr) -> Vec<Origin> {
        let port = address.port();
        let ip = address.ip();
        if !(ip.is_loopback() || ip.is_unspecified()) {
            return vec![Origin(format!("http://{address}"))];
        }
        let mut origins = vec![Origin(format!("http://localhost:{port}"))];
        if ip.is_ipv4() || ip.is_unspecified() {
            origins.push(Origin(format!("http://127.0.0.1:{port}")));
        }
        if ip.is_ipv6() {
            origins.push(Origin(format!("http://[::1]:{port}")));
        }
        origins
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a configured origin was refused.
#[derive(Debug, thiserror::Error)]
pub enum NotAnOrigin {
    /// Most often a set but empty `SMARTCAR_ALLOWED_ORIGINS`, or a comma too many.
    #[error("an origin is empty: unset SMARTCAR_ALLOWED_ORIGINS or remove the extra comma")]
    Empty,
    #[error("`{0}` is not an origin: write it as scheme://host[:port], e.g. http://localhost:3000")]
    Malformed(String),
}

impl FromStr for Origin {
    type Err = NotAnOrigin;

    /// Accepts an origin with or without a trailing `/`; refuses paths, queries, credentials
    /// and `*` (a wildcard is what this list exists to avoid).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.is_empty() {
            return Err(NotAnOrigin::Empty);
        }
        let refused = || NotAnOrigin::Malformed(text.to_owned());
        let url = Url::parse(text).map_err(|_| refused())?;
        let bare = url.path() == "/"
            && url.query().is_none()
            && url.fragment().is_none()
            && url.username().is_empty()
            && url.password().is_none();
        if !bare || !matches!(url.scheme(), "http" | "https") {
            return Err(refused());
        }
        Ok(Origin(url.origin().ascii_serialization()))
    }
}

/// The CORS layer for a backend bound to `address`: the tutorial's origin, the backend's own,
/// and `extra`. Allowed origins get their own origin echoed on every response — success, error,
/// redirect and preflight — and no cookies (the tutorial sends none).
pub fn layer(address: SocketAddr, extra: &[Origin]) -> CorsLayer {
    let mut origins = vec![Origin(TUTORIAL_ORIGIN.to_owned())];
    origins.extend(Origin::of_listener(address));
    origins.extend(extra.iter().cloned());
    // An `Origin` is ASCII by construction (`ascii_serialization`), so every one converts.
    let origins = origins
        .iter()
        .filter_map(|origin| HeaderValue::from_str(origin.as_str()).ok());
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::HEAD])
        .allow_headers(AllowHeaders::mirror_request())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(text: &str) -> Result<String, NotAnOrigin> {
        text.parse::<Origin>().map(|origin| origin.0)
    }

    #[test]
    fn an_origin_is_written_as_browsers_send_it() {
        assert_eq!(
            origin("http://localhost:3000/").ok().as_deref(),
            Some("http://localhost:3000")
        );
        assert_eq!(
            origin(" HTTPS://App.Example:443 ").ok().as_deref(),
            Some("https://app.example")
        );
        assert_eq!(origin("http://[::1]:8000").ok().as_deref(), Some("http://[::1]:8000"));
    }

    #[test]
    fn anything_but_a_bare_origin_is_refused() {
        for text in [
            "*",
            "null",
            "localhost:3000",
            "http://localhost:3000/app",
            "http://localhost:3000?x=1",
            "http://user@localhost:3000",
            "file:///tmp/index.html",
        ] {
            let error = origin(text).expect_err(text);
            assert!(error.to_string().contains("scheme://host[:port]"), "{error}");
        }
    }

    #[test]
    fn an_empty_origin_is_refused_with_what_to_do() {
        let error = origin(" ").expect_err("empty");

        assert!(error.to_string().contains("unset SMARTCAR_ALLOWED_ORIGINS"), "{error}");
    }

    #[test]
    fn a_loopback_listener_is_reached_as_localhost_and_by_its_address() {
        let origins = |address: &str| -> Vec<String> {
            Origin::of_listener(address.parse().expect("an address"))
                .into_iter()
                .map(|origin| origin.0)
                .collect()
        };

        assert_eq!(
            origins("127.0.0.1:8000"),
            ["http://localhost:8000", "http://127.0.0.1:8000"]
        );
        assert_eq!(origins("[::1]:8000"), ["http://localhost:8000", "http://[::1]:8000"]);
        assert_eq!(
            origins("0.0.0.0:8000"),
            ["http://localhost:8000", "http://127.0.0.1:8000"]
        );
        assert_eq!(
            origins("[::]:8000"),
            ["http://localhost:8000", "http://127.0.0.1:8000", "http://[::1]:8000"]
        );
        assert_eq!(origins("192.168.1.20:8000"), ["http://192.168.1.20:8000"]);
    }
}
