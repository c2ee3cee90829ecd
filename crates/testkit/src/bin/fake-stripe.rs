//! The local fake Stripe as a process, for the browser tests:
//! `fake-stripe <listen addr> <Pitwall's webhook URL> [<Connect webhook URL>]`.
//! Its Checkout page's "Pay" sends webhooks signed with
//! `fake_stripe::WEBHOOK_SECRET` (subscriptions) or, for invoice payments,
//! `fake_stripe::CONNECT_WEBHOOK_SECRET` to the Connect webhook.

use pitwall_testkit::fake_stripe::{CONNECT_WEBHOOK_SECRET, FakeStripe, WEBHOOK_SECRET};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(addr), Some(webhook)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: fake-stripe <listen addr> <webhook url> [<connect webhook url>]");
    };
    let fake = FakeStripe::start_on(&addr).await?;
    fake.set_webhook(&webhook, WEBHOOK_SECRET);
    if let Some(connect) = args.next() {
        fake.set_connect_webhook(&connect, CONNECT_WEBHOOK_SECRET);
    }
    println!("fake Stripe listening on {}", fake.url());
    tokio::signal::ctrl_c().await?;
    Ok(())
}
