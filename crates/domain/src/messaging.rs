//! Messages to and from customers: their states, kinds, the opt-out
//! keywords carriers require, SMS segment counting, and quiet hours.

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::access::string_enum;

string_enum!(
    /// Where a message stands. Outbound: `queued` → `sending` → `sent` →
    /// `delivered`, or `failed`, or `held` (quiet hours, quota) first.
    /// Inbound messages are `received`.
    MessageStatus {
        Queued = "queued",
        Held = "held",
        Sending = "sending",
        Sent = "sent",
        Delivered = "delivered",
        Failed = "failed",
        Received = "received",
    }
);

impl MessageStatus {
    /// Later states win: a late "sent" receipt never undoes "delivered".
    pub fn rank(self) -> u8 {
        match self {
            MessageStatus::Held => 0,
            MessageStatus::Queued => 1,
            MessageStatus::Sending => 2,
            MessageStatus::Sent => 3,
            MessageStatus::Delivered | MessageStatus::Failed | MessageStatus::Received => 4,
        }
    }

    /// Nothing more happens to the message by itself.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            MessageStatus::Sent
                | MessageStatus::Delivered
                | MessageStatus::Failed
                | MessageStatus::Received
        )
    }
}

string_enum!(
    Channel {
        Sms = "sms",
        Email = "email",
        Web = "web",
    }
);

impl Channel {
    /// A channel staff can send on (`web` is the customer writing on their
    /// ticket's page: inbound only): `sms` or `email` (a customer's page
    /// message has no way back but these).
    pub fn outbound(s: &str) -> Option<Channel> {
        Self::parse(s).filter(|c| *c != Channel::Web)
    }
}

string_enum!(
    Direction {
        Outbound = "outbound",
        Inbound = "inbound",
    }
);

string_enum!(
    /// Why a message was sent. Published: the API and the chat log show it.
    MessageKind {
        StatusUpdate = "status_update",
        Reply = "reply",
        Link = "link",
        Reminder = "reminder",
        Invoice = "invoice",
        Extension = "extension",
        Confirmation = "confirmation",
        Receipt = "receipt",
        KeywordReply = "keyword_reply",
        Inbound = "inbound",
    }
);

impl MessageKind {
    /// Reminders and follow-ups wait for morning; what the customer is
    /// waiting for (status, link, a reply) goes at once.
    pub fn waits_out_quiet_hours(self) -> bool {
        matches!(self, MessageKind::Reminder | MessageKind::Invoice)
    }
}

string_enum!(
    /// The per-shop templates besides the status messages.
    TemplateKind {
        Link = "link",
        Reminder = "reminder",
        Invoice = "invoice",
        Extension = "extension",
        Confirmation = "confirmation",
        Receipt = "receipt",
    }
);

impl TemplateKind {
    pub fn default_body(self) -> &'static str {
        match self {
            TemplateKind::Link => {
                "Hi {{ first_name }}, {{ shop_name }} here. See your {{ vehicle }} and approve work: {{ link }}"
            }
            TemplateKind::Reminder => {
                "Hi {{ first_name }}, a reminder from {{ shop_name }} about your {{ vehicle }}: {{ link }}"
            }
            TemplateKind::Invoice => {
                "Hi {{ first_name }}, your invoice {{ ticket_number }} from {{ shop_name }} is ready: {{ link }}"
            }
            TemplateKind::Extension => {
                "Hi {{ first_name }}, {{ shop_name }} found more your {{ vehicle }} needs. Please look and decide: {{ link }}"
            }
            TemplateKind::Confirmation => {
                "Hi {{ first_name }}, {{ shop_name }} confirms the work you approved on your {{ vehicle }}: {{ approved_work }} ({{ approved_total }}). Thank you!"
            }
            TemplateKind::Receipt => {
                "Hi {{ first_name }}, {{ shop_name }} received your payment of {{ amount_paid }} for invoice {{ invoice_number }}. Thank you!"
            }
        }
    }

    pub fn message_kind(self) -> MessageKind {
        match self {
            TemplateKind::Link => MessageKind::Link,
            TemplateKind::Reminder => MessageKind::Reminder,
            TemplateKind::Invoice => MessageKind::Invoice,
            TemplateKind::Extension => MessageKind::Extension,
            TemplateKind::Confirmation => MessageKind::Confirmation,
            TemplateKind::Receipt => MessageKind::Receipt,
        }
    }
}

/// The variables every customer template may use, with what they hold.
/// The message setup page lists them; the preview fills them with these
/// samples.
pub const TEMPLATE_VARIABLES: &[(&str, &str, &str)] = &[
    ("first_name", "Customer's first name", "Sam"),
    ("last_name", "Customer's last name", "Lee"),
    ("vehicle", "Year, make and model", "2019 Honda Civic"),
    ("status", "The vehicle status", "Ready for pickup"),
    ("ticket_number", "The POS ticket number", "1001"),
    ("shop_name", "Your shop's name", "Main Street Auto"),
    ("shop_phone", "Your shop's phone", "+15125550100"),
    (
        "promised_at",
        "Promised time, in your time zone",
        "Tue 5:00 PM",
    ),
    (
        "link",
        "The customer's link to the ticket",
        "https://pitwall.example/c/…",
    ),
    (
        "approved_work",
        "What the customer approved (confirmations)",
        "Brake pads, Front rotors",
    ),
    (
        "approved_total",
        "The approved amount (confirmations)",
        "$371.00",
    ),
    (
        "invoice_number",
        "The invoice's number (receipts)",
        "INV-00042",
    ),
    ("amount_paid", "The amount paid (receipts)", "$167.38"),
];

string_enum!(
    /// What a customer's text asks of us (carrier rules).
    Keyword {
        Stop = "stop",
        Start = "start",
        Help = "help",
    }
);

impl Keyword {
    /// The whole message must be the keyword, in any case, with spaces
    /// around it allowed: "stop" opts out, "please stop by at 5" does not.
    pub fn of(body: &str) -> Option<Keyword> {
        let word = body.trim().to_ascii_uppercase();
        match word.as_str() {
            "STOP" | "STOPALL" | "UNSUBSCRIBE" | "CANCEL" | "END" | "QUIT" => Some(Keyword::Stop),
            "START" | "UNSTOP" => Some(Keyword::Start),
            "HELP" | "INFO" => Some(Keyword::Help),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsEncoding {
    Gsm7,
    Ucs2,
}

impl SmsEncoding {
    pub fn as_str(self) -> &'static str {
        match self {
            SmsEncoding::Gsm7 => "GSM-7",
            SmsEncoding::Ucs2 => "UCS-2",
        }
    }
}

/// How a text travels: its encoding, length in that encoding's units, and
/// the number of segments the carrier bills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmsSize {
    pub encoding: SmsEncoding,
    pub units: usize,
    pub segments: usize,
}

const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM7_EXTENDED: &str = "^{}\\[~]|€\x0c";

/// What one segment of a text costs, in millionths of a dollar (a US long
/// code, as a hint on the template page; the shop's bill is Stripe's).
pub const SMS_SEGMENT_COST_MICROS: u64 = 7_900;

pub fn sms_size(body: &str) -> SmsSize {
    let mut gsm_units = 0usize;
    let mut gsm = true;
    for c in body.chars() {
        if GSM7_BASIC.contains(c) {
            gsm_units += 1;
        } else if GSM7_EXTENDED.contains(c) {
            gsm_units += 2;
        } else {
            gsm = false;
            break;
        }
    }
    let (encoding, units, single, multi) = if gsm {
        (SmsEncoding::Gsm7, gsm_units, 160, 153)
    } else {
        (SmsEncoding::Ucs2, body.encode_utf16().count(), 70, 67)
    };
    let segments = match units {
        0 => 0,
        n if n <= single => 1,
        n => n.div_ceil(multi),
    };
    SmsSize {
        encoding,
        units,
        segments,
    }
}

/// The month SMS usage is counted in: `YYYY-MM`, UTC.
pub fn usage_month(at: DateTime<Utc>) -> String {
    at.format("%Y-%m").to_string()
}

/// A shop's quiet hours: from `start` to `end` local time (minutes after
/// midnight), possibly across midnight (21:00–08:00).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub start: u32,
    pub end: u32,
}

impl QuietHours {
    pub fn new(start: i32, end: i32) -> Option<Self> {
        let ok = |m: i32| (0..24 * 60).contains(&m);
        (ok(start) && ok(end) && start != end).then_some(Self {
            start: start as u32,
            end: end as u32,
        })
    }

    /// `None` when `now` is outside quiet hours; otherwise the instant they
    /// end, in the shop's zone (on a day that skips the end hour, an hour
    /// later).
    pub fn ends_after(&self, now: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let local = now.with_timezone(&tz);
        let minute = local
            .time()
            .signed_duration_since(NaiveTime::MIN)
            .num_minutes() as u32;
        let quiet = if self.start < self.end {
            (self.start..self.end).contains(&minute)
        } else {
            minute >= self.start || minute < self.end
        };
        if !quiet {
            return None;
        }
        let end_time = NaiveTime::MIN + Duration::minutes(i64::from(self.end));
        let mut day = local.date_naive();
        if minute >= self.end {
            day = day.succ_opt()?;
        }
        let naive = day.and_time(end_time);
        let at = tz.from_local_datetime(&naive).earliest().or_else(|| {
            tz.from_local_datetime(&(naive + Duration::hours(1)))
                .earliest()
        })?;
        Some(at.with_timezone(&Utc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_the_whole_message_in_any_case() {
        for stop in [
            "STOP",
            "stop",
            "  Stop ",
            "stopall",
            "Unsubscribe",
            "cancel",
            "END",
            "quit\n",
        ] {
            assert_eq!(Keyword::of(stop), Some(Keyword::Stop), "{stop:?}");
        }
        assert_eq!(Keyword::of("unstop"), Some(Keyword::Start));
        assert_eq!(Keyword::of(" start"), Some(Keyword::Start));
        assert_eq!(Keyword::of("HELP"), Some(Keyword::Help));
        assert_eq!(Keyword::of("please stop by at 5"), None);
        assert_eq!(Keyword::of("stopp"), None);
        assert_eq!(Keyword::of(""), None);
    }

    #[test]
    fn segments_follow_the_encoding() {
        let s = sms_size(&"a".repeat(160));
        assert_eq!((s.encoding, s.segments), (SmsEncoding::Gsm7, 1));
        assert_eq!(sms_size(&"a".repeat(161)).segments, 2);
        assert_eq!(sms_size(&"a".repeat(306)).segments, 2);
        assert_eq!(sms_size(&"a".repeat(307)).segments, 3);
        // The euro sign is GSM-7, but takes two units.
        assert_eq!(sms_size("€").units, 2);
        // One emoji makes the whole text UCS-2: 70 per single segment.
        let e = sms_size(&format!("{}🙂", "a".repeat(68)));
        assert_eq!(
            (e.encoding, e.units, e.segments),
            (SmsEncoding::Ucs2, 70, 1)
        );
        assert_eq!(sms_size(&format!("{}🙂", "a".repeat(69))).segments, 2);
        assert_eq!(sms_size("").segments, 0);
    }

    #[test]
    fn quiet_hours_across_midnight_end_in_the_morning_local_time() {
        let tz: Tz = "America/Chicago".parse().unwrap();
        let q = QuietHours::new(21 * 60, 8 * 60).unwrap();
        // 22:30 in Chicago (CST, UTC-6) on 2026-11-23 is 04:30 UTC the 24th.
        let late = Utc.with_ymd_and_hms(2026, 11, 24, 4, 30, 0).unwrap();
        assert_eq!(
            q.ends_after(late, tz),
            Some(Utc.with_ymd_and_hms(2026, 11, 24, 14, 0, 0).unwrap())
        );
        // 06:00 local: ends the same morning.
        let early = Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap();
        assert_eq!(
            q.ends_after(early, tz),
            Some(Utc.with_ymd_and_hms(2026, 11, 24, 14, 0, 0).unwrap())
        );
        // Noon: not quiet.
        let noon = Utc.with_ymd_and_hms(2026, 11, 24, 18, 0, 0).unwrap();
        assert_eq!(q.ends_after(noon, tz), None);
        assert!(QuietHours::new(60, 60).is_none());
        assert!(QuietHours::new(-1, 60).is_none());
    }

    #[test]
    fn quiet_hours_end_on_the_right_instant_across_spring_forward() {
        // 2027-03-14: clocks in New York jump from 02:00 to 03:00. Quiet
        // from 01:00 to 02:30 ends at the first instant that exists.
        let tz: Tz = "America/New_York".parse().unwrap();
        let q = QuietHours::new(60, 150).unwrap();
        let at = Utc.with_ymd_and_hms(2027, 3, 14, 6, 30, 0).unwrap(); // 01:30 EST
        assert_eq!(
            q.ends_after(at, tz),
            Some(Utc.with_ymd_and_hms(2027, 3, 14, 7, 30, 0).unwrap()) // 03:30 EDT
        );
    }

    #[test]
    fn later_states_rank_higher() {
        assert!(MessageStatus::Delivered.rank() > MessageStatus::Sent.rank());
        assert!(MessageStatus::Sent.rank() > MessageStatus::Sending.rank());
        assert!(MessageStatus::Failed.is_final());
        assert!(!MessageStatus::Held.is_final());
    }
}
