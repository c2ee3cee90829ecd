//! The application's shared services and the two principals use cases take:
//! an [`Actor`] (a signed-in user) and a [`ShopCtx`] (that user inside one
//! shop, with role, plan and features resolved).

use std::sync::Arc;

use chrono::Duration;
use pitwall_authz::Authz;
use pitwall_domain::{
    Feature, Permission, PlatformRole, Quota, Role, ShopId, ShopLifecycle, UserId,
};
use pitwall_jobs::JobsHandle;
use pitwall_store::{Db, identity, members, plans, shops};

use crate::features::FeatureSet;
use crate::{Error, Result};

/// Settings the use cases need; the binary fills them from the environment.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// Public URL of this deployment, without a trailing slash; links in
    /// e-mails start with it.
    pub base_url: String,
    pub api_token_ttl: Duration,
    pub web_session_ttl: Duration,
    pub invitation_ttl: Duration,
    pub password_reset_ttl: Duration,
    pub trial_days: i64,
    /// Checks the SMS provider's webhook signatures; `None` when texts go
    /// to the development outbox (webhooks are then refused).
    pub twilio_auth_token: Option<Secret>,
    /// The platform's sender for shops without their own number.
    pub default_sms_from: Option<String>,
    /// Shops' webhooks may point at private addresses (development, tests).
    pub webhooks_allow_private: bool,
    /// Customer link lookups allowed per client address per minute.
    pub link_lookups_per_minute: u32,
    /// How often open live streams re-check what let them open.
    pub stream_recheck: std::time::Duration,
    /// Proxies whose `X-Forwarded-For` / `Forwarded` name the client.
    pub trusted_proxies: pitwall_domain::net::TrustedProxies,
    /// Stripe; `None` runs without billing (the demo): the billing page
    /// says so and everything else works.
    pub stripe: Option<crate::billing::StripeSettings>,
    /// How long a past-due shop keeps its full plan.
    pub past_due_grace: Duration,
    /// The time billing rules read (tests move it).
    pub clock: crate::clock::Clock,
    /// The largest photo or video accepted.
    pub media_max_bytes: u64,
    /// Online payment of invoices (`PITWALL_PAYMENTS`, ...).
    pub payments: crate::payments::PaymentSettings,
    /// Reading uploaded invoices (Tesseract, pdftoppm).
    pub ocr: crate::ocr::OcrSettings,
}

/// A secret setting: usable, never printed.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: &str) -> Self {
        Secret(s.to_owned())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl CoreConfig {
    pub fn new(base_url: &str) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_token_ttl: Duration::days(30),
            web_session_ttl: Duration::days(7),
            invitation_ttl: Duration::days(7),
            password_reset_ttl: Duration::hours(1),
            trial_days: 14,
            twilio_auth_token: None,
            default_sms_from: None,
            webhooks_allow_private: false,
            link_lookups_per_minute: 60,
            stream_recheck: std::time::Duration::from_secs(15),
            trusted_proxies: Default::default(),
            stripe: None,
            past_due_grace: Duration::days(7),
            clock: Default::default(),
            media_max_bytes: crate::inspections::media::DEFAULT_MAX_MB * 1024 * 1024,
            payments: Default::default(),
            ocr: Default::default(),
        }
    }
}

/// Everything a use case may touch. Cheap to clone. Its parts are core's
/// own: the API, the pages and the CLI reach the database only through use
/// cases, never around them.
#[derive(Clone)]
pub struct App {
    pub(crate) db: Db,
    pub(crate) authz: Authz,
    pub(crate) jobs: JobsHandle,
    pub(crate) live: crate::live::Live,
    pub(crate) cache: Arc<crate::cache::AuthCache>,
    pub(crate) config: Arc<CoreConfig>,
    /// Customer link lookups per client address (this process).
    pub(crate) link_limiter: Arc<crate::customer::LookupLimiter>,
    /// Live streams open per user and per customer link (this process).
    pub(crate) streams: Arc<crate::streams::StreamSlots>,
    /// Password hashing and checks, limited to one per core.
    pub(crate) passwords: Arc<crate::tokens::Passwords>,
    /// Photos and videos of inspections.
    pub(crate) media: crate::media::MediaStore,
    /// Reads uploaded invoices.
    pub(crate) ocr: Arc<crate::ocr::Ocr>,
}

impl App {
    /// Assembles the core from its outside parts (the binary and the test
    /// kit do this once per process).
    pub fn new(db: Db, authz: Authz, media: crate::media::MediaStore, config: CoreConfig) -> Self {
        App {
            live: crate::live::Live::start(&db),
            cache: Default::default(),
            link_limiter: Default::default(),
            streams: Default::default(),
            passwords: Default::default(),
            jobs: JobsHandle::default(),
            media,
            db,
            authz,
            ocr: Arc::new(crate::ocr::Ocr::new(config.ocr.clone())),
            config: Arc::new(config),
        }
    }

    pub fn config(&self) -> &CoreConfig {
        &self.config
    }

    /// The live hub, for the workers that announce what they deliver.
    pub fn live(&self) -> &crate::live::Live {
        &self.live
    }

    /// Wakes the in-process workers; the job runtime listens on it.
    pub fn jobs(&self) -> &JobsHandle {
        &self.jobs
    }

    /// The policy, for the process that loaded it (reloads, shutdown).
    pub fn authz(&self) -> &Authz {
        &self.authz
    }

    /// Starts stopping this process: `/ready` answers 503 so the load
    /// balancer sends new requests elsewhere, and every live stream ends so
    /// its reader reconnects to another node. Requests in flight go on.
    pub fn drain(&self) {
        self.streams.drain();
    }

    /// Password hashing's limits and counters (the hardening tests read
    /// them).
    pub fn passwords(&self) -> &crate::tokens::Passwords {
        &self.passwords
    }
}

/// A signed-in user, as authentication found them.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: UserId,
    pub name: String,
    pub email: String,
    pub platform_role: Option<PlatformRole>,
    /// The session's row id and the shop it last chose.
    pub session_id: uuid::Uuid,
    pub session_shop: Option<ShopId>,
}

impl Actor {
    /// Platform admins and support may use the admin console.
    pub fn require_platform(&self) -> Result<PlatformRole> {
        self.platform_role.ok_or(Error::PlatformDenied("support"))
    }

    /// Only platform admins may change the plan catalogue.
    pub fn require_platform_admin(&self) -> Result<()> {
        match self.platform_role {
            Some(PlatformRole::PlatformAdmin) => Ok(()),
            _ => Err(Error::PlatformDenied("platform_admin")),
        }
    }
}

/// A user acting inside one shop. Made only by [`App::shop_ctx`]
/// (`non_exhaustive` stops other crates from building one).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ShopCtx {
    pub user_id: UserId,
    /// The member's display name, for timeline entries and comments.
    pub user_name: String,
    pub shop: shops::Shop,
    pub role: Role,
    pub lifecycle: ShopLifecycle,
    pub features: FeatureSet,
}

impl ShopCtx {
    pub fn shop_id(&self) -> ShopId {
        ShopId::from_uuid(self.shop.id)
    }

    pub fn require_feature(&self, f: Feature) -> Result<()> {
        self.features.require(f)
    }

    /// Whether the shop is read-only because its trial ended without a
    /// subscription (the banner then asks the owner to subscribe).
    pub fn trial_ended(&self) -> bool {
        shops::lifecycle_of(&self.shop).is_ok_and(|stored| {
            pitwall_domain::billing::restricted_by_trial_end(stored, self.lifecycle)
        })
    }

    /// Suspended and closed shops are read-only.
    pub fn require_writable(&self) -> Result<()> {
        if self.lifecycle.allows_writes() {
            Ok(())
        } else {
            Err(Error::ShopRestricted(self.lifecycle))
        }
    }

    pub fn quota(&self, q: Quota) -> Option<i64> {
        self.features.quota(q)
    }
}

impl App {
    /// Resolves the shop an actor acts in: the one asked for, else the one the
    /// session last chose, else the first they belong to. A shop they do not
    /// belong to is "not found", exactly like one that does not exist.
    pub async fn shop_ctx(&self, actor: &Actor, requested: Option<ShopId>) -> Result<ShopCtx> {
        let version = self.authz.version();
        let asked = requested.or(actor.session_shop);
        if let Some(ctx) = self.cache.context(actor.user_id, asked, |shop, made| {
            self.authz.changed_since(shop, made)
        }) {
            return Ok(ctx);
        }
        let ctx = self.load_shop_ctx(actor, requested).await?;
        self.cache.put_context(asked, version, &ctx);
        Ok(ctx)
    }

    async fn load_shop_ctx(&self, actor: &Actor, requested: Option<ShopId>) -> Result<ShopCtx> {
        let membership = match requested.or(actor.session_shop) {
            Some(shop) => members::membership(&self.db, shop, actor.user_id).await?,
            None => None,
        };
        let membership = match (membership, requested) {
            (Some(m), _) => m,
            (None, Some(_)) => return Err(Error::NotFound("shop")),
            (None, None) => members::shops_of_user(&self.db, actor.user_id)
                .await?
                .into_iter()
                .next()
                .map(|(m, _)| m)
                .ok_or(Error::NotFound("shop"))?,
        };
        let shop_id = ShopId::from_uuid(membership.shop_id);
        let shop = shops::get(&self.db, shop_id)
            .await?
            .ok_or(Error::NotFound("shop"))?;
        let role = Role::parse(&membership.role)
            .ok_or_else(|| Error::Internal(format!("membership role {:?}", membership.role)))?;
        let lifecycle = crate::billing::effective_lifecycle(self, &shop).await?;
        let features = FeatureSet::load(&self.db, &shop).await?;
        Ok(ShopCtx {
            user_id: actor.user_id,
            user_name: actor.name.clone(),
            shop,
            role,
            lifecycle,
            features,
        })
    }

    /// Refuses unless the member may do `perm` in the shop.
    pub async fn require(&self, ctx: &ShopCtx, perm: Permission) -> Result<()> {
        let (user, shop) = (ctx.user_id, ctx.shop_id());
        if self.authz.allowed(user, shop, perm).await? {
            return Ok(());
        }
        // A grant made through another node (a new member, a widened
        // role) reaches this process's policy within a second; before
        // refusing, catch up once, so it works at once everywhere. Only
        // refusals pay this one read of the policy version.
        if self.authz.refresh().await? && self.authz.allowed(user, shop, perm).await? {
            return Ok(());
        }
        Err(Error::PermissionDenied(perm))
    }

    /// Whether the member may do `perm` (for showing or hiding navigation).
    pub async fn may(&self, ctx: &ShopCtx, perm: Permission) -> bool {
        self.authz
            .allowed(ctx.user_id, ctx.shop_id(), perm)
            .await
            .unwrap_or(false)
    }

    pub async fn plans(&self) -> Result<Vec<plans::Plan>> {
        Ok(plans::list(&self.db).await?)
    }

    pub(crate) async fn user(&self, id: UserId) -> Result<identity::User> {
        identity::user_by_id(&self.db, id)
            .await?
            .ok_or(Error::NotFound("user"))
    }
}
