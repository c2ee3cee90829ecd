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
    pub database_url: String,
    pub base_url: String,
    pub data_dir: PathBuf,
    pub smtp_url: Option<String>,
    pub mail_from: String,
    pub log_format: LogFormat,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("addr", &self.addr)
            .field("database", &self.database_kind())
            .field("base_url", &self.base_url)
            .field("data_dir", &self.data_dir)
            .field("smtp", &self.smtp_url.is_some())
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
        Ok(Self {
            addr,
            database_url,
            base_url,
            data_dir,
            smtp_url,
            mail_from,
            log_format,
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
    }

    #[test]
    fn database_url_never_echoed() {
        let e = with(&[("DATABASE_URL", "mysql://user:secret@h/db")]).unwrap_err();
        assert!(!e.to_string().contains("secret"));
        let c = with(&[("DATABASE_URL", "postgres://u:secret@h/db")]).unwrap();
        assert!(!format!("{c:?}").contains("secret"));
    }
}
