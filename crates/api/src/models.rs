//! Request and response bodies. Requests derive `Deserialize` (parsed by
//! `JsonBody` so errors name the field) as well as `Object` (for the spec).

use chrono::{DateTime, Utc};
use pitwall_core::features::FeatureSet;
use pitwall_core::model::{api_keys, audit, members, plans, shops};
use poem_openapi::Object;
use serde::Deserialize;

#[derive(Debug, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Object)]
pub struct TokenResponse {
    /// Send as `Authorization: Bearer <token>`. Shown once.
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Object)]
pub struct UserSummary {
    pub id: uuid::Uuid,
    pub email: String,
    pub name: String,
    /// `platform_admin` or `support` for platform staff.
    #[oai(nullable)]
    pub platform_role: Option<String>,
}

#[derive(Debug, Object)]
pub struct Quotas {
    /// `null` means unlimited.
    #[oai(nullable)]
    pub users: Option<i64>,
    #[oai(nullable)]
    pub sms_per_month: Option<i64>,
    #[oai(nullable)]
    pub locations: Option<i64>,
    /// Megabytes of inspection photos and video.
    #[oai(nullable)]
    pub media_mb: Option<i64>,
}

#[derive(Debug, Object)]
pub struct ShopOut {
    pub id: uuid::Uuid,
    pub name: String,
    pub slug: String,
    pub plan: String,
    /// trial, active, past_due, suspended, closed.
    pub lifecycle: String,
    #[oai(nullable)]
    pub trial_ends_at: Option<DateTime<Utc>>,
    pub time_zone: String,
    #[oai(nullable)]
    pub phone: Option<String>,
    #[oai(nullable)]
    pub email: Option<String>,
    #[oai(nullable)]
    pub address: Option<String>,
    #[oai(nullable)]
    pub hours: Option<String>,
    #[oai(nullable)]
    pub logo_url: Option<String>,
    #[oai(nullable)]
    pub primary_color: Option<String>,
    #[oai(nullable)]
    pub accent_color: Option<String>,
    /// The shop's own SMS sender number, assigned by platform support; null:
    /// texts go from the platform's shared number.
    #[oai(nullable)]
    pub sms_from: Option<String>,
    /// Features the shop may use now: its plan's plus support's overrides.
    pub features: Vec<String>,
    pub quotas: Quotas,
}

impl ShopOut {
    pub fn new(s: &shops::Shop, f: &FeatureSet) -> Self {
        use pitwall_core::domain::Quota;
        Self {
            id: s.id,
            name: s.name.clone(),
            slug: s.slug.clone(),
            plan: s.plan_code.clone(),
            lifecycle: s.lifecycle.clone(),
            trial_ends_at: s.trial_ends_at,
            time_zone: s.time_zone.clone(),
            phone: s.phone.clone(),
            email: s.email.clone(),
            address: s.address.clone(),
            hours: s.hours.clone(),
            logo_url: s.logo_url.clone(),
            primary_color: s.primary_color.clone(),
            accent_color: s.accent_color.clone(),
            sms_from: s.sms_from.clone(),
            features: f.enabled().iter().map(|f| f.as_str().to_owned()).collect(),
            quotas: Quotas {
                users: f.quota(Quota::Users),
                sms_per_month: f.quota(Quota::SmsPerMonth),
                locations: f.quota(Quota::Locations),
                media_mb: f.quota(Quota::MediaMb),
            },
        }
    }
}

#[derive(Debug, Object)]
pub struct ShopMembership {
    pub shop_id: uuid::Uuid,
    pub name: String,
    pub slug: String,
    pub role: String,
}

#[derive(Debug, Object)]
pub struct Me {
    pub user: UserSummary,
    /// The shop requests act in (header `X-Pitwall-Shop` or the session's
    /// choice); `null` for platform staff without a shop.
    #[oai(nullable)]
    pub shop: Option<ShopOut>,
    #[oai(nullable)]
    pub role: Option<String>,
    /// What the user may do in `shop`.
    pub permissions: Vec<String>,
    pub shops: Vec<ShopMembership>,
    /// The current shop's plan and billing status.
    #[oai(nullable)]
    pub billing: Option<crate::billing::BillingOut>,
}

#[derive(Debug, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwitchShopRequest {
    pub shop_id: uuid::Uuid,
}

#[derive(Debug, Object)]
pub struct Member {
    pub id: uuid::Uuid,
    pub email: String,
    pub name: String,
    pub role: String,
    pub joined_at: DateTime<Utc>,
}

impl From<&members::Member> for Member {
    fn from(m: &members::Member) -> Self {
        Self {
            id: m.user.id,
            email: m.user.email.clone(),
            name: m.user.name.clone(),
            role: m.membership.role.clone(),
            joined_at: m.membership.created_at,
        }
    }
}

#[derive(Debug, Object)]
pub struct MemberList {
    pub items: Vec<Member>,
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeRoleRequest {
    pub role: String,
}

#[derive(Debug, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvitationRequest {
    pub email: String,
    /// owner, manager, advisor, technician, parts or viewer.
    pub role: String,
}

#[derive(Debug, Object)]
pub struct Invitation {
    pub id: uuid::Uuid,
    pub email: String,
    pub role: String,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

impl From<&members::Invitation> for Invitation {
    fn from(i: &members::Invitation) -> Self {
        Self {
            id: i.id,
            email: i.email.clone(),
            role: i.role.clone(),
            expires_at: i.expires_at,
            created_at: i.created_at,
        }
    }
}

#[derive(Debug, Object)]
pub struct InvitationList {
    pub items: Vec<Invitation>,
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitationRequest {
    /// The token from the e-mailed link.
    pub token: String,
    /// Needed when the address has no account yet.
    #[serde(default)]
    #[oai(nullable)]
    pub name: Option<String>,
    pub password: String,
}

#[derive(Debug, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetRequest {
    pub email: String,
}

#[derive(Debug, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetConfirm {
    pub token: String,
    pub password: String,
}

#[derive(Debug, Object)]
pub struct Accepted {
    pub ok: bool,
}

#[derive(Debug, Object)]
pub struct PermissionInfo {
    pub name: String,
    pub description: String,
}

#[derive(Debug, Object)]
pub struct Role {
    pub role: String,
    pub permissions: Vec<String>,
    /// The shop changed this role's defaults.
    pub customised: bool,
}

#[derive(Debug, Object)]
pub struct RoleList {
    pub items: Vec<Role>,
    /// Every permission there is, with what it allows.
    pub all_permissions: Vec<PermissionInfo>,
}

#[derive(Debug, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolePermissionsRequest {
    pub permissions: Vec<String>,
}

#[derive(Debug, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShopProfileRequest {
    pub name: String,
    pub time_zone: String,
    #[serde(default)]
    #[oai(nullable)]
    pub phone: Option<String>,
    #[serde(default)]
    #[oai(nullable)]
    pub email: Option<String>,
    #[serde(default)]
    #[oai(nullable)]
    pub address: Option<String>,
    #[serde(default)]
    #[oai(nullable)]
    pub hours: Option<String>,
    /// Needs the `custom_branding` feature.
    #[serde(default)]
    #[oai(nullable)]
    pub logo_url: Option<String>,
    #[serde(default)]
    #[oai(nullable)]
    pub primary_color: Option<String>,
    #[serde(default)]
    #[oai(nullable)]
    pub accent_color: Option<String>,
}

#[derive(Debug, Clone, Object)]
pub struct ApiKey {
    pub id: uuid::Uuid,
    pub name: String,
    /// The first characters of the key, to recognise it.
    pub prefix: String,
    pub scopes: String,
    pub created_at: DateTime<Utc>,
    #[oai(nullable)]
    pub last_used_at: Option<DateTime<Utc>>,
    #[oai(nullable)]
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<&api_keys::ApiKey> for ApiKey {
    fn from(k: &api_keys::ApiKey) -> Self {
        Self {
            id: k.id,
            name: k.name.clone(),
            prefix: k.prefix.clone(),
            scopes: k.scopes.clone(),
            created_at: k.created_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
        }
    }
}

#[derive(Debug, Object)]
pub struct ApiKeyList {
    pub items: Vec<ApiKey>,
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyRequest {
    pub name: String,
}

#[derive(Debug, Object)]
pub struct CreatedApiKey {
    pub key: ApiKey,
    /// The secret, shown this once. Send as `Authorization: Bearer <secret>`.
    pub secret: String,
}

#[derive(Debug, Object)]
pub struct Plan {
    pub code: String,
    pub name: String,
    pub monthly_price_cents: i64,
    pub features: Vec<String>,
    #[oai(nullable)]
    pub max_users: Option<i32>,
    #[oai(nullable)]
    pub sms_per_month: Option<i32>,
    #[oai(nullable)]
    pub max_locations: Option<i32>,
    /// Photos and videos of inspections, in megabytes (null: unlimited).
    #[oai(nullable)]
    pub media_mb: Option<i32>,
}

impl From<&plans::Plan> for Plan {
    fn from(p: &plans::Plan) -> Self {
        Self {
            code: p.code.clone(),
            name: p.name.clone(),
            monthly_price_cents: p.monthly_price_cents,
            features: p.features.iter().map(|f| f.as_str().to_owned()).collect(),
            max_users: p.max_users,
            sms_per_month: p.sms_per_month,
            max_locations: p.max_locations,
            media_mb: p.media_mb,
        }
    }
}

#[derive(Debug, Object)]
pub struct PlanList {
    pub items: Vec<Plan>,
}

#[derive(Debug, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanRequest {
    pub name: String,
    pub monthly_price_cents: i64,
    pub features: Vec<String>,
    #[serde(default)]
    #[oai(nullable)]
    pub max_users: Option<i32>,
    #[serde(default)]
    #[oai(nullable)]
    pub sms_per_month: Option<i32>,
    #[serde(default)]
    #[oai(nullable)]
    pub max_locations: Option<i32>,
    /// Megabytes of inspection photos and video; null is unlimited.
    #[serde(default)]
    #[oai(nullable)]
    pub media_mb: Option<i32>,
}

#[derive(Debug, Object)]
pub struct ShopList {
    pub items: Vec<ShopOut>,
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateShopRequest {
    pub name: String,
    pub slug: String,
    pub plan: String,
    pub owner_email: String,
    #[serde(default)]
    #[oai(nullable)]
    pub time_zone: Option<String>,
}

#[derive(Debug, Object)]
pub struct CreatedShop {
    pub shop: ShopOut,
    /// The owner was sent an invitation e-mail.
    pub owner_invited: bool,
}

#[derive(Debug, Object)]
pub struct FeatureOverride {
    pub feature: String,
    pub enabled: bool,
    pub reason: String,
    #[oai(nullable)]
    pub set_by: Option<uuid::Uuid>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Object)]
pub struct AdminShop {
    pub shop: ShopOut,
    pub overrides: Vec<FeatureOverride>,
}

#[derive(Debug, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetPlanRequest {
    pub plan: String,
}

#[derive(Debug, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetSmsFromRequest {
    /// The shop's own sender number in E.164 (`+15125550100`), or null to
    /// send from the platform's shared number. Unique across shops.
    #[oai(nullable)]
    pub sms_from: Option<String>,
}

#[derive(Debug, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetLifecycleRequest {
    /// trial, active, past_due, suspended or closed.
    pub lifecycle: String,
    pub reason: String,
}

#[derive(Debug, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureOverrideRequest {
    pub enabled: bool,
    pub reason: String,
}

#[derive(Debug, Object)]
pub struct AuditEntry {
    pub id: uuid::Uuid,
    #[oai(nullable)]
    pub shop_id: Option<uuid::Uuid>,
    #[oai(nullable)]
    pub actor_user_id: Option<uuid::Uuid>,
    pub action: String,
    #[oai(nullable)]
    pub target: Option<String>,
    pub details: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

impl From<&audit::AuditEntry> for AuditEntry {
    fn from(a: &audit::AuditEntry) -> Self {
        Self {
            id: a.id,
            shop_id: a.shop_id,
            actor_user_id: a.actor_user_id,
            action: a.action.clone(),
            target: a.target.clone(),
            details: serde_json::from_str(&a.details).unwrap_or(serde_json::Value::Null),
            created_at: a.created_at,
        }
    }
}

#[derive(Debug, Object)]
pub struct AuditList {
    pub items: Vec<AuditEntry>,
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Object)]
pub struct Job {
    pub id: String,
    pub queue: String,
    /// Pending, Running, Done, Failed or Killed (apalis states).
    pub status: String,
    pub attempts: i64,
    pub max_attempts: i64,
    #[oai(nullable)]
    pub last_error: Option<String>,
    #[oai(nullable)]
    pub run_at: Option<DateTime<Utc>>,
    #[oai(nullable)]
    pub done_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Object)]
pub struct JobList {
    pub items: Vec<Job>,
    /// Outbox rows committed but not yet handed to the queue.
    pub outbox_backlog: i64,
    /// Each queue's load: a provider outage shows here as jobs waiting and
    /// running (retrying) that do not go down.
    pub queues: Vec<QueueLoadOut>,
}

#[derive(Debug, Object)]
pub struct QueueLoadOut {
    pub queue: String,
    /// Queued, not yet taken by a worker.
    pub waiting: i64,
    /// Taken by a worker, including those waiting between tries.
    pub running: i64,
    /// Gave up (see the jobs listed with `state=dead`).
    pub dead: i64,
}

#[derive(Debug, Object)]
pub struct PosWhoAmI {
    pub shop_id: uuid::Uuid,
    pub shop_name: String,
    pub key_name: String,
    pub scopes: String,
}
