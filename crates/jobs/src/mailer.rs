//! E-mail senders: SMTP through lettre, and a development sender that writes
//! `.eml` files under `data/outbox/`.

use std::path::PathBuf;

use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// One message to send. `id` becomes the Message-ID, so that a retry after a
/// crash in the send window is recognisable as the same message downstream.
#[derive(Debug, Clone)]
pub struct OutgoingEmail {
    pub id: String,
    /// Shown as the sender's name (the shop's); the address stays
    /// `PITWALL_MAIL_FROM`'s, which is the one the domain authorises.
    pub from_name: Option<String>,
    pub to: String,
    pub reply_to: Option<String>,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    /// Files sent along (the invoice's PDF).
    pub attachments: Vec<MailAttachment>,
}

/// One file sent with an e-mail.
#[derive(Debug, Clone)]
pub struct MailAttachment {
    pub file_name: String,
    pub content_type: String,
    pub content: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Will not work however often it is tried (bad address, rejected).
    #[error("permanent: {0}")]
    Permanent(String),
    /// May work later (server down, timeout, 4xx from SMTP).
    #[error("transient: {0}")]
    Transient(String),
}

#[derive(Clone)]
pub enum Mailer {
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
    },
    Dev {
        dir: PathBuf,
        from: Mailbox,
    },
}

impl Mailer {
    /// `smtp://host:port` (plain, for local relays and tests), or
    /// `smtps://user:pass@host` / `smtp://...?tls=required` as lettre reads them.
    pub fn smtp(url: &str, from: &str) -> Result<Self, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("SMTP_URL: {e}"))?
            .timeout(Some(std::time::Duration::from_secs(10)))
            .build();
        Ok(Mailer::Smtp {
            transport,
            from: from
                .parse()
                .map_err(|e| format!("PITWALL_MAIL_FROM: {e}"))?,
        })
    }

    pub fn dev(dir: PathBuf, from: &str) -> Result<Self, String> {
        Ok(Mailer::Dev {
            dir,
            from: from
                .parse()
                .map_err(|e| format!("PITWALL_MAIL_FROM: {e}"))?,
        })
    }

    fn build(&self, mail: &OutgoingEmail) -> Result<Message, SendError> {
        let mut from = match self {
            Mailer::Smtp { from, .. } | Mailer::Dev { from, .. } => from.clone(),
        };
        if let Some(name) = &mail.from_name {
            from = Mailbox::new(Some(name.clone()), from.email);
        }
        let to: Mailbox = mail
            .to
            .parse()
            .map_err(|e| SendError::Permanent(format!("recipient: {e}")))?;
        let domain = from.email.domain().to_owned();
        let mut b = Message::builder()
            .from(from)
            .to(to)
            .subject(mail.subject.clone())
            .message_id(Some(format!("<{}@{}>", mail.id, domain)));
        if let Some(r) = mail
            .reply_to
            .as_deref()
            .and_then(|r| r.parse::<Mailbox>().ok())
        {
            b = b.reply_to(r);
        }
        let built = match (&mail.html, mail.attachments.is_empty()) {
            (Some(html), true) => b.multipart(MultiPart::alternative_plain_html(
                mail.text.clone(),
                html.clone(),
            )),
            (None, true) => b.header(ContentType::TEXT_PLAIN).body(mail.text.clone()),
            (html, false) => {
                let mut mixed = match html {
                    Some(html) => MultiPart::mixed().multipart(MultiPart::alternative_plain_html(
                        mail.text.clone(),
                        html.clone(),
                    )),
                    None => MultiPart::mixed().singlepart(SinglePart::plain(mail.text.clone())),
                };
                for a in &mail.attachments {
                    let kind = ContentType::parse(&a.content_type).map_err(|e| {
                        SendError::Permanent(format!("attachment {}: {e}", a.file_name))
                    })?;
                    mixed = mixed.singlepart(
                        Attachment::new(a.file_name.clone()).body(a.content.clone(), kind),
                    );
                }
                b.multipart(mixed)
            }
        };
        built.map_err(|e| SendError::Permanent(format!("building message: {e}")))
    }

    pub async fn send(&self, mail: &OutgoingEmail) -> Result<(), SendError> {
        let message = self.build(mail)?;
        match self {
            Mailer::Smtp { transport, .. } => match transport.send(message).await {
                Ok(_) => Ok(()),
                // Only an explicit permanent SMTP answer (5xx) is final; a
                // refused connection or timeout may work next time.
                Err(e) if e.is_permanent() => Err(SendError::Permanent(e.to_string())),
                Err(e) => Err(SendError::Transient(e.to_string())),
            },
            Mailer::Dev { dir, .. } => {
                tokio::fs::create_dir_all(dir)
                    .await
                    .map_err(|e| SendError::Transient(format!("outbox folder: {e}")))?;
                let path = dir.join(format!("{}.eml", mail.id));
                tokio::fs::write(&path, message.formatted())
                    .await
                    .map_err(|e| {
                        SendError::Transient(format!("writing {}: {e}", path.display()))
                    })?;
                tracing::info!(email.id = %mail.id, path = %path.display(), "e-mail written to the development outbox");
                Ok(())
            }
        }
    }
}
