//! The role × permission matrix, editable by those who may manage roles.

use minijinja::context;
use pitwall_core::domain::Permission;
use pitwall_core::{App, roles};
use poem::web::{Data, Path};
use poem::{Request, Response, handler};

use super::{Notice, Page, finish, respond};
use crate::render::{self, OrPage};
use crate::session::{FormData, InShop, Signed, flash};

#[handler]
pub(crate) async fn show(app: Data<&App>, req: &Request) -> Response {
    respond(
        async {
            let shop = Signed::from(&app, req).await?.in_shop(&app).await?;
            roles_page(&app, &shop, Notice::ok(flash(req))).await
        }
        .await,
    )
}

async fn roles_page(app: &App, shop: &InShop, notice: Notice) -> Page {
    let list = roles::list(app, &shop.ctx).await.or_page(&shop.layout)?;
    Ok(render::page(
        notice.status,
        "roles.html",
        context! {
            can_edit => app.may(&shop.ctx, Permission::RolesManage).await,
            roles => list.iter().map(|r| context! {
                role => r.role.as_str(),
                customised => r.customised,
                permissions => r.permissions.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
                // Shown ticked and fixed; sent along so that saving keeps them.
                locked => r.role.locked_permissions().iter().map(|p| p.as_str()).collect::<Vec<_>>(),
            }).collect::<Vec<_>>(),
            permissions => Permission::ALL.iter().map(|p| context! {
                name => p.as_str(),
                description => p.describe(),
            }).collect::<Vec<_>>(),
            ..notice.with(&shop.layout)
        },
    ))
}

#[handler]
pub(crate) async fn save(
    app: Data<&App>,
    req: &Request,
    Path(role): Path<String>,
    form: FormData,
) -> Response {
    respond(
        async {
            let shop = Signed::posted(&app, req, &form)
                .await?
                .in_shop(&app)
                .await?;
            let result =
                roles::set_permissions(&app, &shop.ctx, &role, &form.all("permissions")).await;
            finish(result, "/app/roles?ok=saved", &shop.layout, async |n| {
                roles_page(&app, &shop, n).await
            })
            .await
        }
        .await,
    )
}
