//! The admin API, `/api/admin/v1`: platform admins and support.

use pitwall_core::admin::JobFilter;
use pitwall_core::domain::ShopId;
use pitwall_core::features::{PlanEdit, set_override, update_plan};
use pitwall_core::shops::{Creator, NewShopInput, create_shop};
use pitwall_core::{App, admin};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{OpenApi, Tags};

use crate::auth::{UserToken, actor};
use crate::body::JsonBody;
use crate::error::{ApiError, ApiResult, invalid};
use crate::models::*;
use crate::staff::page;

#[derive(Tags)]
pub enum AdminTags {
    /// Shops, their plan, lifecycle and feature overrides.
    AdminShops,
    /// The plan catalogue.
    AdminPlans,
    /// The platform audit log.
    AdminAudit,
    /// The job queue.
    AdminJobs,
}

pub struct AdminApi;

async fn shop_out(
    app: &App,
    actor: &pitwall_core::Actor,
    id: ShopId,
) -> Result<AdminShop, ApiError> {
    let d = admin::shop_detail(app, actor, id).await?;
    Ok(AdminShop {
        shop: ShopOut::new(&d.shop, &d.features),
        overrides: d
            .overrides
            .iter()
            .map(|o| FeatureOverride {
                feature: o.feature.clone(),
                enabled: o.enabled,
                reason: o.reason.clone(),
                set_by: o.set_by,
                updated_at: o.updated_at,
            })
            .collect(),
    })
}

#[OpenApi(prefix_path = "/api/admin/v1")]
impl AdminApi {
    /// Every shop; `q` searches name and slug.
    #[oai(
        path = "/shops",
        method = "get",
        tag = "AdminTags::AdminShops",
        operation_id = "admin_list_shops"
    )]
    async fn list_shops(
        &self,
        app: Data<&App>,
        auth: UserToken,
        q: Query<Option<String>>,
        cursor: Query<Option<String>>,
        limit: Query<Option<u64>>,
    ) -> ApiResult<ShopList> {
        let actor = actor(&app, &auth).await?;
        let p = admin::list_shops(&app, &actor, q.0.as_deref(), page(cursor.0, limit.0)?).await?;
        let mut items = Vec::new();
        for s in &p.items {
            items.push(shop_out(&app, &actor, ShopId::from_uuid(s.id)).await?.shop);
        }
        Ok(Json(ShopList {
            items,
            next_cursor: p.next_cursor,
        }))
    }

    /// Create a shop; the owner is invited by e-mail.
    #[oai(
        path = "/shops",
        method = "post",
        tag = "AdminTags::AdminShops",
        operation_id = "admin_create_shop"
    )]
    async fn create_shop(
        &self,
        app: Data<&App>,
        auth: UserToken,
        body: JsonBody<CreateShopRequest>,
    ) -> ApiResult<CreatedShop> {
        let actor = actor(&app, &auth).await?;
        let b = &body.0;
        let created = create_shop(
            &app,
            Creator::Platform(&actor),
            NewShopInput {
                name: &b.name,
                slug: &b.slug,
                plan: &b.plan,
                owner_email: &b.owner_email,
                owner_password: None,
                time_zone: b.time_zone.as_deref(),
            },
        )
        .await?;
        let detail = shop_out(&app, &actor, ShopId::from_uuid(created.shop.id)).await?;
        Ok(Json(CreatedShop {
            shop: detail.shop,
            owner_invited: created.owner_invited,
        }))
    }

    /// One shop with its effective features and overrides.
    #[oai(
        path = "/shops/:shop_id",
        method = "get",
        tag = "AdminTags::AdminShops",
        operation_id = "admin_get_shop"
    )]
    async fn get_shop(
        &self,
        app: Data<&App>,
        auth: UserToken,
        shop_id: Path<uuid::Uuid>,
    ) -> ApiResult<AdminShop> {
        let actor = actor(&app, &auth).await?;
        Ok(Json(
            shop_out(&app, &actor, ShopId::from_uuid(shop_id.0)).await?,
        ))
    }

    /// A shop's POS sync health, for support.
    #[oai(
        path = "/shops/:shop_id/sync-health",
        method = "get",
        tag = "AdminTags::AdminShops",
        operation_id = "admin_get_shop_sync_health"
    )]
    async fn shop_sync_health(
        &self,
        app: Data<&App>,
        auth: UserToken,
        shop_id: Path<uuid::Uuid>,
    ) -> ApiResult<crate::ticket_models::SyncHealthOut> {
        let actor = actor(&app, &auth).await?;
        let h =
            pitwall_core::pos::sync_health_for_support(&app, &actor, ShopId::from_uuid(shop_id.0))
                .await?;
        Ok(Json(crate::ticket_models::SyncHealthOut::from(&h)))
    }

    /// The shop's effective policy: what each role may do there.
    #[oai(
        path = "/shops/:shop_id/roles",
        method = "get",
        tag = "AdminTags::AdminShops",
        operation_id = "admin_list_shop_roles"
    )]
    async fn shop_roles(
        &self,
        app: Data<&App>,
        auth: UserToken,
        shop_id: Path<uuid::Uuid>,
    ) -> ApiResult<RoleList> {
        let actor = actor(&app, &auth).await?;
        let list =
            pitwall_core::roles::list_for_support(&app, &actor, ShopId::from_uuid(shop_id.0))
                .await?;
        Ok(Json(crate::staff::role_list(&list)))
    }

    /// Move a shop to another plan; applies on its next request.
    #[oai(
        path = "/shops/:shop_id/plan",
        method = "put",
        tag = "AdminTags::AdminShops",
        operation_id = "admin_set_shop_plan"
    )]
    async fn set_plan(
        &self,
        app: Data<&App>,
        auth: UserToken,
        shop_id: Path<uuid::Uuid>,
        body: JsonBody<SetPlanRequest>,
    ) -> ApiResult<AdminShop> {
        let actor = actor(&app, &auth).await?;
        let id = ShopId::from_uuid(shop_id.0);
        admin::set_plan(&app, &actor, id, &body.0.plan).await?;
        Ok(Json(shop_out(&app, &actor, id).await?))
    }

    /// Assign the shop its own SMS sender number, or take it back (null).
    /// A number belongs to one shop (409 `conflict` on `sms_from`), and the
    /// platform's shared number is never a shop's own.
    #[oai(
        path = "/shops/:shop_id/sms-from",
        method = "put",
        tag = "AdminTags::AdminShops",
        operation_id = "admin_set_shop_sms_from"
    )]
    async fn set_sms_from(
        &self,
        app: Data<&App>,
        auth: UserToken,
        shop_id: Path<uuid::Uuid>,
        body: JsonBody<SetSmsFromRequest>,
    ) -> ApiResult<AdminShop> {
        let actor = actor(&app, &auth).await?;
        let id = ShopId::from_uuid(shop_id.0);
        admin::set_sms_from(&app, &actor, id, body.0.sms_from.as_deref()).await?;
        Ok(Json(shop_out(&app, &actor, id).await?))
    }

    /// Suspend, reactivate or close a shop, with a reason.
    #[oai(
        path = "/shops/:shop_id/lifecycle",
        method = "put",
        tag = "AdminTags::AdminShops",
        operation_id = "admin_set_shop_lifecycle"
    )]
    async fn set_lifecycle(
        &self,
        app: Data<&App>,
        auth: UserToken,
        shop_id: Path<uuid::Uuid>,
        body: JsonBody<SetLifecycleRequest>,
    ) -> ApiResult<AdminShop> {
        let actor = actor(&app, &auth).await?;
        let id = ShopId::from_uuid(shop_id.0);
        admin::set_lifecycle(&app, &actor, id, &body.0.lifecycle, &body.0.reason).await?;
        Ok(Json(shop_out(&app, &actor, id).await?))
    }

    /// Switch a feature on or off for one shop, whatever its plan.
    #[oai(
        path = "/shops/:shop_id/features/:feature",
        method = "put",
        tag = "AdminTags::AdminShops",
        operation_id = "admin_set_feature_override"
    )]
    async fn set_feature(
        &self,
        app: Data<&App>,
        auth: UserToken,
        shop_id: Path<uuid::Uuid>,
        feature: Path<String>,
        body: JsonBody<FeatureOverrideRequest>,
    ) -> ApiResult<AdminShop> {
        let actor = actor(&app, &auth).await?;
        let id = ShopId::from_uuid(shop_id.0);
        let f = admin::parse_feature(&feature.0, "feature")?;
        set_override(&app, &actor, id, f, Some(body.0.enabled), &body.0.reason).await?;
        Ok(Json(shop_out(&app, &actor, id).await?))
    }

    /// Remove an override: the shop's plan decides again.
    #[oai(
        path = "/shops/:shop_id/features/:feature",
        method = "delete",
        tag = "AdminTags::AdminShops",
        operation_id = "admin_clear_feature_override"
    )]
    async fn clear_feature(
        &self,
        app: Data<&App>,
        auth: UserToken,
        shop_id: Path<uuid::Uuid>,
        feature: Path<String>,
        reason: Query<String>,
    ) -> ApiResult<AdminShop> {
        let actor = actor(&app, &auth).await?;
        let id = ShopId::from_uuid(shop_id.0);
        let f = admin::parse_feature(&feature.0, "feature")?;
        set_override(&app, &actor, id, f, None, &reason.0).await?;
        Ok(Json(shop_out(&app, &actor, id).await?))
    }

    /// The plan catalogue, cheapest first.
    #[oai(
        path = "/plans",
        method = "get",
        tag = "AdminTags::AdminPlans",
        operation_id = "admin_list_plans"
    )]
    async fn list_plans(&self, app: Data<&App>, auth: UserToken) -> ApiResult<PlanList> {
        let actor = actor(&app, &auth).await?;
        actor.require_platform().map_err(ApiError::from)?;
        let plans = app.plans().await?;
        Ok(Json(PlanList {
            items: plans.iter().map(Plan::from).collect(),
        }))
    }

    /// Edit a plan (platform admins only).
    #[oai(
        path = "/plans/:plan_code",
        method = "put",
        tag = "AdminTags::AdminPlans",
        operation_id = "admin_update_plan"
    )]
    async fn update_plan(
        &self,
        app: Data<&App>,
        auth: UserToken,
        plan_code: Path<String>,
        body: JsonBody<PlanRequest>,
    ) -> ApiResult<Plan> {
        let actor = actor(&app, &auth).await?;
        let b = &body.0;
        let p = update_plan(
            &app,
            &actor,
            &plan_code.0,
            PlanEdit {
                name: &b.name,
                monthly_price_cents: b.monthly_price_cents,
                features: &b.features,
                max_users: b.max_users,
                sms_per_month: b.sms_per_month,
                max_locations: b.max_locations,
                media_mb: b.media_mb,
            },
        )
        .await?;
        Ok(Json(Plan::from(&p)))
    }

    /// The audit log, newest first; `shop_id` narrows it to one shop.
    #[oai(
        path = "/audit",
        method = "get",
        tag = "AdminTags::AdminAudit",
        operation_id = "admin_list_audit"
    )]
    async fn audit(
        &self,
        app: Data<&App>,
        auth: UserToken,
        shop_id: Query<Option<uuid::Uuid>>,
        cursor: Query<Option<String>>,
        limit: Query<Option<u64>>,
    ) -> ApiResult<AuditList> {
        let actor = actor(&app, &auth).await?;
        let p = admin::audit_log(
            &app,
            &actor,
            shop_id.0.map(ShopId::from_uuid),
            page(cursor.0, limit.0)?,
        )
        .await?;
        Ok(Json(AuditList {
            items: p.items.iter().map(AuditEntry::from).collect(),
            next_cursor: p.next_cursor,
        }))
    }

    /// Jobs by state: `dead` (default), `active` or `all`.
    #[oai(
        path = "/jobs",
        method = "get",
        tag = "AdminTags::AdminJobs",
        operation_id = "admin_list_jobs"
    )]
    async fn jobs(
        &self,
        app: Data<&App>,
        auth: UserToken,
        state: Query<Option<String>>,
    ) -> ApiResult<JobList> {
        let actor = actor(&app, &auth).await?;
        actor.require_platform().map_err(ApiError::from)?;
        let filter = match state.0.as_deref() {
            None => JobFilter::Dead,
            Some(s) => JobFilter::parse(s)
                .ok_or_else(|| invalid("state", "must be dead, active or all"))?,
        };
        let board = admin::jobs(&app, &actor, filter).await?;
        Ok(Json(JobList {
            items: board
                .jobs
                .into_iter()
                .map(|j| Job {
                    id: j.id,
                    queue: j.queue,
                    status: j.status,
                    attempts: j.attempts,
                    max_attempts: j.max_attempts,
                    last_error: j.last_error,
                    run_at: j.run_at,
                    done_at: j.done_at,
                })
                .collect(),
            outbox_backlog: board.outbox_backlog as i64,
            queues: board
                .queues
                .into_iter()
                .map(|q| crate::models::QueueLoadOut {
                    queue: q.queue,
                    waiting: q.waiting,
                    running: q.running,
                    dead: q.dead,
                })
                .collect(),
        }))
    }

    /// Put a dead job back in its queue.
    #[oai(
        path = "/jobs/:job_id/retry",
        method = "post",
        tag = "AdminTags::AdminJobs",
        operation_id = "admin_retry_job"
    )]
    async fn retry_job(
        &self,
        app: Data<&App>,
        auth: UserToken,
        job_id: Path<String>,
    ) -> ApiResult<Accepted> {
        let actor = actor(&app, &auth).await?;
        admin::retry_job(&app, &actor, &job_id.0).await?;
        Ok(Json(Accepted { ok: true }))
    }
}
