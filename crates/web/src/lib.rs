//! Server-rendered pages: the staff web app and the admin console.
//!
//! Pages call the same use cases as the JSON API (`pitwall_core`); this crate
//! only reads forms, checks the session and CSRF token, and renders.

#![expect(
    clippy::result_large_err,
    reason = "a page handler yields either its page or another whole page (redirect, error); both are poem responses"
)]

mod i18n;
mod pages;
mod render;
mod session;

use pages::{
    admin, admin_billing, api_keys, app, approvals, auth, billing, customer, inspect, inspections,
    invoice_list, invoices, media, messages, roles, settings, tickets, users, webhooks,
};
use poem::{Route, get, post};

/// Adds every page route to `route` (the binary calls this on a Route that
/// already has the API nested at "/").
pub fn mount(route: Route) -> Route {
    route
        .at("/", get(auth::root))
        .at("/static/app.css", get(render::stylesheet))
        .at("/static/app.js", get(render::script))
        .at("/static/customer.css", get(render::customer_css))
        .at("/static/customer.js", get(render::customer_js))
        .at("/static/signature.js", get(render::signature_js))
        .at("/static/inspection.js", get(render::inspection_js))
        .at("/c/:token", get(customer::show))
        .at("/c/:token/approval", post(customer::approve))
        .at("/c/:token/messages", post(customer::send_message))
        .at("/c/:token/pay", post(customer::pay))
        .at("/c/:token/events", get(customer::event_stream))
        .at("/c/:token/media/:media_id", get(media::for_customer))
        .at("/login", get(auth::login_form).post(auth::login))
        .at("/logout", post(auth::logout))
        .at(
            "/forgot-password",
            get(auth::forgot_form).post(auth::forgot),
        )
        .at(
            "/reset-password/:token",
            get(auth::reset_form).post(auth::reset),
        )
        .at(
            "/invitations/:token",
            get(auth::accept_form).post(auth::accept),
        )
        .at("/app", get(app::home))
        .at("/app/switch-shop", post(app::switch_shop))
        .at("/app/users", get(users::show))
        .at("/app/users/invite", post(users::invite))
        .at("/app/users/:user_id/role", post(users::change_role))
        .at("/app/users/:user_id/remove", post(users::remove))
        .at(
            "/app/invitations/:id/revoke",
            post(users::revoke_invitation),
        )
        .at("/app/roles", get(roles::show))
        .at("/app/roles/:role", post(roles::save))
        .at("/app/settings", get(settings::show).post(settings::save))
        .at(
            "/app/settings/customer-page",
            post(settings::save_customer_page),
        )
        .at("/app/settings/workflow", post(settings::save_workflow))
        .at("/app/webhooks", get(webhooks::show).post(webhooks::create))
        .at("/app/webhooks/:id/test", post(webhooks::test))
        .at("/app/webhooks/:id/delete", post(webhooks::delete))
        .at("/app/api-keys", get(api_keys::show).post(api_keys::create))
        .at("/app/api-keys/:id/revoke", post(api_keys::revoke))
        .at("/app/billing", get(billing::show))
        .at("/app/billing/checkout", post(billing::start_checkout))
        .at("/app/billing/portal", post(billing::start_portal))
        .at("/app/billing/payments", post(billing::start_payments))
        .at("/app/dashboard", get(tickets::dashboard))
        .at("/app/events", get(tickets::events))
        .at("/app/tickets", get(tickets::list))
        .at("/app/tickets/:id", get(tickets::show))
        .at("/app/tickets/:id/status", post(tickets::set_status))
        .at("/app/tickets/:id/stage", post(tickets::set_stage))
        .at("/app/tickets/:id/services", post(tickets::add_position))
        .at("/app/tickets/:id/extensions", post(tickets::send_extension))
        .at(
            "/app/tickets/:id/services/:service_id",
            post(tickets::work_position),
        )
        .at(
            "/app/tickets/:id/services/:service_id/done",
            post(tickets::service_done),
        )
        .at("/app/tickets/:id/invoices", post(invoices::create))
        .at(
            "/app/tickets/:id/invoices/:invoice_id/:action",
            post(invoices::act),
        )
        .at("/app/invoices/:id/pdf", get(invoices::pdf))
        .at("/app/invoices", get(invoice_list::show))
        .at("/app/invoice-uploads", post(invoice_list::upload))
        .at("/app/invoice-uploads/:id", get(invoice_list::show_upload))
        .at("/app/invoice-uploads/:id/file", get(invoice_list::file))
        .at(
            "/app/invoice-uploads/:id/confirm",
            post(invoice_list::confirm),
        )
        .at("/app/tickets/:id/comments", post(tickets::comment))
        .at("/app/tickets/:id/assignment", post(tickets::assign))
        .at("/app/tickets/:id/reminder", post(tickets::reminder))
        .at("/app/tickets/:id/links", post(approvals::issue_link))
        .at(
            "/app/tickets/:id/links/:link_id/revoke",
            post(approvals::revoke_link),
        )
        .at("/app/tickets/:id/customer-view", get(approvals::preview))
        .at("/app/tickets/:id/approvals", post(approvals::record))
        .at("/app/tickets/:id/approvals/seen", post(approvals::seen))
        .at("/app/tickets/:id/approvals/verify", get(approvals::verify))
        .at("/app/approvals/:id", get(approvals::show))
        .at("/app/work", get(tickets::work))
        .at("/app/media/:media_id", get(media::for_staff))
        .at("/app/sync-health", get(tickets::sync_health))
        .at(
            "/app/statuses",
            get(tickets::statuses_show).post(tickets::statuses_create),
        )
        .at("/app/statuses/:id", post(tickets::statuses_update))
        .at("/app/tickets/:id/inspections", post(inspect::begin))
        .at("/app/inspections/:id", get(inspect::show))
        .at(
            "/app/inspections/:id/findings/:key",
            post(inspect::save_finding),
        )
        .at(
            "/app/inspections/:id/findings/:key/media",
            post(inspect::upload),
        )
        .at(
            "/app/inspections/:id/findings/:key/service",
            post(inspect::add_service),
        )
        .at(
            "/app/inspections/:id/media/:media_id/delete",
            post(inspect::delete_media),
        )
        .at("/app/inspections/:id/:step", post(inspect::step))
        .at("/app/inspection-sheets", get(inspections::list))
        .at("/app/inspection-sheets/import", post(inspections::import))
        .at(
            "/app/inspection-sheets/:id",
            get(inspections::show).post(inspections::save),
        )
        .at(
            "/app/inspection-sheets/:id/delete",
            post(inspections::delete),
        )
        .at(
            "/app/inspection-sheets/:id/export",
            get(inspections::export),
        )
        .at("/app/statuses/:id/retire", post(tickets::statuses_retire))
        .at(
            "/app/customers",
            get(tickets::customers_list).post(tickets::customers_create),
        )
        .at("/app/customers/:id", get(tickets::customer_show))
        .at("/app/messages", get(messages::center))
        .at("/app/messages/:customer_id", get(messages::thread))
        .at("/app/messages/:customer_id/reply", post(messages::reply))
        .at("/app/messages/:customer_id/assign", post(messages::assign))
        .at("/app/messages/:customer_id/done", post(messages::done))
        .at("/app/messages/:customer_id/read", post(messages::read))
        .at(
            "/app/messages/:customer_id/simulate-reply",
            post(messages::simulate_reply),
        )
        .at(
            "/app/messages/:customer_id/resend/:message_id",
            post(messages::resend),
        )
        .at(
            "/app/messages/:customer_id/consent",
            post(messages::consent),
        )
        .at(
            "/app/messages/:customer_id/opt-out",
            post(messages::opt_out),
        )
        .at("/app/message-templates", get(messages::setup))
        .at(
            "/app/message-templates/:kind",
            post(messages::save_template),
        )
        .at(
            "/app/message-templates/:kind/preview",
            post(messages::preview),
        )
        .at("/app/messaging-settings", post(messages::save_settings))
        .at("/admin", get(admin::shops))
        .at(
            "/admin/shops/new",
            get(admin::new_shop_form).post(admin::create_shop),
        )
        .at("/admin/shops/:id", get(admin::shop))
        .at("/admin/shops/:id/sync-health", get(admin::shop_sync_health))
        .at("/admin/shops/:id/plan", post(admin::set_plan))
        .at("/admin/shops/:id/sms-from", post(admin::set_sms_from))
        .at("/admin/shops/:id/lifecycle", post(admin::set_lifecycle))
        .at(
            "/admin/shops/:id/features/:feature",
            post(admin::set_feature),
        )
        .at(
            "/admin/shops/:id/billing/comp",
            post(admin_billing::give_comp),
        )
        .at(
            "/admin/shops/:id/billing/comp/end",
            post(admin_billing::end_comp),
        )
        .at(
            "/admin/shops/:id/billing/trial",
            post(admin_billing::extend_trial),
        )
        .at("/admin/billing/prices", get(admin_billing::prices))
        .at(
            "/admin/billing/prices/:plan",
            post(admin_billing::set_price),
        )
        .at("/admin/audit", get(admin::audit))
        .at("/admin/jobs", get(admin::jobs))
        .at("/admin/jobs/:id/retry", post(admin::retry_job))
}
