//! Connect walked over HTTP as a browser would: every page, then the code exchange.

use anyhow::{Context, bail};
use reqwest::{Client, StatusCode};

pub(crate) const CLIENT_ID: &str = "demo-client";
pub(crate) const CLIENT_SECRET: &str = "demo-secret";
pub(crate) const REDIRECT_URI: &str = "https://example.com/auth";

pub(crate) fn client() -> Client {
    // reqwest is built without a crypto provider of its own (see the workspace Cargo.toml).
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .pool_max_idle_per_host(256)
        .build()
        .expect("a reqwest client")
}

/// Who signs in and where.
pub(crate) struct Login<'a> {
    pub(crate) mode: &'a str,
    pub(crate) make: &'a str,
    pub(crate) username: String,
    pub(crate) password: &'a str,
}

pub(crate) struct Connected {
    pub(crate) access_token: String,
    pub(crate) refresh_token: String,
    pub(crate) vehicle_id: String,
}

fn flow_of(page: &str) -> anyhow::Result<String> {
    let marker = r#"name="flow" value=""#;
    let start = page.find(marker).context("a flow field")? + marker.len();
    let end = page[start..].find('"').context("end of the flow field")? + start;
    Ok(page[start..end].to_owned())
}

async fn step(
    http: &Client,
    base: &str,
    action: &str,
    page: &str,
    extra: &[(&str, &str)],
) -> anyhow::Result<reqwest::Response> {
    let flow = flow_of(page)?;
    let mut form = vec![("flow", flow.as_str())];
    form.extend_from_slice(extra);
    Ok(http.post(format!("{base}{action}")).form(&form).send().await?)
}

/// Connect (every page), exchange, list vehicles, read the odometer: one complete flow.
pub(crate) async fn connect(http: &Client, base: &str, login: &Login<'_>) -> anyhow::Result<Connected> {
    let page = http
        .get(format!("{base}/oauth/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", CLIENT_ID),
            ("redirect_uri", REDIRECT_URI),
            ("mode", login.mode),
            ("scope", "read_vehicle_info read_odometer read_location"),
        ])
        .send()
        .await?
        .text()
        .await?;
    let page = step(http, base, "/connect/brand", &page, &[]).await?.text().await?;
    let page = step(http, base, "/connect/login", &page, &[("make", login.make)])
        .await?
        .text()
        .await?;
    let credentials = [("username", login.username.as_str()), ("password", login.password)];
    let page = step(http, base, "/connect/sign-in", &page, &credentials)
        .await?
        .text()
        .await?;
    let done = step(http, base, "/connect/grant", &page, &[("decision", "allow")]).await?;
    if done.status() != StatusCode::FOUND {
        bail!("Connect ended with {}", done.status());
    }
    let location = done.headers()["location"].to_str()?.to_owned();
    let code = location
        .split("code=")
        .nth(1)
        .context("a code")?
        .split('&')
        .next()
        .context("code")?
        .to_owned();
    let tokens: serde_json::Value = http
        .post(format!("{base}/oauth/token"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
        ])
        .send()
        .await?
        .json()
        .await?;
    let access_token = tokens["access_token"].as_str().context("access_token")?.to_owned();
    let refresh_token = tokens["refresh_token"].as_str().context("refresh_token")?.to_owned();
    let vehicles: serde_json::Value = http
        .get(format!("{base}/v2.0/vehicles"))
        .bearer_auth(&access_token)
        .send()
        .await?
        .json()
        .await?;
    let vehicle_id = vehicles["vehicles"][0].as_str().context("a vehicle")?.to_owned();
    let odometer = http
        .get(format!("{base}/v2.0/vehicles/{vehicle_id}/odometer"))
        .bearer_auth(&access_token)
        .send()
        .await?;
    if odometer.status() != StatusCode::OK {
        bail!("odometer answered {}", odometer.status());
    }
    Ok(Connected {
        access_token,
        refresh_token,
        vehicle_id,
    })
}

/// A test-mode CHEVROLET login with a fresh e-mail.
pub(crate) fn test_login(n: u64) -> Login<'static> {
    Login {
        mode: "test",
        make: "CHEVROLET",
        username: format!("bench-{n}@example.com"),
        password: "x",
    }
}
