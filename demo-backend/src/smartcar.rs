//! The one module that speaks to the Smartcar platform: Connect's URL, the token endpoint
//! (`POST {auth}/oauth/token`, RFC 6749 §4.1.3 and §6) and the vehicle API
//! (`GET {api}/v2.0/vehicles`, `GET {api}/v2.0/vehicles/{id}`).
//!
//! Its wire types are its own, declared where they are read, so a contract change on the
//! platform's side shows up here as an error instead of being hidden by a shared struct.
//!
//! It speaks HTTP or HTTPS (rustls with `ring`, the system's roots plus `--ca-cert`), so the
//! same backend talks to the mock or to Smartcar by its origins alone, and every call is bounded
//! in time ([`Timeouts`]): a platform that stops answering costs a request, not a hung one.

use std::time::Duration;

use reqwest::{RequestBuilder, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::config::Config;

/// A client of one Smartcar app. Cheap to clone: the HTTP client is a handle.
#[derive(Debug, Clone)]
pub struct Smartcar {
    http: reqwest::Client,
    config: Config,
}

/// How long a call to the platform may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// To open the connection (TCP and TLS handshakes).
    pub connect: Duration,
    /// The whole call, from sending the request to the end of the body.
    pub request: Duration,
}

impl Default for Timeouts {
    /// Smartcar's vehicle reads can take several seconds when the car itself is asked; 30 s is
    /// well past that and well short of a browser giving up.
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(5),
            request: Duration::from_secs(30),
        }
    }
}

/// Why the HTTP client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the HTTP client's TLS settings")]
    Tls(#[from] rustls::Error),
    #[error("building the HTTP client")]
    Http(#[from] reqwest::Error),
}

/// What the token endpoint grants (docs/contract/oauth.md#success).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub access_token: String,
    pub refresh_token: String,
    /// How long the access token is valid from the moment it was issued.
    pub expires_in: Duration,
}

/// A vehicle's attributes, as the API answers them and as `GET /vehicle` passes them on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vehicle {
    pub id: String,
    pub make: String,
    pub model: String,
    pub year: i32,
}

/// Why a call to the platform failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Nothing answered, or the answer was cut off.
    #[error("the Smartcar platform could not be reached at {url}")]
    Unreachable {
        url: Url,
        #[source]
        source: reqwest::Error,
    },
    /// The platform answered with an error status. `body` is its JSON error as sent (token
    /// errors are `{error, error_description}`, API errors `{type, code, description, …}`), or
    /// the text wrapped in a JSON string when it was not JSON.
    #[error("the Smartcar platform answered {status} at {url}")]
    Refused {
        url: Url,
        status: StatusCode,
        body: serde_json::Value,
    },
    /// A success whose body is not what the platform documents.
    #[error("the Smartcar platform answered {url} with an unexpected body")]
    Unexpected {
        url: Url,
        #[source]
        source: reqwest::Error,
    },
}

impl Smartcar {
    /// For callers whose `config` is known to build (its CA file was checked when parsed): panics
    /// where [`Smartcar::try_new`] would fail. `main` calls `try_new` first.
    pub fn new(config: Config) -> Self {
        // `{:#}` prints the error with its causes.
        Self::try_new(config).unwrap_or_else(|error| panic!("{:#}", anyhow::Error::from(error)))
    }

    pub fn try_new(config: Config) -> Result<Self, ClientError> {
        Self::with_timeouts(config, Timeouts::default())
    }

    pub fn with_timeouts(config: Config, timeouts: Timeouts) -> Result<Self, ClientError> {
        // The same TLS as the mock's own client: `ring`, the system's roots plus `--ca-cert`.
        mock_server::net::install_crypto_provider();
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(mock_server::net::tls_config(config.ca_cert.as_ref())?)
            // The platform is a local mock or Smartcar; a proxy from the environment would only
            // get in the way of the first.
            .no_proxy()
            .connect_timeout(timeouts.connect)
            .timeout(timeouts.request)
            .build()?;
        Ok(Smartcar { http, config })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The Connect URL, with the parameters in the order the JS SDK sends them
    /// (docs/contract/tutorial-flow.md#the-connect-url). The demo page adds its own `state` to each
    /// popup; `/login` passes one here.
    pub fn authorize_url(&self, state: Option<&str>) -> Url {
        let config = &self.config;
        let mut url = config
            .connect_origin
            .join("/oauth/authorize")
            .expect("an absolute path joins");
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", &config.client_id)
                .append_pair("redirect_uri", config.redirect_uri.as_str())
                .append_pair("approval_prompt", "force")
                .append_pair("scope", &config.scope.join(" "))
                .append_pair("mode", config.mode.as_str());
            if let Some(state) = state {
                query.append_pair("state", state);
            }
        }
        url
    }

    /// Exchanges an authorization code, sending the same `redirect_uri` Connect was given.
    pub async fn exchange_code(&self, code: &str) -> Result<Grant, Error> {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.config.redirect_uri.as_str()),
        ])
        .await
    }

    /// Trades a refresh token for a new pair (RFC 6749 §6).
    pub async fn refresh(&self, refresh_token: &str) -> Result<Grant, Error> {
        self.token(&[("grant_type", "refresh_token"), ("refresh_token", refresh_token)])
            .await
    }

    async fn token(&self, form: &[(&str, &str)]) -> Result<Grant, Error> {
        #[derive(Deserialize)]
        struct Token {
            access_token: String,
            refresh_token: String,
            expires_in: u64,
        }

        let url = self
            .config
            .auth_origin
            .join("/oauth/token")
            .expect("an absolute path joins");
        let request = self
            .http
            .post(url.clone())
            .basic_auth(&self.config.client_id, Some(self.config.client_secret.expose()))
            .form(form);
        let token: Token = ok_json(url, request).await?;
        Ok(Grant {
            access_token: token.access_token,
            refresh_token: token.refresh_token,
            expires_in: Duration::from_secs(token.expires_in),
        })
    }

    /// The ids of the vehicles the owner shared, in the platform's order.
    pub async fn vehicle_ids(&self, access_token: &str) -> Result<Vec<String>, Error> {
        #[derive(Deserialize)]
        struct Vehicles {
            vehicles: Vec<String>,
        }

        let url = self
            .config
            .api_origin
            .join("/v2.0/vehicles")
            .expect("an absolute path joins");
        let request = self.http.get(url.clone()).bearer_auth(access_token);
        let list: Vehicles = ok_json(url, request).await?;
        Ok(list.vehicles)
    }

    /// One vehicle's id, make, model and year.
    pub async fn vehicle(&self, access_token: &str, id: &str) -> Result<Vehicle, Error> {
        let mut url = self
            .config
            .api_origin
            .join("/v2.0/vehicles")
            .expect("an absolute path joins");
        url.path_segments_mut().expect("an http URL has path segments").push(id);
        let request = self.http.get(url.clone()).bearer_auth(access_token);
        ok_json(url, request).await
    }
}

/// Sends `request` and reads a JSON body, turning an error status into [`Error::Refused`] with
/// the platform's own error body.
async fn ok_json<T: DeserializeOwned>(url: Url, request: RequestBuilder) -> Result<T, Error> {
    let response = request.send().await.map_err(|source| Error::Unreachable {
        url: url.clone(),
        source,
    })?;
    let status = response.status();
    if status.is_success() {
        return response
            .json()
            .await
            .map_err(|source| Error::Unexpected { url, source });
    }
    let text = response.text().await.map_err(|source| Error::Unreachable {
        url: url.clone(),
        source,
    })?;
    let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
    Err(Error::Refused { url, status, body })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Mode, Secret};

    fn smartcar(redirect_uri: &str) -> Smartcar {
        let platform = Url::parse("http://127.0.0.1:4000").expect("a URL");
        Smartcar::new(Config {
            client_id: "demo-client".to_owned(),
            client_secret: Secret::from("demo-secret"),
            redirect_uri: Url::parse(redirect_uri).expect("a URL"),
            connect_origin: platform.clone(),
            auth_origin: platform.clone(),
            api_origin: platform,
            mode: Mode::Simulated,
            scope: vec!["read_vehicle_info".to_owned(), "read_odometer".to_owned()],
            ca_cert: None,
            allowed_origins: Vec::new(),
        })
    }

    #[test]
    fn the_connect_url_encodes_the_redirect_uri_and_its_query() {
        let smartcar = smartcar("http://127.0.0.1:4000/v2/redirect?app_origin=http://localhost:3000");

        let url = smartcar.authorize_url(Some("a+b/c="));

        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:4000/oauth/authorize?response_type=code&client_id=demo-client\
             &redirect_uri=http%3A%2F%2F127.0.0.1%3A4000%2Fv2%2Fredirect%3Fapp_origin%3Dhttp%3A%2F%2Flocalhost%3A3000\
             &approval_prompt=force&scope=read_vehicle_info+read_odometer&mode=simulated&state=a%2Bb%2Fc%3D"
        );
    }

    #[test]
    fn the_connect_url_has_no_state_unless_given_one() {
        let url = smartcar("http://localhost:8000/exchange").authorize_url(None);

        assert!(url.query_pairs().all(|(key, _)| key != "state"), "{url}");
    }

    #[tokio::test]
    async fn a_platform_that_never_answers_is_unreachable_after_the_request_timeout() {
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let platform = Url::parse(&format!("http://{}", silent.local_addr().expect("an address"))).expect("a URL");
        // Accepts and then says nothing, like a platform stuck on a car that does not answer.
        let _held = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((socket, _)) = silent.accept().await {
                open.push(socket);
            }
        });
        let mut config = smartcar("http://localhost:8000/exchange").config.clone();
        config.auth_origin = platform;
        let timeouts = Timeouts {
            connect: Duration::from_secs(5),
            request: Duration::from_millis(200),
        };
        let smartcar = Smartcar::with_timeouts(config, timeouts).expect("a client");

        let outcome = tokio::time::timeout(Duration::from_secs(10), smartcar.exchange_code("abc"))
            .await
            .expect("the call gives up by itself");

        match outcome {
            Err(Error::Unreachable { source, .. }) => assert!(source.is_timeout(), "{source:?}"),
            other => panic!("expected a timeout, got {other:?}"),
        }
    }
}
