use chrono::Utc;
use pitwall_domain::{CustomerId, Permission, UserId};
use pitwall_store::live::LiveEvent;
use pitwall_store::messages::{self, Message, ThreadFilter};
use pitwall_store::{customers, identity, members, tickets};

use crate::{App, Error, Result, ShopCtx};

pub struct ThreadRow {
    pub thread: messages::Thread,
    pub customer: customers::Customer,
    pub last: Option<Message>,
    pub assigned_name: Option<String>,
}

pub struct ThreadList {
    pub items: Vec<ThreadRow>,
    pub next_offset: Option<u64>,
}

pub fn parse_filter(ctx: &ShopCtx, filter: Option<&str>) -> Result<ThreadFilter> {
    Ok(match filter.unwrap_or("open") {
        "open" => ThreadFilter::Open,
        "unread" => ThreadFilter::Unread,
        "mine" => ThreadFilter::AssignedTo(ctx.user_id),
        "done" => ThreadFilter::Done,
        "all" => ThreadFilter::All,
        _ => {
            return Err(Error::invalid(
                "filter",
                "must be open, unread, mine, done or all",
            ));
        }
    })
}

/// Threads, unread first.
pub async fn threads(
    app: &App,
    ctx: &ShopCtx,
    filter: ThreadFilter,
    offset: u64,
    limit: u64,
) -> Result<ThreadList> {
    app.require(ctx, Permission::CustomersView).await?;
    let shop = ctx.shop_id();
    let (rows, more) = messages::threads(&app.db, shop, filter, offset, limit).await?;
    let customer_ids: Vec<uuid::Uuid> = rows.iter().map(|t| t.customer_id).collect();
    let customers = customers::many(&app.db, shop, &customer_ids).await?;
    let user_ids: Vec<uuid::Uuid> = rows.iter().filter_map(|t| t.assigned_to).collect();
    let users = identity::users_by_ids(&app.db, &user_ids).await?;
    let mut last: std::collections::HashMap<uuid::Uuid, Message> =
        messages::latest_of_customers(&app.db, shop, &customer_ids)
            .await?
            .into_iter()
            .filter_map(|m| m.customer_id.map(|c| (c, m)))
            .collect();
    let mut items = Vec::with_capacity(rows.len());
    for thread in rows {
        let Some(customer) = customers
            .iter()
            .find(|c| c.id == thread.customer_id)
            .cloned()
        else {
            continue;
        };
        let assigned_name = thread
            .assigned_to
            .and_then(|u| users.iter().find(|x| x.id == u).map(|x| x.name.clone()));
        items.push(ThreadRow {
            last: last.remove(&customer.id),
            thread,
            customer,
            assigned_name,
        });
    }
    Ok(ThreadList {
        items,
        next_offset: more.then_some(offset + limit),
    })
}

/// How many conversations wait for someone to read them (the navigation's
/// count; one count over an index that leads with the shop).
pub async fn unread_threads(app: &App, ctx: &ShopCtx) -> Result<u64> {
    app.require(ctx, Permission::CustomersView).await?;
    Ok(messages::unread_count(&app.db, ctx.shop_id()).await?)
}

pub struct ThreadDetail {
    pub customer: customers::Customer,
    pub thread: Option<messages::Thread>,
    pub messages: Vec<Message>,
    pub consent: Vec<messages::ConsentEvent>,
    /// Who sent each staff message.
    pub senders: Vec<(uuid::Uuid, String)>,
    pub open_ticket: Option<tickets::Ticket>,
}

/// A customer's whole conversation (the last 200 messages).
pub async fn thread(app: &App, ctx: &ShopCtx, customer: CustomerId) -> Result<ThreadDetail> {
    app.require(ctx, Permission::CustomersView).await?;
    let shop = ctx.shop_id();
    let c = customers::get(&app.db, shop, customer)
        .await?
        .ok_or(Error::NotFound("customer"))?;
    let msgs = messages::recent_of_customer(&app.db, shop, customer, 200).await?;
    let mut by: Vec<uuid::Uuid> = msgs.iter().filter_map(|m| m.created_by).collect();
    by.sort();
    by.dedup();
    let senders = identity::users_by_ids(&app.db, &by)
        .await?
        .into_iter()
        .map(|u| (u.id, u.name))
        .collect();
    Ok(ThreadDetail {
        thread: messages::thread(&app.db, shop, customer).await?,
        consent: messages::consent_history(&app.db, shop, customer).await?,
        open_ticket: tickets::latest_open_of_customer(&app.db, shop, c.id).await?,
        customer: c,
        messages: msgs,
        senders,
    })
}

/// Someone read the thread: it and the customer's tickets stop showing
/// an unread reply, on every open dashboard.
pub async fn read_thread(app: &App, ctx: &ShopCtx, customer: CustomerId) -> Result<()> {
    app.require(ctx, Permission::CustomersView).await?;
    let shop = ctx.shop_id();
    let txn = pitwall_store::begin_write(&app.db).await?;
    customers::get(&txn, shop, customer)
        .await?
        .ok_or(Error::NotFound("customer"))?;
    let thread_was_unread = messages::mark_thread_read(&txn, shop, customer).await?;
    let tickets_read = tickets::mark_customer_replies_read(&txn, shop, customer.as_uuid()).await?;
    if !thread_was_unread && tickets_read.is_empty() {
        return Ok(());
    }
    let mut events: Vec<LiveEvent> = tickets_read
        .iter()
        .map(|t| LiveEvent::new(shop, Some(*t), "reply_read", None))
        .collect();
    if events.is_empty() {
        events.push(LiveEvent::new(shop, None, "reply_read", None));
    }
    let announced = app.live.announce(events);
    txn.commit().await?;
    app.live.after_commit(announced);
    Ok(())
}

pub async fn assign_thread(
    app: &App,
    ctx: &ShopCtx,
    customer: CustomerId,
    to: Option<UserId>,
) -> Result<()> {
    app.require(ctx, Permission::MessagesSend).await?;
    ctx.require_writable()?;
    let shop = ctx.shop_id();
    // The thread first: another shop's customer is simply not found.
    customers::get(&app.db, shop, customer)
        .await?
        .ok_or(Error::NotFound("customer"))?;
    if let Some(u) = to
        && members::membership(&app.db, shop, u).await?.is_none()
    {
        return Err(Error::invalid("user_id", "is not a member of this shop"));
    }
    let txn = pitwall_store::begin_write(&app.db).await?;
    messages::touch_thread(&txn, shop, customer, Utc::now(), false).await?;
    messages::assign_thread(&txn, shop, customer, to).await?;
    txn.commit().await?;
    Ok(())
}

pub async fn set_thread_done(
    app: &App,
    ctx: &ShopCtx,
    customer: CustomerId,
    done: bool,
) -> Result<()> {
    app.require(ctx, Permission::MessagesSend).await?;
    ctx.require_writable()?;
    let shop = ctx.shop_id();
    customers::get(&app.db, shop, customer)
        .await?
        .ok_or(Error::NotFound("customer"))?;
    if done {
        read_thread(app, ctx, customer).await?;
    }
    let txn = pitwall_store::begin_write(&app.db).await?;
    // A customer with no conversation yet gets one, so "done" sticks.
    if messages::thread(&txn, shop, customer).await?.is_none() {
        messages::touch_thread(&txn, shop, customer, Utc::now(), false).await?;
    }
    messages::set_thread_done(&txn, shop, customer, done).await?;
    let announced = app
        .live
        .announce(vec![LiveEvent::new(shop, None, "thread", None)]);
    txn.commit().await?;
    app.live.after_commit(announced);
    Ok(())
}
