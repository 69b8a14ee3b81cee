//! The token endpoint (docs/contract/oauth.md).
//!
//! - `POST /oauth/token` — `grant_type=authorization_code` (RFC 6749 §4.1.3) or
//!   `grant_type=refresh_token` (§6); client credentials from HTTP Basic or the form body.
//! - `POST /` — the same, for Python's `SMARTCAR_AUTH_ORIGIN` set to the bare origin.

mod error;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Serialize;

pub(crate) use error::TokenError;

use crate::credentials::Credentials;
use crate::domain::fixtures::App;
use crate::domain::world::{GrantError, Tokens};
use crate::request::SmartcarJson;
use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/oauth/token", post(token)).route("/", post(token))
}

/// The form of a token request; unknown fields (`flags`, …) are ignored.
#[derive(Debug, Default)]
struct TokenForm {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    refresh_token: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

impl TokenForm {
    fn parse(body: &[u8]) -> TokenForm {
        let mut form = TokenForm::default();
        for (key, value) in form_urlencoded::parse(body) {
            let slot = match key.as_ref() {
                "grant_type" => &mut form.grant_type,
                "code" => &mut form.code,
                "redirect_uri" => &mut form.redirect_uri,
                "refresh_token" => &mut form.refresh_token,
                "client_id" => &mut form.client_id,
                "client_secret" => &mut form.client_secret,
                _ => continue,
            };
            slot.get_or_insert_with(|| value.into_owned());
        }
        form
    }
}

/// `{"access_token","token_type":"Bearer","expires_in":7200,"refresh_token"}`
/// (docs/contract/oauth.md#success).
#[derive(Serialize)]
struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    refresh_token: String,
}

async fn token(
    State(state): State<AppState>,
    credentials: Credentials,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, TokenError> {
    let body = body.map_err(|rejection| TokenError::UnreadableBody(rejection.body_text()))?;
    let form = TokenForm::parse(&body);
    let app = authenticate_client(&state, &credentials, &form)?;
    let tokens = match form.grant_type.as_deref() {
        Some("authorization_code") => exchange_code(&state, app, &form)?,
        Some("refresh_token") => refresh(&state, app, &form)?,
        Some(other) => return Err(TokenError::UnsupportedGrantType(other.to_owned())),
        None => return Err(TokenError::missing("grant_type")),
    };
    let body = TokenResponse {
        access_token: tokens.access_token.to_string(),
        token_type: "Bearer",
        expires_in: tokens.expires_in,
        refresh_token: tokens.refresh_token.to_string(),
    };
    let mut response = SmartcarJson(StatusCode::OK, body).into_response();
    // RFC 6749 §5.1: token responses must not be cached.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

fn exchange_code(state: &AppState, app: &App, form: &TokenForm) -> Result<Tokens, TokenError> {
    let code = form.code.as_deref().ok_or_else(|| TokenError::missing("code"))?;
    state
        .world
        .redeem_code(&app.client_id, code, form.redirect_uri.as_deref())
        .map_err(|error| {
            let clock = &state.clock;
            let reason = match &error {
                GrantError::UnknownCode => "no code like this was ever issued".to_owned(),
                GrantError::CodeExpired { ago } => format!("code expired {} ago on the virtual clock", describe(*ago)),
                GrantError::CodeReused { redeemed_at } => format!(
                    "code was already exchanged at {} ({} ago)",
                    crate::domain::clock::time_of_day(*redeemed_at),
                    describe(clock.now() - *redeemed_at)
                ),
                GrantError::CodeForAnotherClient => format!("code was issued to another app, not {}", app.client_id),
                GrantError::RedirectMismatch { expected } => format!(
                    "redirect_uri differs from the one used at Connect (expected {expected}, got {})",
                    form.redirect_uri.as_deref().unwrap_or("none")
                ),
                _ => format!("{error:?}"),
            };
            TokenError::InvalidCode {
                code: code.to_owned(),
                reason,
            }
        })
}

fn refresh(state: &AppState, app: &App, form: &TokenForm) -> Result<Tokens, TokenError> {
    let token = form
        .refresh_token
        .as_deref()
        .ok_or_else(|| TokenError::missing("refresh_token"))?;
    state.world.refresh(&app.client_id, token).map_err(|error| {
        let reason = match &error {
            GrantError::UnknownRefreshToken => "no refresh token like this was ever issued".to_owned(),
            GrantError::RefreshTokenExpired { ago } => {
                format!("refresh token expired {} ago on the virtual clock", describe(*ago))
            }
            GrantError::RefreshTokenReused { used_at } => {
                format!(
                    "refresh token was already used at {} and its grace period is over",
                    crate::domain::clock::time_of_day(*used_at)
                )
            }
            GrantError::RefreshTokenForAnotherClient => {
                format!("refresh token was issued to another app, not {}", app.client_id)
            }
            _ => format!("{error:?}"),
        };
        TokenError::InvalidRefreshToken {
            token: token.to_owned(),
            reason,
        }
    })
}

/// The app whose credentials came with the request: HTTP Basic or the form body (Ruby's oauth2 gem
/// sends them in the body, docs/contract/oauth.md#client-credentials). When both are present they
/// must agree: a body `client_id` or `client_secret` that differs from Basic's is refused like a
/// wrong secret, not silently resolved in Basic's favour.
fn authenticate_client<'a>(
    state: &'a AppState,
    credentials: &Credentials,
    form: &TokenForm,
) -> Result<&'a App, TokenError> {
    let (client_id, secret) = match credentials.client_credentials() {
        Some((id, secret)) => {
            let differs = |body: &Option<String>, basic: &str| body.as_deref().is_some_and(|body| body != basic);
            if differs(&form.client_id, &id) || differs(&form.client_secret, &secret) {
                return Err(TokenError::InvalidClient(
                    "the Basic header and the form body carry different client credentials".to_owned(),
                ));
            }
            (id, secret)
        }
        None => match (&form.client_id, &form.client_secret) {
            (Some(id), Some(secret)) => (id.clone(), secret.clone()),
            _ => {
                return Err(TokenError::InvalidClient(
                    "no client credentials (Basic header or form)".to_owned(),
                ));
            }
        },
    };
    let app = state
        .fixtures
        .app(&client_id)
        .ok_or_else(|| TokenError::InvalidClient(format!("no app has client id {client_id}")))?;
    if app.client_secret != secret {
        return Err(TokenError::InvalidClient(format!(
            "client secret does not match app {client_id}"
        )));
    }
    Ok(app)
}

/// "3 min", "2 h 5 min", "12 s": how people read a duration in a log line.
pub(crate) fn describe(duration: time::Duration) -> String {
    let seconds = duration.whole_seconds().max(0);
    match seconds {
        0..60 => format!("{seconds} s"),
        60..3600 => format!("{} min", seconds / 60),
        3600..86400 => format!("{} h {} min", seconds / 3600, seconds % 3600 / 60),
        _ => format!("{} d", seconds / 86400),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderMap;
    use base64::Engine;

    use super::*;

    fn basic(credentials: &str) -> Credentials {
        let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
        let mut headers = HeaderMap::new();
        let value = HeaderValue::from_str(&format!("Basic {encoded}")).expect("ascii");
        headers.insert(header::AUTHORIZATION, value);
        Credentials::of(&headers)
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        assert_eq!(
            basic("a%20b:c%2Bd").client_credentials(),
            Some(("a b".to_owned(), "c+d".to_owned()))
        );
        assert_eq!(
            basic("demo-client:s+e:c").client_credentials(),
            Some(("demo-client".to_owned(), "s e:c".to_owned()))
        );
    }

    #[test]
    fn basic_credentials_that_decode_to_no_text_are_none() {
        assert_eq!(basic("%FF:secret").client_credentials(), None);
        assert_eq!(basic("no-colon").client_credentials(), None);
    }
}
