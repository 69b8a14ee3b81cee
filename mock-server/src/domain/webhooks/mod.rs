//! Webhooks as the platform knows them: what an app declares in `apps.json`, the signals a
//! webhook can carry ([`signals`]), what to send when a vehicle changes ([`diff`]), and the
//! registry of subscriptions and delivery logs ([`registry`]). Sending is not the domain's.

pub(crate) mod diff;
pub(crate) mod registry;
pub(crate) mod signals;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One webhook as an app declares it in `apps.json`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WebhookSpec {
    pub id: Uuid,
    pub name: String,
    /// Where events are POSTed (`http://` or `https://`).
    pub callback_url: String,
    /// The payload format.
    #[serde(default)]
    pub version: PayloadVersion,
    /// Signal codes the webhook carries (see [`signals::SIGNALS`]).
    #[serde(default)]
    pub signals: Vec<String>,
}

impl WebhookSpec {
    /// What serde cannot check: `(field, message)` on the first problem.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        let url_ok = url::Url::parse(&self.callback_url)
            .is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some());
        if !url_ok {
            return Err(("callbackUrl", format!("{:?} is not an http(s) URL", self.callback_url)));
        }
        if let Some(unknown) = self.signals.iter().find(|code| signals::find(code).is_none()) {
            let known: Vec<&str> = signals::SIGNALS.iter().map(|s| s.code).collect();
            return Err((
                "signals",
                format!("{unknown:?} is not a signal (known: {})", known.join(", ")),
            ));
        }
        Ok(())
    }
}

/// `"4.0"` (`eventType`, the current format) or `"2.0"` (legacy `eventName`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum PayloadVersion {
    #[default]
    #[serde(rename = "4.0")]
    V4,
    #[serde(rename = "2.0")]
    V2,
}
