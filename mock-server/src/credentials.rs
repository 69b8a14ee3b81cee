//! What the management, compatibility and webhook routes share: the app behind a credential, the
//! `v{major}.{minor}` version segment, and form-decoded queries.
//!
//! - client credentials: `Authorization: Basic base64(client_id:client_secret)` (compatibility);
//! - the app's management token (AMT): `Basic base64("default:" + AMT)` (management API) or
//!   `Bearer <AMT>` (webhook unsubscribe, delivery log) — smartcar-api.md §8.

use axum::http::{HeaderMap, header};
use base64::Engine;

use crate::domain::catalogue;
use crate::domain::fixtures::App;
use crate::error::ApiError;
use crate::state::AppState;

/// `v1.0`, `v2.0`, `v99999999.99`: any `v<digits>.<digits>` (§4.1). Others are 404 VERSION.
pub fn check_version(version: &str) -> Result<(), ApiError> {
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
pub fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The first value of `name` in a query, if any.
pub fn query_value<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// The `Authorization` header split into scheme and credentials.
fn authorization(headers: &HeaderMap) -> Result<(&str, &str), ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::authentication("the request has no Authorization header"))?
        .to_str()
        .map_err(|_| ApiError::authentication("the Authorization header is not text"))?
        .trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    Ok((scheme, rest.trim()))
}

/// `Basic base64(user:password)`, decoded.
fn basic(headers: &HeaderMap) -> Result<(String, String), ApiError> {
    let (scheme, encoded) = authorization(headers)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(ApiError::authentication(format!(
            "the Authorization header uses {scheme}, not Basic"
        )));
    }
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

/// The app whose client id and secret the request's Basic credentials carry.
pub fn client_app<'a>(state: &'a AppState, headers: &HeaderMap) -> Result<&'a App, ApiError> {
    let (client_id, secret) = basic(headers)?;
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
pub fn amt_app<'a>(state: &'a AppState, amt: &str) -> Result<&'a App, ApiError> {
    state
        .fixtures
        .apps
        .iter()
        .find(|app| !amt.is_empty() && app.amt == amt)
        .ok_or_else(|| ApiError::authentication("the token is not any app's management token (AMT)"))
}

/// The app of `Basic base64("default:" + AMT)` (the management API).
pub fn management_app<'a>(state: &'a AppState, headers: &HeaderMap) -> Result<&'a App, ApiError> {
    let (user, amt) = basic(headers)?;
    if user != "default" {
        return Err(ApiError::authentication(format!(
            "the Basic user name must be \"default\", not {user:?}"
        )));
    }
    amt_app(state, &amt)
}

/// The app of `Bearer <AMT>` (webhook unsubscribe); `Basic default:<AMT>` is accepted too.
pub fn bearer_amt_app<'a>(state: &'a AppState, headers: &HeaderMap) -> Result<&'a App, ApiError> {
    let (scheme, token) = authorization(headers)?;
    if scheme.eq_ignore_ascii_case("basic") {
        return management_app(state, headers);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::authentication(format!(
            "the Authorization header uses {scheme}, not Bearer"
        )));
    }
    amt_app(state, token)
}
