//! The admin console's use cases: platform admins and support.

use pitwall_domain::phone::Phone;
use pitwall_domain::{Feature, ShopId, ShopLifecycle};
use pitwall_store::{Page, PageRequest, audit, plans, shops};
use serde_json::json;

use crate::features::FeatureSet;
use crate::{Actor, App, Error, Result};

pub async fn list_shops(
    app: &App,
    actor: &Actor,
    q: Option<&str>,
    page: PageRequest,
) -> Result<Page<shops::Shop>> {
    actor.require_platform()?;
    Ok(shops::list(&app.db, q, page).await?)
}

pub struct ShopDetail {
    pub shop: shops::Shop,
    pub features: FeatureSet,
    pub overrides: Vec<plans::FeatureOverride>,
}

pub async fn shop_detail(app: &App, actor: &Actor, id: ShopId) -> Result<ShopDetail> {
    actor.require_platform()?;
    let shop = shops::get(&app.db, id)
        .await?
        .ok_or(Error::NotFound("shop"))?;
    let features = FeatureSet::load(&app.db, &shop).await?;
    let overrides = plans::overrides(&app.db, id).await?;
    Ok(ShopDetail {
        shop,
        features,
        overrides,
    })
}

/// Support moves a shop to another plan (billing will do the same from
/// Stripe events). Takes effect on the shop's next request.
pub async fn set_plan(app: &App, actor: &Actor, id: ShopId, plan: &str) -> Result<shops::Shop> {
    actor.require_platform()?;
    if plans::get(&app.db, plan).await?.is_none() {
        return Err(Error::invalid("plan", format!("is not a plan: {plan:?}")));
    }
    let before = shops::get(&app.db, id)
        .await?
        .ok_or(Error::NotFound("shop"))?;
    let txn = pitwall_store::begin_write(&app.db).await?;
    let shop = shops::set_plan(&txn, id, plan)
        .await?
        .ok_or(Error::NotFound("shop"))?;
    audit::record(
        &txn,
        audit::NewAudit {
            shop: Some(id),
            actor: Some(actor.user_id),
            action: "shop.set_plan",
            target: Some(plan.to_owned()),
            details: json!({ "from": before.plan_code, "to": plan }),
        },
    )
    .await?;
    txn.commit().await?;
    app.cache.clear();
    Ok(shop)
}

/// Assigns the shop its own SMS sender number, or takes it back (`None`:
/// the shop texts from the platform's shared number). A number routes
/// replies and STOP keywords to its shop, so it belongs to one shop only,
/// and the shared number is never a shop's own.
pub async fn set_sms_from(
    app: &App,
    actor: &Actor,
    id: ShopId,
    number: Option<&str>,
) -> Result<shops::Shop> {
    actor.require_platform()?;
    let before = shops::get(&app.db, id)
        .await?
        .ok_or(Error::NotFound("shop"))?;
    let number = match number.map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            Phone::parse(s, &before.country)
                .map_err(|e| Error::invalid("sms_from", e.0))?
                .as_str()
                .to_owned(),
        ),
    };
    if let Some(n) = &number {
        if app.config.default_sms_from.as_deref() == Some(n.as_str()) {
            return Err(Error::Conflict {
                field: "sms_from".into(),
                message:
                    "is the platform's shared number (TWILIO_FROM) and cannot be one shop's own"
                        .into(),
            });
        }
        if shops::by_sms_from(&app.db, n)
            .await?
            .is_some_and(|other| other.id != before.id)
        {
            return Err(taken());
        }
    }
    let txn = pitwall_store::begin_write(&app.db).await?;
    // The unique index decides a race the check above lost.
    let shop = match shops::set_sms_from(&txn, id, number.as_deref()).await {
        Err(pitwall_store::StoreError::Conflict { .. }) => return Err(taken()),
        other => other?.ok_or(Error::NotFound("shop"))?,
    };
    audit::record(
        &txn,
        audit::NewAudit {
            shop: Some(id),
            actor: Some(actor.user_id),
            action: "shop.set_sms_from",
            target: number.clone(),
            details: json!({ "from": before.sms_from, "to": number }),
        },
    )
    .await?;
    txn.commit().await?;
    app.cache.clear();
    Ok(shop)
}

fn taken() -> Error {
    Error::Conflict {
        field: "sms_from".into(),
        message: "is already another shop's sender number".into(),
    }
}

/// Suspends or reactivates a shop. A suspended shop is read-only.
pub async fn set_lifecycle(
    app: &App,
    actor: &Actor,
    id: ShopId,
    lifecycle: &str,
    reason: &str,
) -> Result<shops::Shop> {
    actor.require_platform()?;
    let lifecycle = ShopLifecycle::parse(lifecycle).ok_or_else(|| {
        Error::invalid(
            "lifecycle",
            "is not one of trial, active, past_due, suspended, closed",
        )
    })?;
    let reason =
        pitwall_domain::values::required_text(reason, 500).map_err(Error::field("reason"))?;
    let before = shops::get(&app.db, id)
        .await?
        .ok_or(Error::NotFound("shop"))?;
    let txn = pitwall_store::begin_write(&app.db).await?;
    let shop = shops::set_lifecycle(&txn, id, lifecycle)
        .await?
        .ok_or(Error::NotFound("shop"))?;
    audit::record(
        &txn,
        audit::NewAudit {
            shop: Some(id),
            actor: Some(actor.user_id),
            action: "shop.set_lifecycle",
            target: Some(lifecycle.as_str().to_owned()),
            details: json!({ "from": before.lifecycle, "reason": reason }),
        },
    )
    .await?;
    txn.commit().await?;
    app.cache.clear();
    Ok(shop)
}

pub async fn audit_log(
    app: &App,
    actor: &Actor,
    shop: Option<ShopId>,
    page: PageRequest,
) -> Result<Page<audit::AuditEntry>> {
    actor.require_platform()?;
    Ok(audit::list(&app.db, shop, page).await?)
}

pub fn parse_feature(name: &str, field: &str) -> Result<Feature> {
    Feature::parse(name).ok_or_else(|| Error::invalid(field, format!("is not a feature: {name:?}")))
}

pub use pitwall_jobs::admin::{JobFilter, JobRow};

/// The admin console's job board: what gave up (or what runs), and the
/// events still waiting to reach the queue.
pub struct JobBoard {
    pub jobs: Vec<JobRow>,
    pub outbox_backlog: u64,
    /// Every queue's load, by name: what a provider outage piles up.
    pub queues: Vec<QueueLoad>,
}

/// How many jobs of one queue wait, run (a job waiting between tries
/// counts as running: its worker holds it) and gave up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueLoad {
    pub queue: String,
    pub waiting: i64,
    pub running: i64,
    pub dead: i64,
}

fn queue_loads(counts: Vec<(String, String, i64)>) -> Vec<QueueLoad> {
    let mut by_queue: std::collections::BTreeMap<String, QueueLoad> = Default::default();
    for (queue, state, n) in counts {
        let load = by_queue.entry(queue.clone()).or_insert_with(|| QueueLoad {
            queue,
            ..Default::default()
        });
        match state.as_str() {
            "Pending" | "Queued" => load.waiting += n,
            "Running" | "Retrying" => load.running += n,
            "Killed" | "Failed" => load.dead += n,
            _ => {}
        }
    }
    by_queue.into_values().collect()
}

/// The job board, for platform staff only; at most 200 jobs, newest first.
pub async fn jobs(app: &App, actor: &Actor, filter: JobFilter) -> Result<JobBoard> {
    actor.require_platform()?;
    let jobs = pitwall_jobs::admin::list(&app.db, filter, 200).await?;
    let outbox_backlog = pitwall_store::outbox::count_unpushed(&app.db).await?;
    let queues = queue_loads(pitwall_jobs::admin::counts(&app.db).await?);
    Ok(JobBoard {
        jobs,
        outbox_backlog,
        queues,
    })
}

/// One shop's record, for platform staff.
pub async fn shop(app: &App, actor: &Actor, id: ShopId) -> Result<shops::Shop> {
    actor.require_platform()?;
    shops::get(&app.db, id)
        .await?
        .ok_or(Error::NotFound("shop"))
}

/// Puts a dead job back in its queue, audited.
pub async fn retry_job(app: &App, actor: &Actor, job_id: &str) -> Result<()> {
    actor.require_platform()?;
    if !pitwall_jobs::admin::retry(&app.db, job_id).await? {
        return Err(Error::NotFound("dead job"));
    }
    audit::record(
        &app.db,
        audit::NewAudit {
            shop: None,
            actor: Some(actor.user_id),
            action: "job.retry",
            target: Some(job_id.to_owned()),
            details: json!({}),
        },
    )
    .await?;
    app.jobs.nudge();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_loads_sum_states_per_queue() {
        let counts = vec![
            ("pitwall.message".to_owned(), "Pending".to_owned(), 3),
            ("pitwall.message".to_owned(), "Queued".to_owned(), 1),
            ("pitwall.message".to_owned(), "Running".to_owned(), 30),
            ("pitwall.message".to_owned(), "Retrying".to_owned(), 2),
            ("pitwall.message".to_owned(), "Done".to_owned(), 900),
            ("pitwall.email".to_owned(), "Killed".to_owned(), 2),
            ("pitwall.email".to_owned(), "Failed".to_owned(), 1),
        ];
        assert_eq!(
            queue_loads(counts),
            vec![
                QueueLoad {
                    queue: "pitwall.email".into(),
                    waiting: 0,
                    running: 0,
                    dead: 3
                },
                QueueLoad {
                    queue: "pitwall.message".into(),
                    waiting: 4,
                    running: 32,
                    dead: 0
                },
            ]
        );
    }
}
