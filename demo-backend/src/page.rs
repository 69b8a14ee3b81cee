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
    /// The mock's live dashboard, when the platform is a mock on this machine (the embedded one,
    /// or one started beside it); empty otherwise.
    dashboard_url: String,
}

async fn index(State(app): State<AppState>) -> IndexPage {
    let config = app.smartcar.config();
    IndexPage {
        authorize_url: app.smartcar.authorize_url(None).into(),
        redirect_uri: config.redirect_uri.to_string(),
        mode: config.mode.as_str(),
        dashboard_url: dashboard_url(&config.api_origin),
    }
}

/// `{origin}/dashboard` for a platform on a loopback host: Smartcar's own hosts have no dashboard.
fn dashboard_url(api_origin: &reqwest::Url) -> String {
    let local = api_origin.host_str().is_some_and(|host| {
        host.eq_ignore_ascii_case("localhost")
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    });
    match api_origin.join("/dashboard") {
        Ok(url) if local => url.into(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_mock_has_a_dashboard_and_smartcar_does_not() {
        let url = |text: &str| reqwest::Url::parse(text).expect("a URL");

        assert_eq!(
            dashboard_url(&url("http://localhost:4000/")),
            "http://localhost:4000/dashboard"
        );
        assert_eq!(
            dashboard_url(&url("http://127.0.0.1:4000")),
            "http://127.0.0.1:4000/dashboard"
        );
        assert_eq!(dashboard_url(&url("https://api.smartcar.com/")), "");
    }
}
