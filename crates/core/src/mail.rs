//! The e-mails Pitwall writes for staff. Each is recorded in `emails` and its
//! delivery job written in the same transaction as the change behind it.

use pitwall_domain::ShopId;
use pitwall_store::outbox::{self, NewEmail};
use pitwall_store::sea_orm::ConnectionTrait;

use crate::Result;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A staff e-mail with one call-to-action link.
pub(crate) struct LinkMail<'a> {
    pub shop: Option<ShopId>,
    pub kind: &'a str,
    pub to: &'a str,
    pub subject: &'a str,
    pub intro: &'a str,
    pub action: &'a str,
    pub link: &'a str,
    pub outro: &'a str,
}

/// Records the mail and writes its delivery job, in the caller's transaction.
pub(crate) async fn queue_link_mail(db: &impl ConnectionTrait, m: LinkMail<'_>) -> Result<()> {
    let LinkMail {
        shop,
        kind,
        to,
        subject,
        intro,
        action,
        link,
        outro,
    } = m;
    let text = format!("{intro}\n\n{action}:\n{link}\n\n{outro}\n\n-- Pitwall\n");
    let html = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif;line-height:1.5\">\
         <p>{}</p><p><a href=\"{}\" style=\"display:inline-block;padding:10px 16px;\
         background:#1a56db;color:#fff;border-radius:6px;text-decoration:none\">{}</a></p>\
         <p style=\"color:#555\">{}</p><p style=\"color:#555\">Or open: {}</p></body></html>",
        escape(intro),
        escape(link),
        escape(action),
        escape(outro),
        escape(link)
    );
    let id = outbox::insert_email(
        db,
        NewEmail {
            shop,
            kind,
            to,
            subject,
            body_text: &text,
            body_html: Some(&html),
            secret_bearing: true,
        },
    )
    .await?;
    pitwall_jobs::enqueue_email(db, shop, id).await?;
    Ok(())
}
