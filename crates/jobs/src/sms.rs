//! SMS senders: a Twilio-compatible REST client, and a development sender
//! that writes each text under `data/outbox/`.
//!
//! The wire format is Twilio's: a form-encoded `POST
//! /2010-04-01/Accounts/{sid}/Messages.json` with basic auth, answered with
//! the message resource (`sid`, `status`) or an error (`code`, `message`).
//! Webhooks from the provider carry `X-Twilio-Signature`, checked by
//! [`signature_is_valid`].

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::Deserialize;

/// Twilio's own API, when `TWILIO_API_BASE` is not set.
pub const TWILIO_API_BASE: &str = "https://api.twilio.com";

/// Twilio's code for "the recipient has replied STOP to this sender".
pub const UNSUBSCRIBED_RECIPIENT: &str = "21610";

#[derive(Clone)]
pub struct TwilioSettings {
    pub account_sid: String,
    pub auth_token: String,
    pub api_base: String,
}

impl std::fmt::Debug for TwilioSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioSettings")
            .field("account_sid", &self.account_sid)
            .field("api_base", &self.api_base)
            .finish_non_exhaustive()
    }
}

/// One text to hand to the provider.
#[derive(Debug, Clone)]
pub struct OutgoingSms {
    pub message_id: String,
    pub to: String,
    /// A number (E.164) or a messaging service (`MG...`).
    pub from: String,
    pub body: String,
    pub status_callback: Option<String>,
}

/// What the provider said about a text it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub provider_id: String,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum SmsError {
    /// Will not work however often it is tried (invalid number,
    /// unsubscribed recipient, any other 4xx).
    #[error("{reason}")]
    Permanent { code: String, reason: String },
    /// May work later (timeout, refused connection, 5xx, 429). The text may
    /// or may not have reached the provider: the next try reconciles first.
    #[error("{reason}")]
    Transient { code: String, reason: String },
}

#[derive(Clone)]
pub enum SmsSender {
    Twilio {
        http: reqwest::Client,
        settings: TwilioSettings,
    },
    Dev {
        dir: PathBuf,
    },
}

#[derive(Deserialize)]
struct TwilioMessage {
    sid: String,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    date_created: Option<String>,
}

#[derive(Deserialize)]
struct TwilioList {
    #[serde(default)]
    messages: Vec<TwilioMessage>,
    /// The next (older) page, relative to the API's base URL.
    #[serde(default)]
    next_page_uri: Option<String>,
}

/// How far back a reconciliation pages (of up to 1,000 messages each).
const MAX_RECONCILE_PAGES: usize = 50;

#[derive(Deserialize)]
struct TwilioError {
    code: Option<serde_json::Value>,
    message: Option<String>,
}

impl SmsSender {
    pub fn twilio(settings: TwilioSettings) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| format!("SMS client: {e}"))?;
        Ok(SmsSender::Twilio { http, settings })
    }

    pub fn dev(dir: PathBuf) -> Self {
        SmsSender::Dev { dir }
    }

    pub fn is_dev(&self) -> bool {
        matches!(self, SmsSender::Dev { .. })
    }

    fn messages_url(settings: &TwilioSettings) -> String {
        format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            settings.api_base.trim_end_matches('/'),
            settings.account_sid
        )
    }

    pub async fn send(&self, sms: &OutgoingSms) -> Result<Accepted, SmsError> {
        match self {
            SmsSender::Twilio { http, settings } => {
                let mut form = vec![("To", sms.to.as_str()), ("Body", sms.body.as_str())];
                if sms.from.starts_with("MG") {
                    form.push(("MessagingServiceSid", sms.from.as_str()));
                } else {
                    form.push(("From", sms.from.as_str()));
                }
                if let Some(cb) = &sms.status_callback {
                    form.push(("StatusCallback", cb.as_str()));
                }
                let res = http
                    .post(Self::messages_url(settings))
                    .basic_auth(&settings.account_sid, Some(&settings.auth_token))
                    .form(&form)
                    .send()
                    .await
                    .map_err(|e| transient_http(&e))?;
                let status = res.status();
                let text = res.text().await.map_err(|e| transient_http(&e))?;
                if status.is_success() {
                    let m: TwilioMessage =
                        serde_json::from_str(&text).map_err(|e| SmsError::Transient {
                            code: "provider_answer".into(),
                            reason: format!("unreadable answer from the SMS provider: {e}"),
                        })?;
                    return Ok(Accepted { provider_id: m.sid });
                }
                let err: Option<TwilioError> = serde_json::from_str(&text).ok();
                let code = err
                    .as_ref()
                    .and_then(|e| e.code.as_ref())
                    .map(|c| match c {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .unwrap_or_else(|| status.as_u16().to_string());
                let reason = err
                    .and_then(|e| e.message)
                    .unwrap_or_else(|| format!("the SMS provider answered {status}"));
                if status.as_u16() == 429 || status.is_server_error() {
                    Err(SmsError::Transient { code, reason })
                } else {
                    Err(SmsError::Permanent { code, reason })
                }
            }
            SmsSender::Dev { dir } => {
                tokio::fs::create_dir_all(dir)
                    .await
                    .map_err(|e| dev_error(format!("outbox folder: {e}")))?;
                let path = dir.join(format!("sms-{}.json", sms.message_id));
                let doc = serde_json::json!({
                    "to": sms.to, "from": sms.from, "body": sms.body,
                    "status_callback": sms.status_callback,
                });
                tokio::fs::write(&path, doc.to_string())
                    .await
                    .map_err(|e| dev_error(format!("writing {}: {e}", path.display())))?;
                tracing::info!(message.id = %sms.message_id, path = %path.display(), "text written to the development outbox");
                Ok(Accepted {
                    provider_id: format!("dev-{}", sms.message_id),
                })
            }
        }
    }

    /// After a crash (or a timeout) between handing a text over and
    /// recording it: did the provider take it? Looks for a text to the same
    /// number with the same body created since `since`, whose id is not in
    /// `known` (another of our messages with the same words).
    pub async fn find_sent(
        &self,
        sms: &OutgoingSms,
        since: DateTime<Utc>,
        known: impl Fn(&str) -> bool,
    ) -> Result<Option<Accepted>, SmsError> {
        match self {
            SmsSender::Twilio { http, settings } => {
                // Newest first, page by page, until the pages are older
                // than the claim.
                let mut query = vec![("To", sms.to.as_str()), ("PageSize", "1000")];
                if !sms.from.starts_with("MG") {
                    query.push(("From", sms.from.as_str()));
                }
                let mut request = http.get(Self::messages_url(settings)).query(&query);
                for _ in 0..MAX_RECONCILE_PAGES {
                    let res = request
                        .basic_auth(&settings.account_sid, Some(&settings.auth_token))
                        .send()
                        .await
                        .map_err(|e| transient_http(&e))?;
                    if !res.status().is_success() {
                        return Err(SmsError::Transient {
                            code: res.status().as_u16().to_string(),
                            reason: "the SMS provider would not list messages".into(),
                        });
                    }
                    let list: TwilioList = res.json().await.map_err(|e| transient_http(&e))?;
                    let created = |m: &TwilioMessage| {
                        m.date_created
                            .as_deref()
                            .and_then(|d| DateTime::parse_from_rfc2822(d).ok())
                            .map(|d| d.with_timezone(&Utc))
                    };
                    let older_than_claim = list
                        .messages
                        .iter()
                        .any(|m| created(m).is_some_and(|d| d < since));
                    if let Some(found) = list
                        .messages
                        .iter()
                        .filter(|m| m.to.as_deref().is_none_or(|to| to == sms.to))
                        .filter(|m| m.body.as_deref() == Some(sms.body.as_str()))
                        .filter(|m| created(m).is_none_or(|d| d >= since))
                        .find(|m| !known(&m.sid))
                    {
                        return Ok(Some(Accepted {
                            provider_id: found.sid.clone(),
                        }));
                    }
                    match list.next_page_uri {
                        Some(next) if !older_than_claim => {
                            request = http.get(format!(
                                "{}{}",
                                settings.api_base.trim_end_matches('/'),
                                next
                            ));
                        }
                        _ => return Ok(None),
                    }
                }
                Ok(None)
            }
            SmsSender::Dev { dir } => {
                let path = dir.join(format!("sms-{}.json", sms.message_id));
                Ok(tokio::fs::try_exists(&path)
                    .await
                    .unwrap_or(false)
                    .then(|| Accepted {
                        provider_id: format!("dev-{}", sms.message_id),
                    }))
            }
        }
    }
}

fn dev_error(reason: String) -> SmsError {
    SmsError::Transient {
        code: "outbox".into(),
        reason,
    }
}

fn transient_http(e: &reqwest::Error) -> SmsError {
    let code = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else {
        "http"
    };
    // reqwest's message names the URL, which holds only the account sid.
    SmsError::Transient {
        code: code.into(),
        reason: format!("SMS provider unreachable: {e}"),
    }
}

/// HMAC-SHA1, keyed with the auth token, over the full URL followed by each
/// form parameter's name and value, sorted by name (Twilio's scheme).
fn signing_mac(auth_token: &str, url: &str, params: &[(String, String)]) -> Hmac<sha1::Sha1> {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    // HMAC takes a key of any length: this cannot fail.
    let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(auth_token.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(url.as_bytes());
    for (k, v) in sorted {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    mac
}

/// `X-Twilio-Signature`: the base64 of [`signing_mac`].
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(signing_mac(auth_token, url, params).finalize().into_bytes())
}

/// Checks a webhook's signature in constant time.
pub fn signature_is_valid(
    auth_token: &str,
    url: &str,
    params: &[(String, String)],
    given: &str,
) -> bool {
    let Ok(given) = base64::engine::general_purpose::STANDARD.decode(given.trim()) else {
        return false;
    };
    signing_mac(auth_token, url, params)
        .verify_slice(&given)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_twilios_published_example() {
        // The example from Twilio's webhook security documentation.
        let params: Vec<(String, String)> = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let sig = signature("12345", url, &params);
        assert_eq!(sig, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
        assert!(signature_is_valid("12345", url, &params, &sig));
        assert!(!signature_is_valid("12346", url, &params, &sig));
        let mut changed = params.clone();
        changed[2].1 = "1235".into();
        assert!(!signature_is_valid("12345", url, &changed, &sig));
        assert!(!signature_is_valid("12345", url, &params, "not base64!"));
    }
}
