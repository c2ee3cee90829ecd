//! The `DeliverWebhook` job: posts one recorded event to a shop's own URL,
//! signed, and records what happened.
//!
//! Signature (published for the shop's receiver): header
//! `Pitwall-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>"
//! under the webhook's secret>`. Receivers recompute it and refuse bodies
//! older than five minutes. Each body carries its delivery `id`, so a
//! receiver drops one it already handled (a retry after a lost answer).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::{AbortError, BoxDynError, Data};
use hmac::{Hmac, Mac};
use pitwall_domain::net::is_public;
use pitwall_domain::{ShopId, WebhookDeliveryId, WebhookId};
use pitwall_store::sea_orm::ConnectionTrait;
use pitwall_store::{Db, StoreError, outbox, webhooks};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::relay;

pub const WEBHOOK_QUEUE: &str = "pitwall.webhook";
pub const SIGNATURE_HEADER: &str = "Pitwall-Signature";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliverWebhook {
    pub shop_id: ShopId,
    pub delivery_id: WebhookDeliveryId,
}

#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Lets webhooks reach loopback and private addresses (development and
    /// tests). Off in production: a shop must not make us call our own
    /// network.
    pub allow_private: bool,
    pub timeout: Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            allow_private: false,
            timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Clone)]
pub struct WebhookDeps {
    pub db: Db,
    pub settings: WebhookSettings,
}

/// Records a delivery of `payload` to every active webhook of the shop and
/// its job, inside the caller's transaction.
pub async fn enqueue(
    db: &impl ConnectionTrait,
    shop: ShopId,
    event: &str,
    payload: serde_json::Value,
) -> Result<usize, StoreError> {
    enqueue_inner(db, shop, None, event, payload).await
}

/// The same for one webhook only (a test delivery).
pub async fn enqueue_to(
    db: &impl ConnectionTrait,
    shop: ShopId,
    webhook: WebhookId,
    event: &str,
    payload: serde_json::Value,
) -> Result<usize, StoreError> {
    enqueue_inner(db, shop, Some(webhook), event, payload).await
}

async fn enqueue_inner(
    db: &impl ConnectionTrait,
    shop: ShopId,
    only: Option<WebhookId>,
    event: &str,
    payload: serde_json::Value,
) -> Result<usize, StoreError> {
    let deliveries = webhooks::insert_deliveries(db, shop, only, event, &payload).await?;
    let jobs = deliveries
        .iter()
        .map(|d| {
            serde_json::to_value(DeliverWebhook {
                shop_id: shop,
                delivery_id: WebhookDeliveryId::from_uuid(d.id),
            })
            .map_err(|e| StoreError::Corrupt(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    outbox::insert_many(db, Some(shop), WEBHOOK_QUEUE, &jobs).await?;
    Ok(deliveries.len())
}

/// `t=<ts>,v1=<hex>` for `body` signed with `secret` at `ts`.
pub fn signature(secret: &str, ts: i64, body: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(format!("{ts}.{body}").as_bytes());
    format!("t={ts},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Addresses a shop's webhook must not reach in production: everything
/// that is not globally routable (`pitwall_domain::net::is_public`).
pub fn is_private(ip: IpAddr) -> bool {
    !is_public(ip)
}

/// A name resolved only to addresses a webhook may not reach.
#[derive(Debug)]
struct NotPublic;

impl std::fmt::Display for NotPublic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the host resolves only to addresses that are not public")
    }
}

impl std::error::Error for NotPublic {}

/// A name that did not resolve at all.
#[derive(Debug)]
struct Unresolved(String);

impl std::fmt::Display for Unresolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot resolve the host: {}", self.0)
    }
}

impl std::error::Error for Unresolved {}

/// The resolver the webhook client connects through: it drops every
/// address that is not public, at connect time, so a name that resolves
/// to a public address when checked and to a private one when connecting
/// (DNS rebinding) still cannot reach the private one.
struct PublicOnly {
    allow_private: bool,
}

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|e| Box::new(Unresolved(e.to_string())) as BoxError)?
                .collect();
            let kept: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| allow_private || is_public(a.ip()))
                .collect();
            if kept.is_empty() {
                return Err(Box::new(NotPublic) as BoxError);
            }
            Ok(Box::new(kept.into_iter()) as Addrs)
        })
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Our resolver's refusal somewhere in a request error's causes.
fn cause<T: std::error::Error + 'static>(e: &reqwest::Error) -> Option<&T> {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(found) = s.downcast_ref::<T>() {
            return Some(found);
        }
        source = s.source();
    }
    None
}

enum Outcome {
    Delivered(u16),
    Permanent(Option<u16>, String),
    Transient(Option<u16>, String),
}

async fn post(
    settings: &WebhookSettings,
    url: &str,
    headers: [(&str, String); 3],
    body: String,
) -> Outcome {
    let Ok(parsed) = url::Url::parse(url) else {
        return Outcome::Permanent(None, "the URL is not valid".into());
    };
    if parsed.host_str().is_none_or(str::is_empty) {
        return Outcome::Permanent(None, "the URL has no host".into());
    }
    // An address written out is never resolved: check it here. Names are
    // checked by the resolver as the connection is made.
    let literal = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        _ => None,
    };
    if let Some(ip) = literal
        && !settings.allow_private
        && !is_public(ip)
    {
        return Outcome::Permanent(None, format!("the address {ip} is not public"));
    }
    let client = match reqwest::Client::builder()
        .timeout(settings.timeout)
        .redirect(reqwest::redirect::Policy::none())
        // A proxy from the environment would connect for us, to addresses
        // our resolver never saw.
        .no_proxy()
        .dns_resolver(Arc::new(PublicOnly {
            allow_private: settings.allow_private,
        }))
        .build()
    {
        Ok(c) => c,
        Err(e) => return Outcome::Transient(None, format!("http client: {e}")),
    };
    let mut req = client
        .post(parsed)
        .header("content-type", "application/json")
        .header("user-agent", "Pitwall-Webhooks/1");
    for (k, v) in headers {
        req = req.header(k, v);
    }
    match req.body(body).send().await {
        Ok(resp) => {
            let code = resp.status().as_u16();
            if resp.status().is_success() {
                Outcome::Delivered(code)
            } else if code == 408 || code == 429 || code >= 500 {
                Outcome::Transient(Some(code), format!("answered {code}"))
            } else {
                Outcome::Permanent(Some(code), format!("answered {code}"))
            }
        }
        Err(e) if cause::<NotPublic>(&e).is_some() => {
            Outcome::Permanent(None, NotPublic.to_string())
        }
        Err(ref e) if let Some(u) = cause::<Unresolved>(e) => {
            Outcome::Transient(None, u.to_string())
        }
        Err(e) if e.is_timeout() => Outcome::Transient(None, "timed out".into()),
        Err(e) if e.is_connect() => {
            Outcome::Transient(None, "connection refused or unreachable".into())
        }
        Err(e) => Outcome::Transient(None, format!("request failed: {}", e.without_url())),
    }
}

pub async fn run(job: DeliverWebhook, deps: Data<WebhookDeps>) -> Result<(), BoxDynError> {
    let Some((delivery, hook)) = webhooks::delivery(&deps.db, job.shop_id, job.delivery_id).await?
    else {
        // The webhook was removed since: nothing to deliver.
        return Ok(());
    };
    if delivery.status != "pending" {
        return Ok(());
    }
    let ts = chrono::Utc::now().timestamp();
    let sig = signature(&hook.secret, ts, &delivery.payload);
    let headers = [
        (SIGNATURE_HEADER, sig),
        ("Pitwall-Event", delivery.event.clone()),
        ("Pitwall-Delivery", delivery.id.to_string()),
    ];
    let outcome = post(&deps.settings, &hook.url, headers, delivery.payload.clone()).await;
    let last_try = delivery.attempts + 1 >= relay::MAX_ATTEMPTS as i32;
    let (status, code, error, result): (
        &str,
        Option<u16>,
        Option<String>,
        Result<(), BoxDynError>,
    ) = match outcome {
        Outcome::Delivered(code) => ("delivered", Some(code), None, Ok(())),
        Outcome::Permanent(code, e) => (
            "failed",
            code,
            Some(e.clone()),
            Err(AbortError::new(e).into()),
        ),
        Outcome::Transient(code, e) if last_try => (
            "failed",
            code,
            Some(format!(
                "{e}; gave up after {} tries",
                delivery.attempts + 1
            )),
            Err(AbortError::new(e).into()),
        ),
        Outcome::Transient(code, e) => ("pending", code, Some(e.clone()), Err(e.into())),
    };
    webhooks::record_attempt(
        &deps.db,
        job.shop_id,
        job.delivery_id,
        status,
        code.map(i32::from),
        error.as_deref(),
        (status == "delivered").then(chrono::Utc::now),
    )
    .await?;
    tracing::info!(webhook.delivery = %job.delivery_id, webhook.event = %delivery.event, status, "webhook delivery");
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_over_timestamp_dot_body() {
        // Known answer computed with `openssl dgst -sha256 -hmac whsec_test`
        // over "1700000000.{}".
        let s = signature("whsec_test", 1_700_000_000, "{}");
        assert_eq!(
            s,
            "t=1700000000,v1=35495024f4ef3f94e5a93e22221544c4b75e9a42300cd965ab81cb85cd994e91"
        );
        assert_ne!(s, signature("whsec_other", 1_700_000_000, "{}"));
        assert_ne!(s, signature("whsec_test", 1_700_000_001, "{}"));
    }

    #[test]
    fn private_addresses_are_refused() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "169.254.169.254",
            "::1",
            "fd00::1",
            "100.64.0.1",
            "::ffff:127.0.0.1",
        ] {
            assert!(
                is_private(ip.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))),
                "{ip}"
            );
        }
        assert!(!is_private(
            "93.184.216.34"
                .parse()
                .unwrap_or(IpAddr::from([127, 0, 0, 1]))
        ));
    }
}
