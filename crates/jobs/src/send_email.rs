//! The `SendEmail` job: hands one recorded e-mail to the mail server.
//!
//! Safe to run twice: a mail already sent is skipped. A crash after the
//! server took the mail but before we marked it sent makes the retry send it
//! again with the same Message-ID, which receiving servers and clients use
//! to drop the duplicate; SMTP gives no way to ask "did you get it?".

use apalis::prelude::{AbortError, BoxDynError, Data};
use pitwall_store::{Db, outbox};

use crate::SendEmail;
use crate::mailer::{Mailer, OutgoingEmail, SendError};

#[derive(Clone)]
pub struct EmailDeps {
    pub db: Db,
    pub mailer: Mailer,
}

pub async fn run(job: SendEmail, deps: Data<EmailDeps>) -> Result<(), BoxDynError> {
    let Some(row) = outbox::email(&deps.db, job.email_id).await? else {
        return Err(AbortError::new(format!("e-mail {} does not exist", job.email_id)).into());
    };
    if row.status == "sent" {
        return Ok(());
    }
    outbox::claim_email(&deps.db, job.email_id).await?;
    let mail = OutgoingEmail {
        id: row.id.to_string(),
        from_name: None,
        to: row.to_address.clone(),
        reply_to: None,
        subject: row.subject.clone(),
        text: row.body_text.clone(),
        html: row.body_html.clone(),
        attachments: Vec::new(),
    };
    match deps.mailer.send(&mail).await {
        Ok(()) => {
            outbox::mark_email_sent(&deps.db, job.email_id, chrono::Utc::now()).await?;
            tracing::info!(email.id = %job.email_id, email.kind = %row.kind, "e-mail sent");
            Ok(())
        }
        Err(SendError::Permanent(reason)) => {
            outbox::mark_email_failed(&deps.db, job.email_id, &reason, true).await?;
            tracing::warn!(email.id = %job.email_id, error = %redact_addresses(&reason), "e-mail refused for good");
            Err(AbortError::new(reason).into())
        }
        Err(SendError::Transient(reason)) => {
            outbox::mark_email_failed(&deps.db, job.email_id, &reason, false).await?;
            tracing::warn!(email.id = %job.email_id, error = %redact_addresses(&reason), "e-mail failed, will retry");
            Err(reason.into())
        }
    }
}

/// Mail servers echo recipients in their errors ("550 <bob@example.com>
/// unknown"); addresses are personal data and stay out of the logs.
fn redact_addresses(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            if word.contains('@') {
                "<address>"
            } else {
                word
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn addresses_leave_no_trace_in_logged_errors() {
        let logged =
            super::redact_addresses("permanent error (550): <bob@example.com> unknown user");
        assert_eq!(logged, "permanent error (550): <address> unknown user");
    }
}
