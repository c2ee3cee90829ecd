//! Plans, features and quotas: what a shop may use.

use pitwall_domain::billing::SmsOverage;
use pitwall_domain::{Feature, Quota, ShopId, UserId};
use pitwall_store::{Db, audit, plans, shops};
use serde_json::json;

use crate::{Actor, App, Error, Result};

/// A shop's effective features: its plan's, with support's overrides applied.
/// Loaded per request, so a plan change applies to the very next request.
#[derive(Debug, Clone)]
pub struct FeatureSet {
    pub plan: plans::Plan,
    pub overrides: Vec<(Feature, bool)>,
    /// The catalogue, cheapest first, for "which plan has it".
    catalogue: Vec<(String, Vec<Feature>)>,
    /// What the plan does past its SMS allowance (the platform's billing
    /// setting for the plan).
    pub sms_overage: SmsOverage,
}

impl FeatureSet {
    pub(crate) async fn load(db: &Db, shop: &shops::Shop) -> Result<Self> {
        let all = plans::list(db).await?;
        let plan = all
            .iter()
            .find(|p| p.code == shop.plan_code)
            .cloned()
            .ok_or_else(|| Error::Internal(format!("shop plan {:?} missing", shop.plan_code)))?;
        let overrides = plans::overrides(db, ShopId::from_uuid(shop.id))
            .await?
            .into_iter()
            .filter_map(|o| Some((Feature::parse(&o.feature)?, o.enabled)))
            .collect();
        let sms_overage = pitwall_store::billing::sms_overage(db, &plan.code).await?;
        Ok(Self {
            plan,
            overrides,
            sms_overage,
            catalogue: all.into_iter().map(|p| (p.code, p.features)).collect(),
        })
    }

    pub fn has(&self, f: Feature) -> bool {
        match self.overrides.iter().find(|(o, _)| *o == f) {
            Some((_, enabled)) => *enabled,
            None => self.plan.features.contains(&f),
        }
    }

    pub fn require(&self, f: Feature) -> Result<()> {
        if self.has(f) {
            return Ok(());
        }
        let cheapest_plan = self
            .catalogue
            .iter()
            .find(|(_, fs)| fs.contains(&f))
            .map(|(code, _)| code.clone());
        Err(Error::FeatureNotInPlan {
            feature: f,
            cheapest_plan,
        })
    }

    pub fn enabled(&self) -> Vec<Feature> {
        Feature::ALL
            .iter()
            .copied()
            .filter(|f| self.has(*f))
            .collect()
    }

    /// The monthly SMS allowance, when sending stops at it. A plan that
    /// bills overage through Stripe never stops (its allowance is reported,
    /// not enforced, here).
    pub fn sms_stop_at(&self) -> Option<i64> {
        self.sms_overage.stop_at(self.quota(Quota::SmsPerMonth))
    }

    pub fn quota(&self, q: Quota) -> Option<i64> {
        match q {
            Quota::Users => self.plan.max_users,
            Quota::SmsPerMonth => self.plan.sms_per_month,
            Quota::Locations => self.plan.max_locations,
            Quota::MediaMb => self.plan.media_mb,
        }
        .map(i64::from)
    }
}

/// Support switches one feature on or off for one shop, whatever its plan,
/// with a reason. `None` removes the override (back to the plan).
pub async fn set_override(
    app: &App,
    actor: &Actor,
    shop: ShopId,
    feature: Feature,
    enabled: Option<bool>,
    reason: &str,
) -> Result<()> {
    actor.require_platform()?;
    let reason =
        pitwall_domain::values::required_text(reason, 500).map_err(Error::field("reason"))?;
    shops::get(&app.db, shop)
        .await?
        .ok_or(Error::NotFound("shop"))?;
    let txn = pitwall_store::begin_write(&app.db).await?;
    match enabled {
        Some(on) => {
            plans::set_override(&txn, shop, feature, on, &reason, Some(actor.user_id)).await?
        }
        None => {
            plans::clear_override(&txn, shop, feature).await?;
        }
    }
    audit::record(
        &txn,
        audit::NewAudit {
            shop: Some(shop),
            actor: Some(actor.user_id),
            action: "feature.override",
            target: Some(feature.as_str().to_owned()),
            details: json!({ "enabled": enabled, "reason": reason }),
        },
    )
    .await?;
    txn.commit().await?;
    app.cache.clear();
    Ok(())
}

/// A platform admin edits a plan of the catalogue.
pub struct PlanEdit<'a> {
    pub name: &'a str,
    pub monthly_price_cents: i64,
    pub features: &'a [String],
    pub max_users: Option<i32>,
    pub sms_per_month: Option<i32>,
    pub max_locations: Option<i32>,
    pub media_mb: Option<i32>,
}

pub async fn update_plan(
    app: &App,
    actor: &Actor,
    code: &str,
    edit: PlanEdit<'_>,
) -> Result<plans::Plan> {
    actor.require_platform_admin()?;
    let existing = plans::get(&app.db, code)
        .await?
        .ok_or(Error::NotFound("plan"))?;
    let name =
        pitwall_domain::values::required_text(edit.name, 80).map_err(Error::field("name"))?;
    if edit.monthly_price_cents < 0 {
        return Err(Error::invalid(
            "monthly_price_cents",
            "must not be negative",
        ));
    }
    let mut features = Vec::new();
    for (i, f) in edit.features.iter().enumerate() {
        let parsed = Feature::parse(f).ok_or_else(|| {
            Error::invalid(format!("features/{i}"), format!("is not a feature: {f:?}"))
        })?;
        if !features.contains(&parsed) {
            features.push(parsed);
        }
    }
    for (field, v) in [
        ("max_users", edit.max_users),
        ("sms_per_month", edit.sms_per_month),
        ("max_locations", edit.max_locations),
        ("media_mb", edit.media_mb),
    ] {
        if v.is_some_and(|n| n < 0) {
            return Err(Error::invalid(field, "must not be negative"));
        }
    }
    let plan = plans::Plan {
        code: existing.code.clone(),
        name,
        monthly_price_cents: edit.monthly_price_cents,
        position: existing.position,
        features,
        max_users: edit.max_users,
        sms_per_month: edit.sms_per_month,
        max_locations: edit.max_locations,
        media_mb: edit.media_mb,
    };
    let txn = pitwall_store::begin_write(&app.db).await?;
    let saved = plans::update(&txn, &plan)
        .await?
        .ok_or(Error::NotFound("plan"))?;
    audit::record(
        &txn,
        audit::NewAudit {
            shop: None,
            actor: Some(actor.user_id),
            action: "plan.update",
            target: Some(code.to_owned()),
            details: json!({
                "features": saved.features.iter().map(|f| f.as_str()).collect::<Vec<_>>(),
                "monthly_price_cents": saved.monthly_price_cents,
            }),
        },
    )
    .await?;
    txn.commit().await?;
    app.cache.clear();
    Ok(saved)
}

/// Who set an override, for the admin console.
pub fn override_actor(o: &plans::FeatureOverride) -> Option<UserId> {
    o.set_by.map(UserId::from_uuid)
}
