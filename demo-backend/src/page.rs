//! `GET /` — the demo's own page: a Connect button that opens Connect in a popup the way
//! `@smartcar/auth` does (docs/contract/tutorial-flow.md#the-popup-protocol), then calls
//! `/exchange` and `/vehicle` and shows the vehicle. Everything it needs is inline; it loads
//! nothing from elsewhere.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::routing::get;

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/", get(index))
}

/// The page's script reads the Connect URL and the redirect URI from the button's `data-`
/// attributes, so the only values in the template are escaped attribute values.
#[derive(Template, WebTemplate)]
#[template(path = "index.html")]
struct IndexPage {
    /// Connect's URL without `state`: the script adds a fresh one to each popup.
    authorize_url: String,
    /// Messages are accepted only from this URI's origin, compared whole (`new URL(…).origin`).
    redirect_uri: String,
    mode: &'static str,
}

async fn index(State(app): State<AppState>) -> IndexPage {
    let config = app.smartcar.config();
    IndexPage {
        authorize_url: app.smartcar.authorize_url(None).into(),
        redirect_uri: config.redirect_uri.to_string(),
        mode: config.mode.as_str(),
    }
}
