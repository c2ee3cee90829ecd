use pitwall_domain::Permission;
use pitwall_domain::messaging::QuietHours;
use pitwall_domain::phone::Phone;
use pitwall_store::shops;

use crate::{App, Error, Result, ShopCtx};

#[derive(Debug, Clone)]
pub struct Settings {
    pub sms_from: Option<String>,
    pub default_sms_from: Option<String>,
    /// `HH:MM` local time, both or neither.
    pub quiet_hours_start: Option<String>,
    pub quiet_hours_end: Option<String>,
    pub require_sms_consent: bool,
}

pub(super) fn hhmm(m: i32) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

pub(super) fn parse_hhmm(field: &str, s: &str) -> Result<i32> {
    let bad = || Error::invalid(field, "must be a time such as 21:00");
    let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
    let (h, m): (i32, i32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if !(0..24).contains(&h) || !(0..60).contains(&m) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

pub async fn settings(app: &App, ctx: &ShopCtx) -> Result<Settings> {
    app.require(ctx, Permission::TicketsView).await?;
    let s = &ctx.shop;
    Ok(Settings {
        sms_from: s.sms_from.clone(),
        default_sms_from: app.config.default_sms_from.clone(),
        quiet_hours_start: s.quiet_hours_start.map(hhmm),
        quiet_hours_end: s.quiet_hours_end.map(hhmm),
        require_sms_consent: s.require_sms_consent,
    })
}

pub struct SettingsInput<'a> {
    pub sms_from: Option<&'a str>,
    pub quiet_hours_start: Option<&'a str>,
    pub quiet_hours_end: Option<&'a str>,
    pub require_sms_consent: bool,
}

pub async fn put_settings(app: &App, ctx: &ShopCtx, input: SettingsInput<'_>) -> Result<Settings> {
    app.require(ctx, Permission::ShopSettingsManage).await?;
    ctx.require_writable()?;
    let mut p = crate::Problems::default();
    // The sender number is platform support's to assign (a number routes
    // replies and STOP keywords to its shop); the form may send it back
    // unchanged.
    if let Some(s) = input.sms_from.map(str::trim).filter(|s| !s.is_empty()) {
        let same = Phone::parse(s, &ctx.shop.country)
            .is_ok_and(|ph| ctx.shop.sms_from.as_deref() == Some(ph.as_str()));
        if !same {
            p.add(
                "sms_from",
                "is assigned by platform support; ask support to change the shop's sender number",
            );
        }
    }
    let start = input
        .quiet_hours_start
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let end = input
        .quiet_hours_end
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let quiet = match (start, end) {
        (None, None) => None,
        (Some(s), Some(e)) => {
            let s = parse_hhmm("quiet_hours_start", s);
            let e = parse_hhmm("quiet_hours_end", e);
            match (s, e) {
                (Ok(s), Ok(e)) if QuietHours::new(s, e).is_some() => Some((s, e)),
                (Ok(_), Ok(_)) => {
                    p.add("quiet_hours_end", "must differ from the start");
                    None
                }
                (s, e) => {
                    for r in [s, e] {
                        if let Err(Error::Invalid { field, message }) = r {
                            p.add(field, message);
                        }
                    }
                    None
                }
            }
        }
        (None, Some(_)) => {
            p.add("quiet_hours_start", "is needed with quiet_hours_end");
            None
        }
        (Some(_), None) => {
            p.add("quiet_hours_end", "is needed with quiet_hours_start");
            None
        }
    };
    p.into_result()?;
    let shop = ctx.shop_id();
    shops::set_messaging(
        &app.db,
        shop,
        shops::MessagingSettings {
            quiet_hours: quiet,
            require_sms_consent: input.require_sms_consent,
        },
    )
    .await?;
    app.cache.clear();
    Ok(Settings {
        sms_from: ctx.shop.sms_from.clone(),
        default_sms_from: app.config.default_sms_from.clone(),
        quiet_hours_start: quiet.map(|q| hhmm(q.0)),
        quiet_hours_end: quiet.map(|q| hhmm(q.1)),
        require_sms_consent: input.require_sms_consent,
    })
}
