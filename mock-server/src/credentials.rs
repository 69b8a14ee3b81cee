//! What the Smartcar surfaces parse at the edge, once: the `Authorization` header
//! ([`Credentials`]), the `v{major}.{minor}` version segment ([`ApiVersion`]), the vehicle id of a
//! path ([`VehicleId`]), the app behind a credential, and form-decoded queries.
//!
//! - client credentials: `Authorization: Basic base64(client_id:client_secret)` (compatibility);
//! - the app's management token (AMT): `Basic base64("default:" + AMT)` (management API) or `Bearer
//!   <AMT>` (webhook unsubscribe, delivery log) — docs/contract/management.md#authentication,
//!   docs/contract/webhooks.md#subscribing.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine;

use crate::domain::catalogue;
use crate::domain::fixtures::App;
use crate::error::ApiError;
use crate::state::AppState;

/// `v1.0`, `v2.0`, `v99999999.99`: any `v<digits>.<digits>` (docs/contract/api.md#version-segment).
/// Others are 404 VERSION.
pub(crate) fn check_version(version: &str) -> Result<(), ApiError> {
    let valid = version
        .strip_prefix('v')
        .and_then(|rest| rest.split_once('.'))
        .is_some_and(|(major, minor)| {
            !major.is_empty()
                && !minor.is_empty()
                && major.bytes().all(|b| b.is_ascii_digit())
                && minor.bytes().all(|b| b.is_ascii_digit())
        });
    if valid {
        Ok(())
    } else {
        Err(ApiError::new(
            &catalogue::NOT_FOUND_VERSION,
            format!("{version} is not an API version"),
        ))
    }
}

/// Form-decoded query pairs (`+` is a space); a bare trailing `?` is no query.
pub(crate) fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The first value of `name` in a query, if any.
pub(crate) fn query_value<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// The `Authorization` header, parsed once: by the request pipeline (which resolves it to a caller
/// and, for a bearer token, the token's access) and by the handlers that take it as an argument.
/// Parsing refuses nothing: each surface asks for the scheme it accepts and gets its error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Credentials {
    /// No `Authorization` header.
    Missing,
    /// A header whose value is not visible ASCII.
    NotText,
    /// `<scheme> <credential>`: the header's value, shared (a clone costs no copy).
    Present(HeaderValue),
}

impl Credentials {
    pub(crate) fn of(headers: &HeaderMap) -> Credentials {
        match headers.get(header::AUTHORIZATION) {
            None => Credentials::Missing,
            Some(value) if value.to_str().is_err() => Credentials::NotText,
            Some(value) => Credentials::Present(value.clone()),
        }
    }

    /// The scheme and the credential, both trimmed; the credential is empty when there was none.
    fn split(&self) -> Option<(&str, &str)> {
        let Credentials::Present(value) = self else {
            return None;
        };
        let value = value.to_str().ok()?.trim();
        let (scheme, credential) = value.split_once(' ').unwrap_or((value, ""));
        Some((scheme, credential.trim()))
    }

    /// The scheme and credential, or the AUTHENTICATION error for a missing or unreadable header.
    fn present(&self) -> Result<(&str, &str), ApiError> {
        match self {
            Credentials::Missing => Err(ApiError::authentication("the request has no Authorization header")),
            Credentials::NotText => Err(ApiError::authentication("the Authorization header is not text")),
            Credentials::Present(_) => self
                .split()
                .ok_or_else(|| ApiError::authentication("the Authorization header is not text")),
        }
    }

    /// The credential if the scheme is `scheme` (any case), or why not.
    fn with_scheme(&self, wanted: &str) -> Result<&str, ApiError> {
        let (scheme, credential) = self.present()?;
        if scheme.eq_ignore_ascii_case(wanted) {
            Ok(credential)
        } else {
            Err(ApiError::authentication(format!(
                "the Authorization header uses {scheme}, not {wanted}"
            )))
        }
    }

    /// The token of `Bearer <token>`.
    pub(crate) fn bearer(&self) -> Result<&str, ApiError> {
        self.with_scheme("Bearer")
    }

    /// The token of `Bearer <token>`, if that is what the header holds.
    pub(crate) fn bearer_token(&self) -> Option<&str> {
        self.split()
            .and_then(|(scheme, credential)| scheme.eq_ignore_ascii_case("bearer").then_some(credential))
    }

    /// Whether the scheme is Basic.
    pub(crate) fn is_basic(&self) -> bool {
        self.split()
            .is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
    }

    /// `Basic base64(user:password)`, decoded (as text, not form-decoded).
    pub(crate) fn basic(&self) -> Result<(String, String), ApiError> {
        let encoded = self.with_scheme("Basic")?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| ApiError::authentication("the Basic credentials are not base64 text"))?;
        let (user, password) = decoded
            .split_once(':')
            .ok_or_else(|| ApiError::authentication("the Basic credentials have no ':'"))?;
        Ok((user.to_owned(), password.to_owned()))
    }

    /// OAuth client credentials in Basic: the id and secret are form-encoded before base64
    /// (RFC 6749 §2.3.1), so `a%20b:c%2Bd` is `a b` and `c+d`. `None` unless Basic and
    /// well-formed.
    pub(crate) fn client_credentials(&self) -> Option<(String, String)> {
        let (scheme, credential) = self.split()?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let decoded = base64::engine::general_purpose::STANDARD.decode(credential).ok()?;
        let (id, secret) = decoded.split_at(decoded.iter().position(|byte| *byte == b':')?);
        Some((form_decode(id)?, form_decode(&secret[1..])?))
    }
}

/// One `application/x-www-form-urlencoded` value; `None` if it is not UTF-8 once decoded.
fn form_decode(encoded: &[u8]) -> Option<String> {
    let plus_as_space: Vec<u8> = encoded
        .iter()
        .map(|byte| if *byte == b'+' { b' ' } else { *byte })
        .collect();
    let bytes: Vec<u8> = percent_encoding::percent_decode(&plus_as_space).collect();
    String::from_utf8(bytes).ok()
}

impl<S: Send + Sync> FromRequestParts<S> for Credentials {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Credentials::of(&parts.headers))
    }
}

/// The `v{major}.{minor}` segment a path starts with, checked: having this argument is the
/// version check (404 VERSION otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ApiVersion {
    /// `v1.0`, whose answers keep their first shape on some surfaces.
    pub is_v1: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for ApiVersion {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let segment = parts.uri.path().trim_start_matches('/').split('/').next().unwrap_or("");
        let version = decoded(segment);
        check_version(&version).map(|()| ApiVersion {
            is_v1: version == "v1.0",
        })
    }
}

/// The `{id}` of a `/…/vehicles/{id}/…` route, as sent (percent-decoded). Not checked here: the
/// vehicle API checks its format after the route and the token
/// (docs/contract/api.md#order-of-checks), v3 not at all.
#[derive(Debug, Clone)]
pub(crate) struct VehicleId(pub String);

impl VehicleId {
    /// The id as a UUID, or the VALIDATION error the vehicle API answers for another format.
    pub(crate) fn uuid(&self) -> Result<uuid::Uuid, ApiError> {
        uuid::Uuid::try_parse(&self.0)
            .map_err(|_| ApiError::validation("vehicle_id", format!("{:?} is not a UUID", self.0)))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for VehicleId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let (_, id, _) =
            vehicle_path_segments(parts.uri.path()).ok_or_else(|| ApiError::not_found(parts.uri.path()))?;
        Ok(VehicleId(decoded(id).into_owned()))
    }
}

/// `/{version}/vehicles/{id}[/{rest}]` split into the version, the id and the rest (without its
/// leading `/`), as sent (percent-encoded).
pub(crate) fn vehicle_path_segments(path: &str) -> Option<(&str, &str, &str)> {
    let mut segments = path.strip_prefix('/')?.splitn(4, '/');
    let version = segments.next()?;
    if segments.next()? != "vehicles" {
        return None;
    }
    let id = segments.next()?;
    Some((version, id, segments.next().unwrap_or("")))
}

/// A path segment percent-decoded as the router decodes its parameters (invalid UTF-8 replaced).
pub(crate) fn decoded(segment: &str) -> std::borrow::Cow<'_, str> {
    percent_encoding::percent_decode_str(segment).decode_utf8_lossy()
}

/// The app whose client id and secret the request's Basic credentials carry.
pub(crate) fn client_app<'a>(state: &'a AppState, credentials: &Credentials) -> Result<&'a App, ApiError> {
    let (client_id, secret) = credentials.basic()?;
    let app = state
        .fixtures
        .app(&client_id)
        .ok_or_else(|| ApiError::authentication(format!("no app has client id {client_id:?}")))?;
    if app.client_secret != secret {
        return Err(ApiError::authentication(format!("wrong client secret for {client_id}")));
    }
    Ok(app)
}

/// The app whose AMT is `amt`.
pub(crate) fn amt_app<'a>(state: &'a AppState, amt: &str) -> Result<&'a App, ApiError> {
    state
        .fixtures
        .apps
        .iter()
        .find(|app| !amt.is_empty() && app.amt == amt)
        .ok_or_else(|| ApiError::authentication("the token is not any app's management token (AMT)"))
}

/// The app of `Basic base64("default:" + AMT)` (the management API).
pub(crate) fn management_app<'a>(state: &'a AppState, credentials: &Credentials) -> Result<&'a App, ApiError> {
    let (user, amt) = credentials.basic()?;
    if user != "default" {
        return Err(ApiError::authentication(format!(
            "the Basic user name must be \"default\", not {user:?}"
        )));
    }
    amt_app(state, &amt)
}

/// The app of `Bearer <AMT>` (webhook unsubscribe); `Basic default:<AMT>` is accepted too.
pub(crate) fn bearer_amt_app<'a>(state: &'a AppState, credentials: &Credentials) -> Result<&'a App, ApiError> {
    if credentials.is_basic() {
        return management_app(state, credentials);
    }
    amt_app(state, credentials.bearer()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_authorization(value: &str) -> Credentials {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(value).expect("a header value"),
        );
        Credentials::of(&headers)
    }

    #[test]
    fn a_bearer_token_is_read_whatever_the_scheme_s_case() {
        assert_eq!(with_authorization("bearer  abc ").bearer().ok(), Some("abc"));
        assert_eq!(with_authorization("Bearer abc").bearer_token(), Some("abc"));
    }

    #[test]
    fn each_surface_names_what_is_wrong_with_the_header() {
        let reason = |credentials: Credentials| credentials.bearer().err().map(|error| error.reason().to_owned());

        assert_eq!(
            reason(Credentials::of(&HeaderMap::new())).as_deref(),
            Some("the request has no Authorization header")
        );
        assert_eq!(
            reason(with_authorization("Basic ZGVtbzpzZWNyZXQ=")).as_deref(),
            Some("the Authorization header uses Basic, not Bearer")
        );
        assert_eq!(
            with_authorization("Bearer abc")
                .basic()
                .err()
                .map(|error| error.reason().to_owned()),
            Some("the Authorization header uses Bearer, not Basic".to_owned())
        );
    }

    #[test]
    fn basic_credentials_are_decoded_as_text_for_the_platform_and_form_decoded_for_oauth() {
        let credentials = with_authorization("Basic YSUyMGI6YyUyQmQ=");

        assert_eq!(credentials.basic().ok(), Some(("a%20b".to_owned(), "c%2Bd".to_owned())));
        assert_eq!(
            credentials.client_credentials(),
            Some(("a b".to_owned(), "c+d".to_owned()))
        );
    }

    #[test]
    fn the_vehicle_path_is_split_into_version_id_and_rest() {
        assert_eq!(
            vehicle_path_segments("/v2.0/vehicles/abc/charge/limit"),
            Some(("v2.0", "abc", "charge/limit"))
        );
        assert_eq!(vehicle_path_segments("/v3/vehicles/abc"), Some(("v3", "abc", "")));
        assert_eq!(vehicle_path_segments("/v2.0/user"), None);
    }
}
