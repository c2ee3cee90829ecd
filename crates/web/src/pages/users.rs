//! The shop's staff: members, pending invitations, inviting, roles, removal.

use minijinja::context;
use pitwall_core::domain::{InvitationId, Permission, Role, UserId};
use pitwall_core::model::PageRequest;
use pitwall_core::{App, members};
use poem::web::{Data, Path};
use poem::{Request, Response, handler};

use super::{Notice, Page, finish, parse_id, respond};
use crate::render::{self, OrPage};
use crate::session::{FormData, InShop, Signed, flash};

#[handler]
pub(crate) async fn show(app: Data<&App>, req: &Request) -> Response {
    respond(
        async {
            let shop = Signed::from(&app, req).await?.in_shop(&app).await?;
            users_page(&app, &shop, Notice::ok(flash(req)), None).await
        }
        .await,
    )
}

/// The page; `sent` is the invite form as sent, kept when it had a problem.
async fn users_page(app: &App, shop: &InShop, notice: Notice, sent: Option<&FormData>) -> Page {
    let (ctx, layout) = (&shop.ctx, &shop.layout);
    // The staff list is the one lookup this page cannot do without.
    let list = members::list(app, ctx, PageRequest::first(PageRequest::MAX_LIMIT))
        .await
        .or_page(layout)?;
    let can_invite = app.may(ctx, Permission::UsersInvite).await;
    let can_manage = app.may(ctx, Permission::UsersManage).await;
    let invitations = if can_invite {
        members::list_invitations(app, ctx, PageRequest::first(PageRequest::MAX_LIMIT))
            .await
            .or_page(layout)?
            .items
    } else {
        Vec::new()
    };
    // Offered choices follow the domain rule; the use case enforces it.
    let assignable: Vec<&str> = Role::ALL
        .iter()
        .filter(|r| ctx.role.may_assign(**r))
        .map(|r| r.as_str())
        .collect();
    let members = list
        .items
        .iter()
        .map(|m| {
            let manageable = can_manage
                && Role::parse(&m.membership.role).is_some_and(|r| ctx.role.may_assign(r));
            context! {
                id => m.user.id.to_string(),
                name => m.user.name.clone(),
                email => m.user.email.clone(),
                role => m.membership.role.clone(),
                is_me => m.user.id == ctx.user_id.as_uuid(),
                manageable,
            }
        })
        .collect::<Vec<_>>();
    Ok(render::page(
        notice.status,
        "users.html",
        context! {
            members,
            more_members => list.next_cursor.is_some(),
            invitations => invitations.iter().map(|i| context! {
                id => i.id.to_string(),
                email => i.email.clone(),
                role => i.role.clone(),
                expires_at => render::day(i.expires_at),
            }).collect::<Vec<_>>(),
            can_invite,
            can_manage,
            assignable,
            invite => context! {
                email => sent.map(|f| f.get("email")),
                role => sent.map_or("advisor", |f| f.get("role")),
            },
            ..notice.with(layout)
        },
    ))
}

#[handler]
pub(crate) async fn invite(app: Data<&App>, req: &Request, form: FormData) -> Response {
    respond(
        async {
            let shop = Signed::posted(&app, req, &form)
                .await?
                .in_shop(&app)
                .await?;
            let result =
                members::invite(&app, &shop.ctx, form.get("email"), form.get("role")).await;
            finish(result, "/app/users?ok=invited", &shop.layout, async |n| {
                users_page(&app, &shop, n, Some(&form)).await
            })
            .await
        }
        .await,
    )
}

#[handler]
pub(crate) async fn change_role(
    app: Data<&App>,
    req: &Request,
    Path(user): Path<String>,
    form: FormData,
) -> Response {
    respond(
        async {
            let shop = Signed::posted(&app, req, &form)
                .await?
                .in_shop(&app)
                .await?;
            let user: UserId = parse_id(&user, "user").or_page(&shop.layout)?;
            let result = members::change_role(&app, &shop.ctx, user, form.get("role")).await;
            finish(result, "/app/users?ok=role", &shop.layout, async |n| {
                users_page(&app, &shop, n, None).await
            })
            .await
        }
        .await,
    )
}

#[handler]
pub(crate) async fn remove(
    app: Data<&App>,
    req: &Request,
    Path(user): Path<String>,
    form: FormData,
) -> Response {
    respond(
        async {
            let shop = Signed::posted(&app, req, &form)
                .await?
                .in_shop(&app)
                .await?;
            let user: UserId = parse_id(&user, "user").or_page(&shop.layout)?;
            let result = members::remove(&app, &shop.ctx, user).await;
            finish(result, "/app/users?ok=removed", &shop.layout, async |n| {
                users_page(&app, &shop, n, None).await
            })
            .await
        }
        .await,
    )
}

#[handler]
pub(crate) async fn revoke_invitation(
    app: Data<&App>,
    req: &Request,
    Path(id): Path<String>,
    form: FormData,
) -> Response {
    respond(
        async {
            let shop = Signed::posted(&app, req, &form)
                .await?
                .in_shop(&app)
                .await?;
            let id: InvitationId = parse_id(&id, "invitation").or_page(&shop.layout)?;
            let result = members::revoke_invitation(&app, &shop.ctx, id).await;
            finish(result, "/app/users?ok=revoked", &shop.layout, async |n| {
                users_page(&app, &shop, n, None).await
            })
            .await
        }
        .await,
    )
}
