use pitwall_domain::Permission;
use pitwall_domain::messaging::TemplateKind;
use pitwall_store::messages::{self};

use crate::outreach::{self};
use crate::{App, Error, Result, ShopCtx};

pub struct TemplateView {
    pub kind: TemplateKind,
    pub body: String,
    pub is_default: bool,
}

pub async fn templates(app: &App, ctx: &ShopCtx) -> Result<Vec<TemplateView>> {
    app.require(ctx, Permission::TicketsView).await?;
    let stored = messages::templates(&app.db, ctx.shop_id()).await?;
    Ok(TemplateKind::ALL
        .iter()
        .map(
            |&kind| match stored.iter().find(|t| t.kind == kind.as_str()) {
                Some(t) => TemplateView {
                    kind,
                    body: t.body.clone(),
                    is_default: false,
                },
                None => TemplateView {
                    kind,
                    body: kind.default_body().to_owned(),
                    is_default: true,
                },
            },
        )
        .collect())
}

pub fn parse_template_kind(kind: &str) -> Result<TemplateKind> {
    TemplateKind::parse(kind).ok_or_else(|| {
        Error::invalid(
            "kind",
            "must be link, reminder, invoice, extension or confirmation",
        )
    })
}

pub async fn put_template(
    app: &App,
    ctx: &ShopCtx,
    kind: TemplateKind,
    body: &str,
) -> Result<TemplateView> {
    app.require(ctx, Permission::MessageSetupManage).await?;
    ctx.require_writable()?;
    let body = body.trim();
    if body.is_empty() {
        return Err(Error::invalid("body", "must not be empty"));
    }
    outreach::check_template("body", body)?;
    messages::put_template(&app.db, ctx.shop_id(), kind.as_str(), body, ctx.user_id).await?;
    Ok(TemplateView {
        kind,
        body: body.to_owned(),
        is_default: false,
    })
}

/// Renders a template with sample data, with its SMS size and cost.
/// Needs the permission that edits templates: rendering is work the
/// server does for the caller, not something every viewer may ask for.
pub async fn preview(app: &App, ctx: &ShopCtx, body: &str) -> Result<outreach::Preview> {
    app.require(ctx, Permission::MessageSetupManage).await?;
    outreach::preview("body", body)
}
