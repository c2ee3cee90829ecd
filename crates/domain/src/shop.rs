//! The shop (tenant) and its profile rules.

use crate::access::string_enum;
use crate::values::{Invalid, optional_text, required_text};

string_enum!(
    /// Where a shop is in its life. Suspended and closed shops are read-only.
    ShopLifecycle {
        Trial = "trial",
        Active = "active",
        PastDue = "past_due",
        Suspended = "suspended",
        Closed = "closed",
    }
);

impl ShopLifecycle {
    /// Whether the shop's staff may change anything.
    pub fn allows_writes(self) -> bool {
        matches!(self, Self::Trial | Self::Active | Self::PastDue)
    }
}

/// Editable shop details, validated. `field` names match the API's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShopProfile {
    pub name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub address: Option<String>,
    pub hours: Option<String>,
    pub time_zone: String,
    pub logo_url: Option<String>,
    pub primary_color: Option<String>,
    pub accent_color: Option<String>,
}

/// Raw profile input as typed on a form or sent as JSON.
#[derive(Debug, Clone, Default)]
pub struct ShopProfileInput<'a> {
    pub name: &'a str,
    pub phone: Option<&'a str>,
    pub email: Option<&'a str>,
    pub address: Option<&'a str>,
    pub hours: Option<&'a str>,
    pub time_zone: &'a str,
    pub logo_url: Option<&'a str>,
    pub primary_color: Option<&'a str>,
    pub accent_color: Option<&'a str>,
}

impl ShopProfile {
    /// Checks every field and names the first bad one.
    pub fn parse(input: &ShopProfileInput<'_>) -> Result<Self, (&'static str, Invalid)> {
        let name = required_text(input.name, 120).map_err(|e| ("name", e))?;
        let phone = optional_text(input.phone, 40).map_err(|e| ("phone", e))?;
        let email = match optional_text(input.email, 254).map_err(|e| ("email", e))? {
            Some(e) => Some(
                crate::Email::parse(&e)
                    .map_err(|e| ("email", e))?
                    .as_str()
                    .to_owned(),
            ),
            None => None,
        };
        let address = optional_text(input.address, 300).map_err(|e| ("address", e))?;
        let hours = optional_text(input.hours, 500).map_err(|e| ("hours", e))?;
        let time_zone = parse_time_zone(input.time_zone).map_err(|e| ("time_zone", e))?;
        let logo_url = match optional_text(input.logo_url, 500).map_err(|e| ("logo_url", e))? {
            Some(u) if !u.starts_with("https://") && !u.starts_with("http://") => {
                return Err(("logo_url", Invalid("must be an http(s) URL".into())));
            }
            other => other,
        };
        let primary_color = parse_color(input.primary_color).map_err(|e| ("primary_color", e))?;
        let accent_color = parse_color(input.accent_color).map_err(|e| ("accent_color", e))?;
        Ok(Self {
            name,
            phone,
            email,
            address,
            hours,
            time_zone,
            logo_url,
            primary_color,
            accent_color,
        })
    }

    /// Whether this profile uses branding (logo or colours), a plan feature.
    pub fn uses_branding(&self) -> bool {
        self.logo_url.is_some() || self.primary_color.is_some() || self.accent_color.is_some()
    }
}

pub fn parse_time_zone(raw: &str) -> Result<String, Invalid> {
    let s = raw.trim();
    s.parse::<chrono_tz::Tz>()
        .map(|tz| tz.name().to_owned())
        .map_err(|_| Invalid("must be an IANA time zone such as America/Chicago".into()))
}

fn parse_color(raw: Option<&str>) -> Result<Option<String>, Invalid> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(c)
            if c.len() == 7
                && c.starts_with('#')
                && c[1..].chars().all(|ch| ch.is_ascii_hexdigit()) =>
        {
            Ok(Some(c.to_ascii_lowercase()))
        }
        Some(_) => Err(Invalid("must be a colour like #1a73e8".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_names_the_bad_field() {
        let ok = ShopProfileInput {
            name: "Joe's Garage",
            time_zone: "America/Chicago",
            primary_color: Some("#1A73E8"),
            ..Default::default()
        };
        let p = ShopProfile::parse(&ok).unwrap();
        assert_eq!(p.primary_color.as_deref(), Some("#1a73e8"));
        assert!(p.uses_branding());
        let bad_tz = ShopProfileInput {
            time_zone: "Mars/Olympus",
            ..ok.clone()
        };
        assert_eq!(ShopProfile::parse(&bad_tz).unwrap_err().0, "time_zone");
        let bad_color = ShopProfileInput {
            accent_color: Some("red"),
            ..ok
        };
        assert_eq!(
            ShopProfile::parse(&bad_color).unwrap_err().0,
            "accent_color"
        );
    }
}
