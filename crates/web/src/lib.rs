//! Server-rendered pages: the staff web app and the admin console.
//!
//! Pages call the same use cases as the JSON API (`pitwall_core`); this crate
//! only reads forms, checks the session and CSRF token, and renders.

#![expect(
    clippy::result_large_err,
    reason = "a page handler returns either the page or another whole page (redirect, error); both are poem responses"
)]

mod admin;
mod pages;
mod render;
mod session;

use poem::{Route, get, post};

/// Adds every page route to `route` (which already holds the API).
pub fn mount(route: Route) -> Route {
    route
        .at("/", get(pages::root))
        .at("/static/app.css", get(render::stylesheet))
        .at("/login", get(pages::login_form).post(pages::login))
        .at("/logout", post(pages::logout))
        .at(
            "/forgot-password",
            get(pages::forgot_form).post(pages::forgot),
        )
        .at(
            "/reset-password/:token",
            get(pages::reset_form).post(pages::reset),
        )
        .at(
            "/invitations/:token",
            get(pages::accept_form).post(pages::accept),
        )
        .at("/app", get(pages::home))
        .at("/app/switch-shop", post(pages::switch_shop))
        .at("/app/users", get(pages::users))
        .at("/app/users/invite", post(pages::invite))
        .at("/app/users/:user_id/role", post(pages::change_role))
        .at("/app/users/:user_id/remove", post(pages::remove_user))
        .at(
            "/app/invitations/:id/revoke",
            post(pages::revoke_invitation),
        )
        .at("/app/roles", get(pages::roles_page))
        .at("/app/roles/:role", post(pages::save_role))
        .at(
            "/app/settings",
            get(pages::settings).post(pages::save_settings),
        )
        .at(
            "/app/api-keys",
            get(pages::api_keys_list).post(pages::create_api_key),
        )
        .at("/app/api-keys/:id/revoke", post(pages::revoke_api_key))
        .at("/admin", get(admin::shops))
        .at(
            "/admin/shops/new",
            get(admin::new_shop_form).post(admin::create_shop),
        )
        .at("/admin/shops/:id", get(admin::shop))
        .at("/admin/shops/:id/plan", post(admin::set_plan))
        .at("/admin/shops/:id/lifecycle", post(admin::set_lifecycle))
        .at(
            "/admin/shops/:id/features/:feature",
            post(admin::set_feature),
        )
        .at("/admin/audit", get(admin::audit))
        .at("/admin/jobs", get(admin::jobs))
        .at("/admin/jobs/:id/retry", post(admin::retry_job))
}
