//! Page sessions: the cookie, the signed-in principal, CSRF and forms.

use minijinja::{Value, context};
use pitwall_core::auth::{self, Kind, csrf_ok, csrf_token};
use pitwall_core::domain::net::ClientAddr;
use pitwall_core::domain::{Feature, Permission};
use pitwall_core::{Actor, App, Error, ShopCtx};
use poem::error::ReadBodyError;
use poem::http::StatusCode;
use poem::web::Form;
use poem::{Body, FromRequest, Request, RequestBody, Response};
use serde::Deserialize;

use crate::render::{self, OrPage};

pub(crate) const COOKIE: &str = "pitwall_session";

/// A form body as name/value pairs (checkbox lists repeat a name).
pub(crate) struct FormData(Vec<(String, String)>);

impl FormData {
    /// The field's value; a missing field reads as empty, which the use
    /// cases then name ("email: is required").
    pub(crate) fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// The field's value, or `None` when left blank.
    pub(crate) fn opt(&self, name: &str) -> Option<&str> {
        Some(self.get(name)).filter(|v| !v.trim().is_empty())
    }

    /// Every name/value pair, in order.
    pub(crate) fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    pub(crate) fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// The largest page form taken: a drawn signature (at most 300 KB as a
/// data URL, somewhat more once form-encoded) fits with room to spare.
pub(crate) const MAX_FORM_BYTES: usize = 1024 * 1024;

impl<'a> FromRequest<'a> for FormData {
    /// A body over [`MAX_FORM_BYTES`] is refused (413, with the API's error
    /// envelope) before it is read in full, so nobody can make us hold an
    /// unbounded body, signed in or not. Anything else never fails: the
    /// app's error layer would answer a failed extraction in JSON. A body
    /// that is not a form reads as an empty form, which the CSRF check or
    /// the use case then refuses in words.
    async fn from_request(req: &'a Request, body: &mut RequestBody) -> poem::Result<Self> {
        let Ok(raw) = body.take() else {
            return Ok(Self(Vec::new()));
        };
        let bytes = match raw.into_bytes_limit(MAX_FORM_BYTES).await {
            Ok(b) => b,
            Err(e @ ReadBodyError::PayloadTooLarge) => return Err(e.into()),
            Err(_) => return Ok(Self(Vec::new())),
        };
        let mut bounded = RequestBody::new(Body::from(bytes));
        Ok(Self(
            Form::<Vec<(String, String)>>::from_request(req, &mut bounded)
                .await
                .map(|Form(pairs)| pairs)
                .unwrap_or_default(),
        ))
    }
}

/// The client's address as the HTTP stack worked it out once for the
/// request (`pitwall_api::with_stack`, which honours
/// `PITWALL_TRUSTED_PROXIES`); never read from headers here.
pub(crate) fn client_addr(req: &Request) -> ClientAddr {
    req.data::<ClientAddr>()
        .copied()
        .unwrap_or(ClientAddr::UNKNOWN)
}

pub(crate) fn cookie_token(req: &Request) -> Option<&str> {
    req.headers()
        .get_all("cookie")
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .find_map(|part| {
            let (name, value) = part.trim().split_once('=')?;
            (name == COOKIE && !value.is_empty()).then_some(value)
        })
}

fn cookie_header(app: &App, token: &str, max_age_secs: i64) -> String {
    let secure = if app.config().base_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}")
}

/// A redirect that also sets (or, with `None`, clears) the session cookie.
pub(crate) fn redirect_with_session(app: &App, token: Option<&str>, to: &str) -> Response {
    let header = match token {
        Some(t) => cookie_header(app, t, app.config().web_session_ttl.num_seconds()),
        None => cookie_header(app, "", 0),
    };
    let mut resp = render::redirect(to);
    if let Ok(v) = header.parse() {
        resp.headers_mut().append("set-cookie", v);
    }
    resp
}

/// Forms sent before there is a session (sign in, forgot, reset, accept)
/// have no CSRF token to carry. A browser names the page a form came from in
/// `Origin` (or at least `Referer`); it must be this site. A request with
/// neither does not come from a browser acting for someone else.
pub(crate) fn same_origin(app: &App, req: &Request) -> bool {
    let source = match (req.header("origin"), req.header("referer")) {
        // Browsers send "null" when they hide the origin: never ours.
        (Some("null"), _) => return false,
        (Some(origin), _) => origin,
        (None, Some(referer)) => referer,
        (None, None) => return true,
    };
    let Some(from) = authority(source) else {
        return false;
    };
    let host = req
        .header("host")
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    // Behind a proxy the Host header may be internal; the public URL counts.
    [host, authority(&app.config().base_url)]
        .into_iter()
        .flatten()
        .any(|ours| ours.eq_ignore_ascii_case(from))
}

/// `host[:port]` of an absolute URL.
fn authority(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(&rest[..end]).filter(|a| !a.is_empty())
}

pub(crate) fn cross_site() -> Response {
    render::message(
        StatusCode::FORBIDDEN,
        Value::UNDEFINED,
        "Blocked",
        "This form was sent from another site, so it was not accepted.",
    )
}

/// A signed-in user on a page.
pub(crate) struct Signed {
    pub actor: Actor,
    pub token: String,
    pub csrf: String,
    /// The live script re-reads a region: no navigation is drawn, so its
    /// counts need not be read.
    pub fragment: bool,
}

impl Signed {
    /// The session from the cookie, or a redirect to the sign-in page.
    pub(crate) async fn from(app: &App, req: &Request) -> Result<Self, Response> {
        let Some(token) = cookie_token(req) else {
            return Err(render::redirect("/login"));
        };
        let actor = auth::authenticate(app, token, Kind::Web)
            .await
            .or_page(&Value::UNDEFINED)?;
        Ok(Self {
            csrf: csrf_token(token),
            token: token.to_owned(),
            actor,
            fragment: req.header("x-fragment") == Some("1"),
        })
    }

    /// The session of a posted form: the CSRF token must be this session's.
    pub(crate) async fn posted(
        app: &App,
        req: &Request,
        form: &FormData,
    ) -> Result<Self, Response> {
        Self::posted_csrf(app, req, form.get("csrf")).await
    }

    /// As [`Signed::posted`], for a body that is not a plain form (an
    /// upload): the CSRF token read from it.
    pub(crate) async fn posted_csrf(
        app: &App,
        req: &Request,
        csrf: &str,
    ) -> Result<Self, Response> {
        let s = Self::from(app, req).await?;
        if csrf_ok(&s.token, csrf) {
            Ok(s)
        } else {
            Err(render::message(
                StatusCode::FORBIDDEN,
                s.layout(),
                "This form has expired",
                "The form was out of date or came from another site, so nothing was changed. Go back, reload the page and try again.",
            ))
        }
    }

    /// The layout for pages outside a shop (the admin console).
    pub(crate) fn layout(&self) -> Value {
        context! {
            nav => context! { admin => self.actor.platform_role.is_some() },
            user_name => self.actor.name.clone(),
            csrf => self.csrf.clone(),
        }
    }

    /// Admin console pages: platform staff only.
    pub(crate) fn require_platform(self) -> Result<Self, Response> {
        self.actor.require_platform().or_page(&self.layout())?;
        Ok(self)
    }

    /// The shop the session acts in, or the page to show instead.
    pub(crate) async fn in_shop(self, app: &App) -> Result<InShop, Response> {
        match app.shop_ctx(&self.actor, None).await {
            Ok(ctx) => {
                let layout = shop_layout(app, &self, &ctx).await;
                Ok(InShop {
                    signed: self,
                    ctx,
                    layout,
                })
            }
            // Platform staff need not belong to any shop.
            Err(Error::NotFound(_)) if self.actor.platform_role.is_some() => {
                Err(render::redirect("/admin"))
            }
            Err(Error::NotFound(_)) => Err(render::message(
                StatusCode::NOT_FOUND,
                self.layout(),
                "No shop yet",
                "Your account does not belong to any shop. Ask a shop's owner to invite you.",
            )),
            Err(e) => Err(render::error(&e, self.layout())),
        }
    }
}

/// The layout inside a shop: the navigation shows only what the role may use.
async fn shop_layout(app: &App, s: &Signed, ctx: &ShopCtx) -> Value {
    let users = app.may(ctx, Permission::UsersView).await;
    let messages = app.may(ctx, Permission::CustomersView).await;
    // A failure only hides the number.
    let unread_messages = if messages && !s.fragment {
        pitwall_core::messaging::unread_threads(app, ctx)
            .await
            .unwrap_or(0)
    } else {
        0
    };
    context! {
        nav => context! {
            dashboard => app.may(ctx, Permission::DashboardView).await
                && ctx.features.has(Feature::Dashboard),
            tickets => app.may(ctx, Permission::TicketsView).await,
            customers => messages,
            messages,
            unread_messages,
            statuses => app.may(ctx, Permission::MessageSetupManage).await,
            work => ctx.features.has(Feature::TechnicianView) || ctx.features.has(Feature::RepairOrders),
            sync => app.may(ctx, Permission::ApiKeysManage).await
                && ctx.features.has(Feature::SyncHealth),
            users,
            roles => users,
            settings => app.may(ctx, Permission::ShopSettingsManage).await,
            api_keys => app.may(ctx, Permission::ApiKeysManage).await,
            webhooks => app.may(ctx, Permission::ShopSettingsManage).await
                && ctx.features.has(Feature::Webhooks),
            inspection_sheets => app.may(ctx, Permission::InspectionsSetup).await
                && ctx.features.has(Feature::Inspections),
            billing => app.may(ctx, Permission::BillingManage).await,
            invoices => app.may(ctx, Permission::TicketsView).await
                && ctx.features.has(Feature::OnlinePayments),
            admin => s.actor.platform_role.is_some(),
        },
        // A trial that ended without a subscription: the owner is asked to
        // subscribe, the others are told why nothing can be changed.
        trial_ended => if ctx.trial_ended() {
            Some(if app.may(ctx, Permission::BillingManage).await { "owner" } else { "staff" })
        } else {
            None
        },
        // The owner's warning while a late payment's grace runs.
        past_due => ctx.lifecycle == pitwall_core::domain::ShopLifecycle::PastDue
            && app.may(ctx, Permission::BillingManage).await,
        shop_name => ctx.shop.name.clone(),
        user_name => s.actor.name.clone(),
        role => ctx.role.as_str(),
        csrf => s.csrf.clone(),
    }
}

/// A signed-in user inside their current shop, with the page layout.
pub(crate) struct InShop {
    pub signed: Signed,
    pub ctx: ShopCtx,
    pub layout: Value,
}

/// The confirmation named by `?ok=<code>`. Only fixed texts, so that a link
/// cannot make a page say something of its author's choosing.
pub(crate) fn flash(req: &Request) -> Option<&'static str> {
    #[derive(Deserialize)]
    struct Flash {
        ok: Option<String>,
    }
    let code = req.params::<Flash>().ok()?.ok?;
    Some(match code.as_str() {
        "invited" => "Invitation sent.",
        "role" => "Role changed.",
        "removed" => "Removed from the shop.",
        "revoked" => "Revoked.",
        "saved" => "Saved.",
        "deleted" => "Deleted.",
        "status" => "Status set.",
        "commented" => "Comment added.",
        "assigned" => "Assignment saved.",
        "retired" => "Status retired; tickets that have it keep it.",
        "switched" => "Shop switched.",
        "created" => "Shop created; its owner can sign in and use it.",
        "created_invited" => "Shop created; its owner has been sent an invitation.",
        "reset" => "Your password is changed. Sign in with it.",
        "retried" => "The job is queued again.",
        "sent" => "Message queued: it goes out in a moment.",
        "resent" => "Sent again as a new message.",
        "reminder" => "Reminder queued.",
        "done" => "Conversation marked done.",
        "reopened" => "Conversation reopened.",
        "read" => "Marked read.",
        "consent" => "Consent to texts recorded.",
        "opted_out" => "Texts are off for this customer.",
        "simulated" => "Reply recorded as if the customer had texted it.",
        "link_revoked" => "Link revoked: it no longer opens the ticket.",
        "approval_recorded" => "Approval recorded.",
        "webhook_added" => "Webhook added. Its signing secret is below.",
        "webhook_test" => "Test event queued: it shows under recent deliveries in a moment.",
        "webhook_deleted" => "Webhook deleted.",
        "inspection_started" => "Inspection started.",
        "inspection_submitted" => "Inspection handed in for review.",
        "inspection_returned" => "Inspection sent back to the technician.",
        "inspection_published" => "Inspection published: the customer's link shows it.",
        "inspection_published_sent" => {
            "Inspection published and the link is on its way to the customer."
        }
        "finding_service" => "Service added to the estimate.",
        "media_deleted" => "Photo deleted.",
        "stage" => "Stage moved.",
        "service_done" => "Marked done.",
        "invoice_created" => "Invoice made.",
        "invoice_sent" => "Invoice sent.",
        "invoice_paid_pos" => "Marked paid at the counter.",
        "invoice_delivered" => "Marked delivered.",
        "invoice_booked" => "Marked booked.",
        "invoice_canceled" => "Invoice canceled.",
        "invoice_picked_up" => "Vehicle handed over.",
        "invoice_confirmed" => "Invoice made from the paper invoice.",
        "position_added" => "Position added: the POS has been told.",
        "position_saved" => "Saved.",
        "extension_sent" => "Sent to the customer as an order extension.",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authority_is_host_and_port() {
        assert_eq!(
            authority("https://shop.example:8443/login?x"),
            Some("shop.example:8443")
        );
        assert_eq!(authority("http://127.0.0.1:3000"), Some("127.0.0.1:3000"));
        assert_eq!(authority("not a url"), None);
        assert_eq!(authority("https:///path"), None);
    }
}
