//! The customer's language, and money and dates written the way it writes
//! them (CLDR conventions for the locales Pitwall speaks).

use chrono::{DateTime, Datelike, Timelike, Utc};

use crate::access::string_enum;

string_enum!(
    /// A language the customer's pages speak.
    Locale {
        En = "en",
        Es = "es",
    }
);

impl Locale {
    /// The customer's own language, else the shop's, else English. Accepts
    /// tags such as `es-MX`.
    pub fn choose(customer: Option<&str>, shop: &str) -> Locale {
        customer
            .and_then(Self::from_tag)
            .or_else(|| Self::from_tag(shop))
            .unwrap_or(Locale::En)
    }

    pub fn from_tag(tag: &str) -> Option<Locale> {
        let primary = tag.split(['-', '_']).next()?.trim().to_ascii_lowercase();
        Self::parse(&primary)
    }

    /// The language's own name, for a language switch.
    pub fn name(self) -> &'static str {
        match self {
            Locale::En => "English",
            Locale::Es => "Español",
        }
    }

    /// Money in minor units, e.g. `$1,234.50` / `1234,50 US$`.
    pub fn money(self, minor: i64, currency: &str) -> String {
        let digits = minor_digits(currency);
        let sign = if minor < 0 { "-" } else { "" };
        let abs = minor.unsigned_abs();
        let scale = 10u64.pow(digits);
        let (whole, frac) = (abs / scale, abs % scale);
        let (group, decimal) = match self {
            Locale::En => (',', '.'),
            Locale::Es => ('.', ','),
        };
        // Spanish groups thousands only from five digits on (CLDR).
        let grouped = if self == Locale::Es && whole < 10_000 {
            whole.to_string()
        } else {
            group_thousands(whole, group)
        };
        let number = if digits == 0 {
            grouped
        } else {
            format!("{grouped}{decimal}{frac:0width$}", width = digits as usize)
        };
        match self {
            Locale::En => format!("{sign}{}{number}", symbol_en(currency)),
            Locale::Es => format!("{sign}{number}\u{a0}{}", symbol_es(currency)),
        }
    }

    /// A local date and time, e.g. `Mon, Nov 23, 3:05 PM` / `lun, 23 nov, 15:05`.
    pub fn datetime(self, t: DateTime<Utc>, zone: &str) -> String {
        let tz: chrono_tz::Tz = zone.parse().unwrap_or(chrono_tz::UTC);
        let l = t.with_timezone(&tz);
        let wd = l.weekday().num_days_from_monday() as usize;
        let mo = l.month0() as usize;
        match self {
            Locale::En => {
                let (pm, h12) = l.hour12();
                format!(
                    "{}, {} {}, {}:{:02} {}",
                    ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][wd],
                    [
                        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                        "Nov", "Dec"
                    ][mo],
                    l.day(),
                    h12,
                    l.minute(),
                    if pm { "PM" } else { "AM" }
                )
            }
            Locale::Es => format!(
                "{}, {} {}, {}:{:02}",
                ["lun", "mar", "mié", "jue", "vie", "sáb", "dom"][wd],
                l.day(),
                [
                    "ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sept", "oct", "nov",
                    "dic"
                ][mo],
                l.hour(),
                l.minute()
            ),
        }
    }
}

fn minor_digits(currency: &str) -> u32 {
    match currency {
        "JPY" | "KRW" | "CLP" | "ISK" => 0,
        _ => 2,
    }
}

fn symbol_en(currency: &str) -> String {
    match currency {
        "USD" => "$".into(),
        "CAD" => "CA$".into(),
        "AUD" => "A$".into(),
        "EUR" => "€".into(),
        "GBP" => "£".into(),
        "MXN" => "MX$".into(),
        other => format!("{other}\u{a0}"),
    }
}

fn symbol_es(currency: &str) -> String {
    match currency {
        "USD" => "US$".into(),
        "EUR" => "€".into(),
        "GBP" => "GBP".into(),
        "MXN" => "MXN".into(),
        other => other.into(),
    }
}

fn group_thousands(n: u64, sep: char) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(sep);
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_written_as_each_language_writes_it() {
        assert_eq!(Locale::En.money(123_450, "USD"), "$1,234.50");
        assert_eq!(Locale::En.money(-5, "USD"), "-$0.05");
        assert_eq!(Locale::Es.money(123_450, "USD"), "1234,50\u{a0}US$");
        assert_eq!(Locale::Es.money(123_456_789, "EUR"), "1.234.567,89\u{a0}€");
        assert_eq!(Locale::En.money(1500, "JPY"), "JPY\u{a0}1,500");
    }

    #[test]
    fn dates_in_the_shops_zone_and_the_customers_words() {
        let t = DateTime::parse_from_rfc3339("2026-11-23T20:05:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        assert_eq!(
            Locale::En.datetime(t, "America/Chicago"),
            "Mon, Nov 23, 2:05 PM"
        );
        assert_eq!(
            Locale::Es.datetime(t, "America/Chicago"),
            "lun, 23 nov, 14:05"
        );
    }

    #[test]
    fn the_customers_language_wins_then_the_shops() {
        assert_eq!(Locale::choose(Some("es-MX"), "en"), Locale::Es);
        assert_eq!(Locale::choose(None, "es"), Locale::Es);
        assert_eq!(Locale::choose(Some("fr"), "en"), Locale::En);
    }
}
