//! Configuration from the environment (and an optional `.env`), parsed once.
//! A bad value stops start-up naming the variable and what is wrong.

use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
#[error("{var}: {problem}")]
pub struct ConfigError {
    pub var: &'static str,
    pub problem: String,
}

fn bad(var: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        problem: problem.into(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Every setting Pitwall reads. Secrets are never printed by `Debug`.
#[derive(Clone)]
pub struct Config {
    pub addr: SocketAddr,
    /// `PITWALL_METRICS_ADDR`: serve `/metrics` here and not on `addr`.
    pub metrics_addr: Option<SocketAddr>,
    pub database_url: String,
    pub base_url: String,
    pub data_dir: PathBuf,
    pub smtp_url: Option<String>,
    pub mail_from: String,
    pub log_format: LogFormat,
    /// Twilio-compatible SMS provider; `None` sends texts to the
    /// development outbox.
    pub twilio: Option<Twilio>,
    /// The platform's sender number for shops without their own.
    pub twilio_from: Option<String>,
    /// Texts per second per sender number.
    pub sms_rate_per_sender: f64,
    /// Shops' webhooks may reach loopback and private addresses
    /// (development and tests only).
    pub webhooks_allow_private: bool,
    /// Customer link lookups allowed per client address and minute.
    pub link_lookups_per_minute: u32,
    /// How often open live streams re-check the session, membership and
    /// customer link (seconds).
    pub stream_recheck_secs: u64,
    /// `PITWALL_TRUSTED_PROXIES`: peers whose forwarding headers name the
    /// client (empty: the TCP peer is the client).
    pub trusted_proxies: pitwall_domain::net::TrustedProxies,
    /// Stripe billing; `None` runs without billing (the demo).
    pub stripe: Option<Stripe>,
    /// `PITWALL_TRIAL_DAYS`: a new shop's trial.
    pub trial_days: i64,
    /// `PITWALL_PAST_DUE_GRACE_DAYS`: how long a past-due shop keeps its plan.
    pub past_due_grace_days: i64,
    /// `PITWALL_MEDIA_STORE`: a folder (default `{data}/media`) or
    /// `s3://bucket/prefix`.
    pub media_store: String,
    /// `PITWALL_MEDIA_S3_ENDPOINT`: an S3-compatible server instead of AWS.
    pub media_s3_endpoint: Option<String>,
    /// `PITWALL_MEDIA_MAX_MB`: the largest photo or video accepted.
    pub media_max_mb: u64,
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
    /// `AWS_REGION`, `AWS_DEFAULT_REGION`, for the S3 media store.
    pub aws: Vec<(String, String)>,
    /// `PITWALL_PAYMENTS` (`off`, `connect`, `platform`),
    /// `PITWALL_PAYMENT_FEE_BPS`, `STRIPE_CONNECT_WEBHOOK_SECRET`.
    pub payments: Payments,
    /// `PITWALL_TESSERACT`, `PITWALL_PDFTOPPM` (programs, default on the
    /// `PATH`), `PITWALL_OCR_LANG` (default `eng`),
    /// `PITWALL_OCR_TIMEOUT_SECS` (default 120, per document).
    pub ocr: pitwall_core::ocr::OcrSettings,
}

/// Online payment of invoices.
#[derive(Clone, Default)]
pub struct Payments {
    pub mode: pitwall_core::payments::PaymentsMode,
    pub fee_bps: u32,
    pub connect_webhook_secrets: Vec<String>,
}

impl std::fmt::Debug for Payments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Payments")
            .field("mode", &self.mode)
            .field("fee_bps", &self.fee_bps)
            .field(
                "connect_webhook_secrets",
                &self.connect_webhook_secrets.len(),
            )
            .finish()
    }
}

/// `STRIPE_SECRET_KEY`, `STRIPE_WEBHOOK_SECRET` (comma-separated, several
/// during a rotation), `STRIPE_API_BASE`, `PITWALL_STRIPE_PRICES`.
#[derive(Clone)]
pub struct Stripe {
    pub secret_key: String,
    pub webhook_secrets: Vec<String>,
    pub api_base: String,
    pub prices: pitwall_domain::billing::PriceMap,
}

/// `TWILIO_ACCOUNT_SID`, `TWILIO_AUTH_TOKEN`, `TWILIO_API_BASE`.
#[derive(Clone)]
pub struct Twilio {
    pub account_sid: String,
    pub auth_token: String,
    pub api_base: String,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("addr", &self.addr)
            .field("metrics_addr", &self.metrics_addr)
            .field("database", &self.database_kind())
            .field("base_url", &self.base_url)
            .field("data_dir", &self.data_dir)
            .field("smtp", &self.smtp_url.is_some())
            .field("twilio", &self.twilio.as_ref().map(|t| &t.api_base))
            .field("twilio_from", &self.twilio_from)
            .field("sms_rate_per_sender", &self.sms_rate_per_sender)
            .field("webhooks_allow_private", &self.webhooks_allow_private)
            .field("link_lookups_per_minute", &self.link_lookups_per_minute)
            .field("stream_recheck_secs", &self.stream_recheck_secs)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("stripe", &self.stripe.as_ref().map(|s| &s.api_base))
            .field("media_store", &self.media_store)
            .field("media_s3_endpoint", &self.media_s3_endpoint)
            .field("media_max_mb", &self.media_max_mb)
            .field(
                "aws",
                &self.aws.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
            )
            .field("trial_days", &self.trial_days)
            .field("past_due_grace_days", &self.past_due_grace_days)
            .finish()
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads settings through `get`, so tests can pass a map.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let val = |k: &str| {
            get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let addr = match val("PITWALL_ADDR") {
            None => SocketAddr::from(([127, 0, 0, 1], 8080)),
            Some(v) => v.parse().map_err(|_| {
                bad(
                    "PITWALL_ADDR",
                    format!("must be host:port such as 127.0.0.1:8080, got {v:?}"),
                )
            })?,
        };
        let metrics_addr = match val("PITWALL_METRICS_ADDR") {
            None => None,
            Some(v) => Some(v.parse::<SocketAddr>().map_err(|_| {
                bad(
                    "PITWALL_METRICS_ADDR",
                    format!("must be host:port such as 0.0.0.0:9090, got {v:?}"),
                )
            })?),
        };
        let data_dir = PathBuf::from(val("PITWALL_DATA_DIR").unwrap_or_else(|| "./data".into()));
        let database_url = match val("DATABASE_URL") {
            None => format!("sqlite://{}/pitwall.db?mode=rwc", data_dir.display()),
            Some(v)
                if v.starts_with("sqlite:")
                    || v.starts_with("postgres://")
                    || v.starts_with("postgresql://") =>
            {
                v
            }
            Some(_) => {
                return Err(bad(
                    "DATABASE_URL",
                    "must start with sqlite: or postgres:// (the value is not shown: it may hold a password)",
                ));
            }
        };
        let base_url = match val("PITWALL_BASE_URL") {
            None => format!("http://{addr}"),
            Some(v) => {
                let u = url::Url::parse(&v)
                    .map_err(|e| bad("PITWALL_BASE_URL", format!("is not a URL: {e}")))?;
                if !matches!(u.scheme(), "http" | "https") || u.host().is_none() {
                    return Err(bad(
                        "PITWALL_BASE_URL",
                        "must be an http(s) URL such as https://pitwall.example.com",
                    ));
                }
                v.trim_end_matches('/').to_owned()
            }
        };
        let smtp_url = match val("SMTP_URL") {
            None => None,
            Some(v) if v.starts_with("smtp://") || v.starts_with("smtps://") => Some(v),
            Some(_) => return Err(bad("SMTP_URL", "must start with smtp:// or smtps://")),
        };
        let mail_from = val("PITWALL_MAIL_FROM")
            .unwrap_or_else(|| "Pitwall <no-reply@pitwall.localhost>".into());
        if !mail_from.contains('@') {
            return Err(bad(
                "PITWALL_MAIL_FROM",
                "must be an address such as Pitwall <no-reply@example.com>",
            ));
        }
        let log_format = match val("PITWALL_LOG_FORMAT").as_deref() {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(bad(
                    "PITWALL_LOG_FORMAT",
                    format!("must be pretty or json, got {other:?}"),
                ));
            }
        };
        let twilio = match (val("TWILIO_ACCOUNT_SID"), val("TWILIO_AUTH_TOKEN")) {
            (None, None) => None,
            (Some(_), None) => {
                return Err(bad(
                    "TWILIO_AUTH_TOKEN",
                    "is needed with TWILIO_ACCOUNT_SID",
                ));
            }
            (None, Some(_)) => {
                return Err(bad(
                    "TWILIO_ACCOUNT_SID",
                    "is needed with TWILIO_AUTH_TOKEN",
                ));
            }
            (Some(account_sid), Some(auth_token)) => {
                let api_base = val("TWILIO_API_BASE")
                    .unwrap_or_else(|| pitwall_jobs::sms::TWILIO_API_BASE.to_owned());
                match url::Url::parse(&api_base) {
                    Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                    _ => {
                        return Err(bad(
                            "TWILIO_API_BASE",
                            "must be an http(s) URL such as https://api.twilio.com",
                        ));
                    }
                }
                Some(Twilio {
                    account_sid,
                    auth_token,
                    api_base: api_base.trim_end_matches('/').to_owned(),
                })
            }
        };
        let twilio_from = match val("TWILIO_FROM") {
            None => None,
            Some(v) if v.starts_with("MG") => Some(v),
            Some(v) => match pitwall_domain::phone::Phone::parse(&v, "US") {
                Ok(p) => Some(p.as_str().to_owned()),
                Err(_) => {
                    return Err(bad(
                        "TWILIO_FROM",
                        "must be a phone number in E.164 form (+15125550100) or a messaging service id (MG...)",
                    ));
                }
            },
        };
        let sms_rate_per_sender = match val("PITWALL_SMS_RATE_PER_SENDER") {
            None => 1.0,
            Some(v) => match v.parse::<f64>() {
                Ok(r) if r.is_finite() && r > 0.0 && r <= 10_000.0 => r,
                _ => {
                    return Err(bad(
                        "PITWALL_SMS_RATE_PER_SENDER",
                        format!(
                            "must be texts per second, more than 0 (1 for a long code), got {v:?}"
                        ),
                    ));
                }
            },
        };
        let webhooks_allow_private = match val("PITWALL_WEBHOOKS_ALLOW_PRIVATE").as_deref() {
            None | Some("false") | Some("0") => false,
            Some("true") | Some("1") => true,
            Some(v) => {
                return Err(bad(
                    "PITWALL_WEBHOOKS_ALLOW_PRIVATE",
                    format!("must be true or false, got {v:?}"),
                ));
            }
        };
        let link_lookups_per_minute = match val("PITWALL_LINK_LOOKUPS_PER_MINUTE") {
            None => 60,
            Some(v) => match v.parse::<u32>() {
                Ok(n) if n > 0 => n,
                _ => {
                    return Err(bad(
                        "PITWALL_LINK_LOOKUPS_PER_MINUTE",
                        format!("must be a whole number above 0, got {v:?}"),
                    ));
                }
            },
        };
        let stream_recheck_secs = match val("PITWALL_STREAM_RECHECK_SECS") {
            None => 15,
            Some(v) => match v.parse::<u64>() {
                Ok(n) if (1..=300).contains(&n) => n,
                _ => {
                    return Err(bad(
                        "PITWALL_STREAM_RECHECK_SECS",
                        format!("must be a whole number from 1 to 300, got {v:?}"),
                    ));
                }
            },
        };
        let trusted_proxies = pitwall_domain::net::TrustedProxies::parse(
            &val("PITWALL_TRUSTED_PROXIES").unwrap_or_default(),
        )
        .map_err(|e| {
            bad(
                "PITWALL_TRUSTED_PROXIES",
                format!("must be comma-separated address blocks such as 10.0.0.0/8,fd00::/8: {e}"),
            )
        })?;
        let stripe = match (val("STRIPE_SECRET_KEY"), val("STRIPE_WEBHOOK_SECRET")) {
            (None, None) => None,
            (Some(_), None) => {
                return Err(bad(
                    "STRIPE_WEBHOOK_SECRET",
                    "is needed with STRIPE_SECRET_KEY (whsec_..., comma-separated during a rotation)",
                ));
            }
            (None, Some(_)) => {
                return Err(bad(
                    "STRIPE_SECRET_KEY",
                    "is needed with STRIPE_WEBHOOK_SECRET",
                ));
            }
            (Some(secret_key), Some(secrets)) => {
                let webhook_secrets: Vec<String> = secrets
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
                if webhook_secrets.is_empty() {
                    return Err(bad("STRIPE_WEBHOOK_SECRET", "has no secret"));
                }
                let api_base =
                    val("STRIPE_API_BASE").unwrap_or_else(|| "https://api.stripe.com".into());
                match url::Url::parse(&api_base) {
                    Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                    _ => {
                        return Err(bad(
                            "STRIPE_API_BASE",
                            "must be an http(s) URL such as https://api.stripe.com",
                        ));
                    }
                }
                let prices = pitwall_domain::billing::PriceMap::parse(
                    &val("PITWALL_STRIPE_PRICES").unwrap_or_default(),
                )
                .map_err(|e| bad("PITWALL_STRIPE_PRICES", e.0))?;
                Some(Stripe {
                    secret_key,
                    webhook_secrets,
                    api_base: api_base.trim_end_matches('/').to_owned(),
                    prices,
                })
            }
        };
        let payments = {
            use pitwall_core::payments::PaymentsMode;
            let mode = match val("PITWALL_PAYMENTS") {
                None => PaymentsMode::Off,
                Some(m) => PaymentsMode::parse(m.trim())
                    .ok_or_else(|| bad("PITWALL_PAYMENTS", "must be off, connect or platform"))?,
            };
            let fee_bps = match val("PITWALL_PAYMENT_FEE_BPS") {
                None => 0,
                Some(v) => match v.trim().parse::<u32>() {
                    Ok(n) if n <= 10_000 => n,
                    _ => {
                        return Err(bad(
                            "PITWALL_PAYMENT_FEE_BPS",
                            "must be basis points from 0 to 10000 (250 is 2.5 %)",
                        ));
                    }
                },
            };
            let connect_webhook_secrets: Vec<String> = val("STRIPE_CONNECT_WEBHOOK_SECRET")
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            if mode != PaymentsMode::Off {
                if stripe.is_none() {
                    return Err(bad(
                        "PITWALL_PAYMENTS",
                        "needs Stripe: set STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET",
                    ));
                }
                if connect_webhook_secrets.is_empty() {
                    return Err(bad(
                        "STRIPE_CONNECT_WEBHOOK_SECRET",
                        "is needed with PITWALL_PAYMENTS (whsec_..., comma-separated during a rotation)",
                    ));
                }
            }
            Payments {
                mode,
                fee_bps,
                connect_webhook_secrets,
            }
        };
        let days = |var: &'static str, default: i64| match val(var) {
            None => Ok(default),
            Some(v) => match v.parse::<i64>() {
                Ok(d) if (0..=3650).contains(&d) => Ok(d),
                _ => Err(bad(
                    var,
                    format!("must be a number of days from 0 to 3650, got {v:?}"),
                )),
            },
        };
        let trial_days = days("PITWALL_TRIAL_DAYS", 14)?;
        let past_due_grace_days = days("PITWALL_PAST_DUE_GRACE_DAYS", 7)?;
        let media_store = match val("PITWALL_MEDIA_STORE") {
            None => data_dir.join("media").display().to_string(),
            Some(v) if v.starts_with("s3://") => {
                match url::Url::parse(&v) {
                    Ok(u) if u.host_str().is_some_and(|h| !h.is_empty()) => {}
                    _ => {
                        return Err(bad(
                            "PITWALL_MEDIA_STORE",
                            "must be a folder or s3://bucket/prefix",
                        ));
                    }
                }
                v
            }
            Some(v) if v.contains("://") => {
                return Err(bad(
                    "PITWALL_MEDIA_STORE",
                    "must be a folder or s3://bucket/prefix",
                ));
            }
            Some(v) => v,
        };
        let media_s3_endpoint = match val("PITWALL_MEDIA_S3_ENDPOINT") {
            None => None,
            Some(v) => match url::Url::parse(&v) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {
                    Some(v.trim_end_matches('/').to_owned())
                }
                _ => {
                    return Err(bad(
                        "PITWALL_MEDIA_S3_ENDPOINT",
                        "must be an http(s) URL such as https://s3.example.com",
                    ));
                }
            },
        };
        let media_max_mb = match val("PITWALL_MEDIA_MAX_MB") {
            None => pitwall_core::inspections::media::DEFAULT_MAX_MB,
            Some(v) => match v.parse::<u64>() {
                Ok(n) if (1..=2048).contains(&n) => n,
                _ => {
                    return Err(bad(
                        "PITWALL_MEDIA_MAX_MB",
                        format!("must be megabytes from 1 to 2048, got {v:?}"),
                    ));
                }
            },
        };
        let ocr = {
            let d = pitwall_core::ocr::OcrSettings::default();
            let timeout = match val("PITWALL_OCR_TIMEOUT_SECS") {
                None => d.timeout,
                Some(v) => match v.parse::<u64>() {
                    Ok(n) if (1..=3600).contains(&n) => std::time::Duration::from_secs(n),
                    _ => {
                        return Err(bad(
                            "PITWALL_OCR_TIMEOUT_SECS",
                            format!("must be seconds from 1 to 3600, got {v:?}"),
                        ));
                    }
                },
            };
            let language = match val("PITWALL_OCR_LANG") {
                None => d.language,
                Some(v)
                    if !v.is_empty()
                        && v.chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '_') =>
                {
                    v
                }
                Some(v) => {
                    return Err(bad(
                        "PITWALL_OCR_LANG",
                        format!(
                            "must be Tesseract language codes such as eng or deu+eng, got {v:?}"
                        ),
                    ));
                }
            };
            pitwall_core::ocr::OcrSettings {
                tesseract: val("PITWALL_TESSERACT").map_or(d.tesseract, Into::into),
                pdftoppm: val("PITWALL_PDFTOPPM").map_or(d.pdftoppm, Into::into),
                language,
                timeout,
            }
        };
        let aws = [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
        ]
        .into_iter()
        .filter_map(|k| val(k).map(|v| (k.to_owned(), v)))
        .collect();
        Ok(Self {
            ocr,
            aws,
            media_store,
            media_s3_endpoint,
            media_max_mb,
            payments,
            stripe,
            trial_days,
            past_due_grace_days,
            addr,
            metrics_addr,
            database_url,
            base_url,
            data_dir,
            smtp_url,
            mail_from,
            log_format,
            twilio,
            twilio_from,
            sms_rate_per_sender,
            webhooks_allow_private,
            link_lookups_per_minute,
            stream_recheck_secs,
            trusted_proxies,
        })
    }

    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }

    fn database_kind(&self) -> &'static str {
        if self.is_sqlite() {
            "sqlite"
        } else {
            "postgres"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn with(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_need_nothing() {
        let c = with(&[]).unwrap();
        assert_eq!(c.addr.to_string(), "127.0.0.1:8080");
        assert!(c.is_sqlite());
        assert_eq!(c.base_url, "http://127.0.0.1:8080");
    }

    #[test]
    fn bad_values_name_the_variable() {
        assert_eq!(
            with(&[("PITWALL_ADDR", "nope")]).unwrap_err().var,
            "PITWALL_ADDR"
        );
        assert_eq!(
            with(&[("DATABASE_URL", "mysql://x")]).unwrap_err().var,
            "DATABASE_URL"
        );
        assert_eq!(
            with(&[("PITWALL_BASE_URL", "ftp://x")]).unwrap_err().var,
            "PITWALL_BASE_URL"
        );
        assert_eq!(
            with(&[("SMTP_URL", "mail.example.com")]).unwrap_err().var,
            "SMTP_URL"
        );
        assert_eq!(
            with(&[("PITWALL_LOG_FORMAT", "xml")]).unwrap_err().var,
            "PITWALL_LOG_FORMAT"
        );
        assert_eq!(
            with(&[("PITWALL_WEBHOOKS_ALLOW_PRIVATE", "yes")])
                .unwrap_err()
                .var,
            "PITWALL_WEBHOOKS_ALLOW_PRIVATE"
        );
        assert_eq!(
            with(&[("PITWALL_LINK_LOOKUPS_PER_MINUTE", "0")])
                .unwrap_err()
                .var,
            "PITWALL_LINK_LOOKUPS_PER_MINUTE"
        );
        assert_eq!(
            with(&[("TWILIO_ACCOUNT_SID", "AC1")]).unwrap_err().var,
            "TWILIO_AUTH_TOKEN"
        );
        assert_eq!(
            with(&[
                ("TWILIO_ACCOUNT_SID", "AC1"),
                ("TWILIO_AUTH_TOKEN", "t"),
                ("TWILIO_API_BASE", "nope")
            ])
            .unwrap_err()
            .var,
            "TWILIO_API_BASE"
        );
        assert_eq!(
            with(&[("TWILIO_FROM", "call me")]).unwrap_err().var,
            "TWILIO_FROM"
        );
        assert_eq!(
            with(&[("PITWALL_SMS_RATE_PER_SENDER", "0")])
                .unwrap_err()
                .var,
            "PITWALL_SMS_RATE_PER_SENDER"
        );
        let e = with(&[("PITWALL_TRUSTED_PROXIES", "10.0.0.0/8,proxy.local")]).unwrap_err();
        assert_eq!(e.var, "PITWALL_TRUSTED_PROXIES");
        assert!(e.to_string().contains("proxy.local"), "{e}");
    }

    #[test]
    fn trusted_proxies_default_to_none() {
        assert!(with(&[]).unwrap().trusted_proxies.is_empty());
        let c = with(&[("PITWALL_TRUSTED_PROXIES", "10.0.0.0/8, fd00::/8")]).unwrap();
        assert!(c.trusted_proxies.contains("10.1.2.3".parse().unwrap()));
        assert!(c.metrics_addr.is_none());
        assert_eq!(
            with(&[("PITWALL_METRICS_ADDR", "9090")]).unwrap_err().var,
            "PITWALL_METRICS_ADDR"
        );
        let c = with(&[("PITWALL_METRICS_ADDR", "0.0.0.0:9090")]).unwrap();
        assert_eq!(c.metrics_addr.map(|a| a.port()), Some(9090));
        assert!(!c.trusted_proxies.contains("192.0.2.1".parse().unwrap()));
    }

    #[test]
    fn sms_goes_to_the_development_outbox_unless_twilio_is_set() {
        let c = with(&[]).unwrap();
        assert!(c.twilio.is_none());
        assert_eq!(c.sms_rate_per_sender, 1.0);
        let c = with(&[
            ("TWILIO_ACCOUNT_SID", "AC1"),
            ("TWILIO_AUTH_TOKEN", "sekrit"),
            ("TWILIO_FROM", "(512) 555-0100"),
        ])
        .unwrap();
        assert_eq!(
            c.twilio.as_ref().unwrap().api_base,
            "https://api.twilio.com"
        );
        assert_eq!(c.twilio_from.as_deref(), Some("+15125550100"));
        assert!(!format!("{c:?}").contains("sekrit"));
    }

    #[test]
    fn payment_settings_are_checked_and_secrets_stay_hidden() {
        let c = with(&[]).unwrap();
        assert_eq!(c.payments.mode, pitwall_core::payments::PaymentsMode::Off);
        let stripe = [
            ("STRIPE_SECRET_KEY", "sk_test_1"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_1"),
        ];
        for (extra, var) in [
            (vec![("PITWALL_PAYMENTS", "maybe")], "PITWALL_PAYMENTS"),
            (
                vec![("PITWALL_PAYMENT_FEE_BPS", "10001")],
                "PITWALL_PAYMENT_FEE_BPS",
            ),
            (
                vec![("PITWALL_PAYMENT_FEE_BPS", "2.5")],
                "PITWALL_PAYMENT_FEE_BPS",
            ),
        ] {
            assert_eq!(with(&extra).unwrap_err().var, var);
        }
        let no_stripe = with(&[
            ("PITWALL_PAYMENTS", "connect"),
            ("STRIPE_CONNECT_WEBHOOK_SECRET", "whsec_c"),
        ]);
        assert_eq!(no_stripe.unwrap_err().var, "PITWALL_PAYMENTS");
        let mut no_secret = stripe.to_vec();
        no_secret.push(("PITWALL_PAYMENTS", "platform"));
        assert_eq!(
            with(&no_secret).unwrap_err().var,
            "STRIPE_CONNECT_WEBHOOK_SECRET"
        );
        let mut good = stripe.to_vec();
        good.extend([
            ("PITWALL_PAYMENTS", "connect"),
            ("PITWALL_PAYMENT_FEE_BPS", "250"),
            ("STRIPE_CONNECT_WEBHOOK_SECRET", "whsec_connect_sekrit"),
        ]);
        let c = with(&good).unwrap();
        assert_eq!(
            c.payments.mode,
            pitwall_core::payments::PaymentsMode::Connect
        );
        assert_eq!(c.payments.fee_bps, 250);
        assert!(!format!("{c:?}").contains("whsec_connect_sekrit"));
    }

    #[test]
    fn stripe_settings_are_checked_and_secrets_stay_hidden() {
        let c = with(&[]).unwrap();
        assert!(c.stripe.is_none());
        assert_eq!((c.trial_days, c.past_due_grace_days), (14, 7));
        for (pairs, var) in [
            (
                vec![("STRIPE_SECRET_KEY", "sk_test_1")],
                "STRIPE_WEBHOOK_SECRET",
            ),
            (
                vec![("STRIPE_WEBHOOK_SECRET", "whsec_1")],
                "STRIPE_SECRET_KEY",
            ),
            (
                vec![
                    ("STRIPE_SECRET_KEY", "sk_test_1"),
                    ("STRIPE_WEBHOOK_SECRET", "whsec_1"),
                    ("STRIPE_API_BASE", "nope"),
                ],
                "STRIPE_API_BASE",
            ),
            (
                vec![
                    ("STRIPE_SECRET_KEY", "sk_test_1"),
                    ("STRIPE_WEBHOOK_SECRET", "whsec_1"),
                    ("PITWALL_STRIPE_PRICES", "pro"),
                ],
                "PITWALL_STRIPE_PRICES",
            ),
            (vec![("PITWALL_TRIAL_DAYS", "two")], "PITWALL_TRIAL_DAYS"),
            (
                vec![("PITWALL_PAST_DUE_GRACE_DAYS", "-1")],
                "PITWALL_PAST_DUE_GRACE_DAYS",
            ),
        ] {
            assert_eq!(with(&pairs).unwrap_err().var, var);
        }
        let c = with(&[
            ("STRIPE_SECRET_KEY", "sk_test_sekrit"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_old, whsec_new"),
            ("PITWALL_STRIPE_PRICES", "pro=price_1,pro:yearly=price_2"),
        ])
        .unwrap();
        let s = c.stripe.as_ref().unwrap();
        assert_eq!(s.webhook_secrets, vec!["whsec_old", "whsec_new"]);
        assert_eq!(s.api_base, "https://api.stripe.com");
        assert_eq!(s.prices.0.len(), 2);
        let shown = format!("{c:?}");
        assert!(!shown.contains("sekrit") && !shown.contains("whsec"));
    }

    #[test]
    fn database_url_never_echoed() {
        let e = with(&[("DATABASE_URL", "mysql://user:secret@h/db")]).unwrap_err();
        assert!(!e.to_string().contains("secret"));
        let c = with(&[("DATABASE_URL", "postgres://u:secret@h/db")]).unwrap();
        assert!(!format!("{c:?}").contains("secret"));
    }
}
