//! Phone numbers: one customer, one number, whatever the formatting.
//!
//! Numbers are stored in E.164 (`+15125550123`), parsed with the shop's
//! country as the default region, so that `(512) 555-0123`, `512.555.0123`
//! and `+1 512 555 0123` are the same number and find the same customer.

use std::str::FromStr;

use phonenumber::Mode;
use phonenumber::country::Id as CountryId;

use crate::values::Invalid;

/// A valid phone number in E.164 form.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Phone(String);

impl Phone {
    /// Parses what a person or a POS typed. `country` is the shop's ISO 3166
    /// code (for example `US`), used when the number has no `+` prefix.
    pub fn parse(raw: &str, country: &str) -> Result<Self, Invalid> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(Invalid("is required".into()));
        }
        if raw.len() > 40 {
            return Err(Invalid("is too long for a phone number".into()));
        }
        let region = CountryId::from_str(&country.to_ascii_uppercase()).ok();
        let number =
            phonenumber::parse(region, raw).map_err(|_| Invalid("is not a phone number".into()))?;
        if !phonenumber::is_valid(&number) {
            return Err(Invalid(format!(
                "is not a valid phone number for {}",
                country.to_ascii_uppercase()
            )));
        }
        Ok(Phone(number.format().mode(Mode::E164).to_string()))
    }

    /// A number already stored in E.164.
    pub fn from_e164(stored: String) -> Self {
        Phone(stored)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digits without the leading `+`, for search.
    pub fn digits(&self) -> &str {
        self.0.trim_start_matches('+')
    }
}

/// Only the digits of what someone typed into a search box.
pub fn search_digits(q: &str) -> String {
    q.chars().filter(char::is_ascii_digit).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_of_one_number_are_one_number() {
        let forms = [
            "(512) 555-0123",
            "512.555.0123",
            "+1 512 555 0123",
            "1-512-555-0123",
            " 5125550123 ",
        ];
        for f in forms {
            assert_eq!(
                Phone::parse(f, "US").unwrap().as_str(),
                "+15125550123",
                "{f}"
            );
        }
    }

    #[test]
    fn the_shop_region_reads_national_numbers() {
        assert_eq!(
            Phone::parse("030 1234567", "DE").unwrap().as_str(),
            "+49301234567"
        );
        // A number with its own country code ignores the shop's.
        assert_eq!(
            Phone::parse("+44 20 7946 0958", "US").unwrap().as_str(),
            "+442079460958"
        );
    }

    #[test]
    fn nonsense_is_refused() {
        for bad in ["", "hello", "123", "555-01"] {
            assert!(Phone::parse(bad, "US").is_err(), "{bad:?}");
        }
    }
}
