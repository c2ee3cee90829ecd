//! Validated values: parse, don't validate.

use std::fmt;

/// Why a value was refused, in words a user can act on. The field name is
/// added by the caller, who knows where the value came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

fn invalid(msg: impl Into<String>) -> Invalid {
    Invalid(msg.into())
}

/// An e-mail address, trimmed and lower-cased so that one address is one user.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let s = raw.trim().to_lowercase();
        if s.is_empty() {
            return Err(invalid("is required"));
        }
        if s.len() > 254 {
            return Err(invalid("must be at most 254 characters"));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("must not contain spaces"));
        }
        let Some((local, domain)) = s.rsplit_once('@') else {
            return Err(invalid("must be an e-mail address like name@example.com"));
        };
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        if local.is_empty() || local.contains('@') || !domain_ok {
            return Err(invalid("must be an e-mail address like name@example.com"));
        }
        Ok(Self(s))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The part before the `@` (never empty): the name a new account gets
    /// until its owner sets one.
    pub fn local_part(&self) -> &str {
        self.0.split_once('@').map_or(self.0.as_str(), |(l, _)| l)
    }
}

/// Personal data: never printed in full by `Debug`, so a stray `{:?}` in a log
/// line does not leak it.
impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Email(<redacted>)")
    }
}

/// A shop's URL name: lower-case letters, digits and inner hyphens.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Slug(String);

impl Slug {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let s = raw.trim();
        if s.len() < 3 || s.len() > 40 {
            return Err(invalid("must be 3 to 40 characters"));
        }
        if !s
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(invalid(
                "may contain only lower-case letters, digits and hyphens",
            ));
        }
        if s.starts_with('-') || s.ends_with('-') {
            return Err(invalid("must not start or end with a hyphen"));
        }
        Ok(Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new password as typed by its owner. Only its hash is ever stored.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub const MIN_LEN: usize = 10;
    pub const MAX_LEN: usize = 256;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let n = raw.chars().count();
        if n < Self::MIN_LEN {
            return Err(invalid(format!(
                "must be at least {} characters",
                Self::MIN_LEN
            )));
        }
        if n > Self::MAX_LEN {
            return Err(invalid(format!(
                "must be at most {} characters",
                Self::MAX_LEN
            )));
        }
        Ok(Self(raw.to_owned()))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// Trimmed text with a length limit; empty is refused.
pub fn required_text(raw: &str, max: usize) -> Result<String, Invalid> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(invalid("is required"));
    }
    if s.chars().count() > max {
        return Err(invalid(format!("must be at most {max} characters")));
    }
    Ok(s.to_owned())
}

/// Trimmed optional text: empty becomes `None`.
pub fn optional_text(raw: Option<&str>, max: usize) -> Result<Option<String>, Invalid> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) if s.chars().count() > max => {
            Err(invalid(format!("must be at most {max} characters")))
        }
        Some(s) => Ok(Some(s.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_emails_local_part_names_a_new_account() {
        assert_eq!(
            Email::parse("Jo.Smith@example.com").unwrap().local_part(),
            "jo.smith"
        );
    }

    #[test]
    fn email_is_normalised_and_checked() {
        assert_eq!(
            Email::parse("  Jo@Example.COM ").unwrap().as_str(),
            "jo@example.com"
        );
        for bad in ["", "jo", "jo@", "@x.com", "jo@x", "j o@x.com", "jo@x..com"] {
            assert!(Email::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(!format!("{:?}", Email::parse("a@b.co").unwrap()).contains("a@b"));
    }

    #[test]
    fn slug_rules() {
        assert!(Slug::parse("joes-garage").is_ok());
        for bad in ["jo", "Joes", "-joe", "joe-", "joe garage", "joé"] {
            assert!(Slug::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn password_length() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse("long enough pw").is_ok());
        assert!(!format!("{:?}", Password::parse("long enough pw").unwrap()).contains("long"));
    }
}
