//! The `pitwall.message` queue: each job delivers one customer message.
//!
//! The delivery rules (claim, send, reconcile after a crash, opt-out,
//! sender, allowance, the state machine) are a use case and live in
//! `pitwall-core` (`messaging::Deliverer`); this crate runs them through
//! [`MessageWork`], which the binary plugs in, and keeps the provider
//! clients ([`crate::sms`], [`crate::mailer`]) they send with.

use std::sync::Arc;

use apalis::prelude::{BoxDynError, Data};
use pitwall_domain::MessageId;

use crate::{SendMessage, WorkFailure};

/// Message delivery, as the worker calls it.
pub trait MessageWork: Send + Sync + 'static {
    fn deliver(
        &self,
        message: MessageId,
    ) -> futures::future::BoxFuture<'_, Result<(), WorkFailure>>;
}

#[derive(Clone)]
pub struct MessageDeps {
    pub work: Arc<dyn MessageWork>,
}

pub async fn run(job: SendMessage, deps: Data<MessageDeps>) -> Result<(), BoxDynError> {
    Ok(deps.work.deliver(job.message_id).await?)
}
