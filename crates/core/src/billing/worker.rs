use pitwall_jobs::billing::{BillingFailure, BillingJob, BillingWork};

use super::{process_event, report_overage};
use crate::App;

/// Runs billing jobs for the worker.
pub struct Worker(pub App);

impl BillingWork for Worker {
    fn run(
        &self,
        job: BillingJob,
    ) -> futures_boxed::BoxFuture<'_, std::result::Result<(), BillingFailure>> {
        Box::pin(async move {
            match job {
                BillingJob::StripeEvent { event_id } => process_event(&self.0, &event_id).await,
                BillingJob::ConnectEvent { event_id } => {
                    crate::payments::process_connect_event(&self.0, &event_id).await
                }
                BillingJob::SmsOverage {
                    shop_id,
                    message_id,
                } => report_overage(&self.0, shop_id, message_id).await,
            }
        })
    }
}

mod futures_boxed {
    pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;
}
