//! Messages to and from customers, the customer threads (the inbox),
//! consent history, per-shop templates and the per-sender send slots.
//!
//! Tenant functions take a `ShopId`. Three lookups cannot: the delivery job
//! and a provider's receipt name only a message (`by_id_for_delivery`,
//! `by_provider_id`), and an inbound text names only phone numbers
//! (`shop_last_texting`); each returns the shop the row belongs to. The
//! delivery job's own writes (`claim`, `count_attempt`, `note_error`,
//! `advance`) name the message it was given, whose row says whose it is.

use chrono::{DateTime, Utc};
use pitwall_domain::messaging::{Channel, Direction, MessageKind, MessageStatus};
use pitwall_domain::{ConsentEventId, CustomerId, MessageId, ShopId, ThreadId, TicketId, UserId};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect, Set, Statement,
};

use crate::entities::{consent_event, message, message_template, message_thread};
use crate::{InShop, Page, PageRequest, StoreError, now};

pub use consent_event::Model as ConsentEvent;
pub use message::Model as Message;
pub use message_template::Model as Template;
pub use message_thread::Model as Thread;

pub struct NewMessage<'a> {
    pub ticket: Option<TicketId>,
    pub customer: Option<CustomerId>,
    pub channel: Channel,
    pub direction: Direction,
    pub kind: MessageKind,
    pub to_address: &'a str,
    pub from_address: Option<&'a str>,
    pub subject: Option<&'a str>,
    pub body: &'a str,
    /// The text that goes out, when it is not `body`: `body` keeps a
    /// customer link masked, this carries it and is cleared once sent.
    pub outgoing_body: Option<&'a str>,
    pub segments: i32,
    pub created_by: Option<UserId>,
    pub status: MessageStatus,
    /// Held messages: until when, and why (`quiet_hours`, `quota_exceeded`).
    pub held_until: Option<DateTime<Utc>>,
    pub hold_reason: Option<&'a str>,
    pub provider_id: Option<&'a str>,
    /// A message refused before sending (opted out, no consent) is
    /// recorded as failed with the reason.
    pub error: Option<(&'a str, &'a str)>,
}

/// The row of a new message (its id made here), for inserting alone, with
/// others, or in a [`crate::batch::Batch`].
pub fn message_row(shop: ShopId, m: NewMessage<'_>, at: DateTime<Utc>) -> Message {
    Message {
        id: MessageId::new().as_uuid(),
        shop_id: shop.as_uuid(),
        ticket_id: m.ticket.map(|t| t.as_uuid()),
        customer_id: m.customer.map(|c| c.as_uuid()),
        channel: m.channel.as_str().to_owned(),
        direction: m.direction.as_str().to_owned(),
        to_address: m.to_address.to_owned(),
        body: m.body.to_owned(),
        outgoing_body: m.outgoing_body.map(str::to_owned),
        status: m.status.as_str().to_owned(),
        provider_id: m.provider_id.map(str::to_owned),
        error_code: m.error.map(|e| e.0.to_owned()),
        error_message: m.error.map(|e| e.1.to_owned()),
        attempts: 0,
        created_by: m.created_by.map(|u| u.as_uuid()),
        kind: m.kind.as_str().to_owned(),
        subject: m.subject.map(str::to_owned),
        from_address: m.from_address.map(str::to_owned),
        segments: m.segments,
        held_until: m.held_until,
        hold_reason: m.hold_reason.map(str::to_owned),
        claimed_at: None,
        sent_at: None,
        delivered_at: (m.status == MessageStatus::Received).then_some(at),
        created_at: at,
        updated_at: at,
    }
}

/// Records a message; an outbound one's delivery job is the caller's to
/// write in the same transaction.
pub async fn insert(
    db: &impl ConnectionTrait,
    shop: ShopId,
    m: NewMessage<'_>,
) -> Result<Message, StoreError> {
    let row = message_row(shop, m, now());
    message::Entity::insert(row.clone().into_active_model())
        .exec_without_returning(db)
        .await?;
    Ok(row)
}

pub async fn get(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: MessageId,
) -> Result<Option<Message>, StoreError> {
    Ok(message::Entity::find()
        .in_shop(shop)
        .filter(message::Column::Id.eq(id.as_uuid()))
        .one(db)
        .await?)
}

/// For the delivery job, which carries only the message id; the row says
/// whose it is.
pub async fn by_id_for_delivery(
    db: &impl ConnectionTrait,
    id: MessageId,
) -> Result<Option<Message>, StoreError> {
    Ok(message::Entity::find_by_id(id.as_uuid()).one(db).await?)
}

/// For delivery receipts, which name the provider's id only.
pub async fn by_provider_id(
    db: &impl ConnectionTrait,
    provider_id: &str,
) -> Result<Option<Message>, StoreError> {
    Ok(message::Entity::find()
        .filter(message::Column::ProviderId.eq(provider_id))
        .one(db)
        .await?)
}

/// Takes the message for sending: only one worker wins, and only from
/// `queued` or `held`. `false` when it was in another state.
pub async fn claim(db: &impl ConnectionTrait, id: MessageId) -> Result<bool, StoreError> {
    let at = now();
    let res = message::Entity::update_many()
        .col_expr(
            message::Column::Status,
            Expr::value(MessageStatus::Sending.as_str()),
        )
        .col_expr(message::Column::ClaimedAt, Expr::value(Some(at)))
        .col_expr(message::Column::UpdatedAt, Expr::value(at))
        .col_expr(
            message::Column::Attempts,
            Expr::col(message::Column::Attempts).add(1),
        )
        .filter(message::Column::Id.eq(id.as_uuid()))
        .filter(
            message::Column::Status
                .is_in([MessageStatus::Queued.as_str(), MessageStatus::Held.as_str()]),
        )
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Another try of a message found in `sending` after a crash.
pub async fn count_attempt(db: &impl ConnectionTrait, id: MessageId) -> Result<(), StoreError> {
    message::Entity::update_many()
        .col_expr(
            message::Column::Attempts,
            Expr::col(message::Column::Attempts).add(1),
        )
        .col_expr(message::Column::ClaimedAt, Expr::value(Some(now())))
        .filter(message::Column::Id.eq(id.as_uuid()))
        .exec(db)
        .await?;
    Ok(())
}

/// What happened to a message, as one update.
#[derive(Debug, Clone, Default)]
pub struct Outcome<'a> {
    pub provider_id: Option<&'a str>,
    pub from_address: Option<&'a str>,
    pub error_code: Option<&'a str>,
    pub error_message: Option<&'a str>,
    pub held_until: Option<DateTime<Utc>>,
    pub hold_reason: Option<&'a str>,
}

/// Moves a message to `to` unless it already stands at a later state (a
/// late "sent" receipt never undoes "delivered"). `true` if it moved.
pub async fn advance(
    db: &impl ConnectionTrait,
    current: &Message,
    to: MessageStatus,
    o: Outcome<'_>,
) -> Result<bool, StoreError> {
    let from = MessageStatus::parse(&current.status).unwrap_or(MessageStatus::Queued);
    let resend = from == MessageStatus::Failed && to == MessageStatus::Queued;
    if from == to || (to.rank() < from.rank() && !resend && to != MessageStatus::Held) {
        return Ok(false);
    }
    let at = now();
    let mut row = current.clone().into_active_model();
    row.status = Set(to.as_str().to_owned());
    row.updated_at = Set(at);
    if let Some(p) = o.provider_id {
        row.provider_id = Set(Some(p.to_owned()));
    }
    if let Some(f) = o.from_address {
        row.from_address = Set(Some(f.to_owned()));
    }
    match to {
        // Once out, the only copy of a customer link is the customer's.
        MessageStatus::Sent => {
            row.sent_at = Set(current.sent_at.or(Some(at)));
            row.outgoing_body = Set(None);
        }
        MessageStatus::Delivered => {
            row.sent_at = Set(current.sent_at.or(Some(at)));
            row.delivered_at = Set(Some(at));
            row.outgoing_body = Set(None);
        }
        _ => {}
    }
    if to == MessageStatus::Failed || o.error_code.is_some() {
        row.error_code = Set(o.error_code.map(str::to_owned));
        row.error_message = Set(o.error_message.map(str::to_owned));
    }
    if to == MessageStatus::Queued {
        row.error_code = Set(None);
        row.error_message = Set(None);
        row.held_until = Set(None);
        row.hold_reason = Set(None);
    }
    if to == MessageStatus::Held {
        row.held_until = Set(o.held_until);
        row.hold_reason = Set(o.hold_reason.map(str::to_owned));
    }
    // Guard against a concurrent change: update only from the state read.
    let res = message::Entity::update_many()
        .set(row)
        .filter(message::Column::Id.eq(current.id))
        .filter(message::Column::Status.eq(current.status.as_str()))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Records an error on a message that will be tried again (stays where it
/// is, usually `sending`), so staff see why it is late.
pub async fn note_error(
    db: &impl ConnectionTrait,
    id: MessageId,
    code: &str,
    reason: &str,
) -> Result<(), StoreError> {
    message::Entity::update_many()
        .col_expr(message::Column::ErrorCode, Expr::value(Some(code)))
        .col_expr(message::Column::ErrorMessage, Expr::value(Some(reason)))
        .col_expr(message::Column::UpdatedAt, Expr::value(now()))
        .filter(message::Column::Id.eq(id.as_uuid()))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn of_ticket(
    db: &impl ConnectionTrait,
    shop: ShopId,
    ticket: TicketId,
) -> Result<Vec<Message>, StoreError> {
    Ok(message::Entity::find()
        .in_shop(shop)
        .filter(message::Column::TicketId.eq(ticket.as_uuid()))
        .order_by_asc(message::Column::Id)
        .limit(500)
        .all(db)
        .await?)
}

/// The newest outbound message of each of `tickets` (the dashboard shows
/// where each ticket's last text or e-mail stands). Looks at the newest
/// 1,000 outbound messages of those tickets.
pub async fn latest_outbound_of_tickets(
    db: &impl ConnectionTrait,
    shop: ShopId,
    tickets: &[uuid::Uuid],
) -> Result<Vec<Message>, StoreError> {
    if tickets.is_empty() {
        return Ok(vec![]);
    }
    let rows = message::Entity::find()
        .in_shop(shop)
        .filter(message::Column::TicketId.is_in(tickets.iter().copied()))
        .filter(message::Column::Direction.eq(Direction::Outbound.as_str()))
        .order_by_desc(message::Column::Id)
        .limit(1_000)
        .all(db)
        .await?;
    let mut seen = std::collections::HashSet::new();
    Ok(rows
        .into_iter()
        .filter(|m| m.ticket_id.is_some_and(|t| seen.insert(t)))
        .collect())
}

/// The newest message of each of `customers` (the inbox list), from their
/// newest 1,000 messages; a customer whose last message is older than
/// those is looked up alone.
pub async fn latest_of_customers(
    db: &impl ConnectionTrait,
    shop: ShopId,
    customers: &[uuid::Uuid],
) -> Result<Vec<Message>, StoreError> {
    if customers.is_empty() {
        return Ok(vec![]);
    }
    let rows = message::Entity::find()
        .in_shop(shop)
        .filter(message::Column::CustomerId.is_in(customers.iter().copied()))
        .order_by_desc(message::Column::Id)
        .limit(1_000)
        .all(db)
        .await?;
    let mut seen = std::collections::HashSet::new();
    let mut out: Vec<Message> = rows
        .into_iter()
        .filter(|m| m.customer_id.is_some_and(|c| seen.insert(c)))
        .collect();
    for c in customers.iter().filter(|c| !seen.contains(*c)) {
        out.extend(recent_of_customer(db, shop, CustomerId::from_uuid(*c), 1).await?);
    }
    Ok(out)
}

/// A customer's whole conversation, across tickets, newest page last.
pub async fn of_customer(
    db: &impl ConnectionTrait,
    shop: ShopId,
    customer: CustomerId,
    page: PageRequest,
) -> Result<Page<Message>, StoreError> {
    let mut q = message::Entity::find()
        .in_shop(shop)
        .filter(message::Column::CustomerId.eq(customer.as_uuid()))
        .order_by_asc(message::Column::Id);
    if let Some(after) = page.after {
        q = q.filter(message::Column::Id.gt(after));
    }
    let rows = q.limit(page.limit + 1).all(db).await?;
    Ok(page.finish(rows, |m| m.id))
}

/// The last `n` messages of a customer, oldest first (the chat log view).
pub async fn recent_of_customer(
    db: &impl ConnectionTrait,
    shop: ShopId,
    customer: CustomerId,
    n: u64,
) -> Result<Vec<Message>, StoreError> {
    let mut rows = message::Entity::find()
        .in_shop(shop)
        .filter(message::Column::CustomerId.eq(customer.as_uuid()))
        .order_by_desc(message::Column::Id)
        .limit(n)
        .all(db)
        .await?;
    rows.reverse();
    Ok(rows)
}

/// SMS segments a shop sent in `month` (`YYYY-MM`, UTC).
pub async fn sms_segments_in(
    db: &impl ConnectionTrait,
    shop: ShopId,
    month: &str,
) -> Result<i64, StoreError> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => "SELECT segments FROM sms_usage WHERE shop_id = $1 AND month = $2",
        _ => "SELECT segments FROM sms_usage WHERE shop_id = ? AND month = ?",
    };
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [shop.as_uuid().into(), month.into()],
        ))
        .await?;
    Ok(row
        .map(|r| r.try_get::<i64>("", "segments"))
        .transpose()?
        .unwrap_or(0))
}

/// Takes `segments` from the shop's monthly allowance if they fit under
/// `limit` (none: unlimited), in one conditional update, so concurrent
/// senders can never go past it together. `false` when they do not fit.
pub async fn reserve_sms_segments(
    db: &impl ConnectionTrait,
    shop: ShopId,
    month: &str,
    segments: i64,
    limit: Option<i64>,
) -> Result<bool, StoreError> {
    let backend = db.get_database_backend();
    let pg = backend == DbBackend::Postgres;
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        if pg {
            "INSERT INTO sms_usage (shop_id, month, segments) VALUES ($1, $2, 0) ON CONFLICT (shop_id, month) DO NOTHING"
        } else {
            "INSERT INTO sms_usage (shop_id, month, segments) VALUES (?, ?, 0) ON CONFLICT (shop_id, month) DO NOTHING"
        },
        [shop.as_uuid().into(), month.into()],
    ))
    .await?;
    let limit = limit.unwrap_or(i64::MAX);
    let res = db
        .execute_raw(Statement::from_sql_and_values(
            backend,
            if pg {
                "UPDATE sms_usage SET segments = segments + $3 WHERE shop_id = $1 AND month = $2 AND segments + $3 <= $4"
            } else {
                "UPDATE sms_usage SET segments = segments + ?3 WHERE shop_id = ?1 AND month = ?2 AND segments + ?3 <= ?4"
            },
            [
                shop.as_uuid().into(),
                month.into(),
                segments.into(),
                limit.into(),
            ],
        ))
        .await?;
    Ok(res.rows_affected() == 1)
}

/// Gives segments back (a text the provider refused for good).
pub async fn release_sms_segments(
    db: &impl ConnectionTrait,
    shop: ShopId,
    month: &str,
    segments: i64,
) -> Result<(), StoreError> {
    let backend = db.get_database_backend();
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        if backend == DbBackend::Postgres {
            "UPDATE sms_usage SET segments = GREATEST(segments - $3, 0) WHERE shop_id = $1 AND month = $2"
        } else {
            "UPDATE sms_usage SET segments = MAX(segments - ?3, 0) WHERE shop_id = ?1 AND month = ?2"
        },
        [shop.as_uuid().into(), month.into(), segments.into()],
    ))
    .await?;
    Ok(())
}

/// The shop that last texted `customer_phone` from `sender`: an inbound
/// text to a shared platform number belongs to that conversation.
pub async fn shop_last_texting(
    db: &impl ConnectionTrait,
    customer_phone: &str,
    sender: &str,
) -> Result<Option<ShopId>, StoreError> {
    Ok(message::Entity::find()
        .filter(message::Column::Channel.eq(Channel::Sms.as_str()))
        .filter(message::Column::Direction.eq(Direction::Outbound.as_str()))
        .filter(message::Column::ToAddress.eq(customer_phone))
        .filter(message::Column::FromAddress.eq(sender))
        .order_by_desc(message::Column::Id)
        .one(db)
        .await?
        .map(|m| ShopId::from_uuid(m.shop_id)))
}

// ----- threads -----

/// The customer's thread moved on: created on its first message, else its
/// last message time (and, for an inbound one, the unread mark) updated.
/// For a [`crate::batch::Batch`]: the row and its conflict clause.
pub fn thread_touch(
    shop: ShopId,
    customer: CustomerId,
    at: DateTime<Utc>,
    inbound: bool,
) -> (message_thread::ActiveModel, &'static str) {
    let row = message_thread::ActiveModel {
        id: Set(ThreadId::new().as_uuid()),
        shop_id: Set(shop.as_uuid()),
        customer_id: Set(customer.as_uuid()),
        last_message_at: Set(at),
        last_inbound_at: Set(inbound.then_some(at)),
        unread_since: Set(inbound.then_some(at)),
        assigned_to: Set(None),
        done_at: Set(None),
        created_at: Set(at),
        updated_at: Set(at),
    };
    let on_conflict = if inbound {
        "ON CONFLICT (shop_id, customer_id) DO UPDATE SET \
         last_message_at = excluded.last_message_at, updated_at = excluded.updated_at, \
         last_inbound_at = excluded.last_inbound_at, done_at = excluded.done_at, \
         unread_since = COALESCE(message_threads.unread_since, excluded.unread_since)"
    } else {
        "ON CONFLICT (shop_id, customer_id) DO UPDATE SET \
         last_message_at = excluded.last_message_at, updated_at = excluded.updated_at"
    };
    (row, on_conflict)
}

/// Notes a message in the customer's thread, creating it on first use
/// (one upsert: two messages to a new customer at once make one thread).
/// An inbound message marks the thread unread and reopens it.
pub async fn touch_thread(
    db: &impl ConnectionTrait,
    shop: ShopId,
    customer: CustomerId,
    at: DateTime<Utc>,
    inbound: bool,
) -> Result<(), StoreError> {
    let (row, on_conflict) = thread_touch(shop, customer, at, inbound);
    let mut batch = crate::batch::Batch::new();
    batch.upsert(row, on_conflict);
    batch.run_in(db).await
}

pub async fn thread(
    db: &impl ConnectionTrait,
    shop: ShopId,
    customer: CustomerId,
) -> Result<Option<Thread>, StoreError> {
    Ok(message_thread::Entity::find()
        .in_shop(shop)
        .filter(message_thread::Column::CustomerId.eq(customer.as_uuid()))
        .one(db)
        .await?)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadFilter {
    /// Not marked done.
    Open,
    Unread,
    AssignedTo(UserId),
    Done,
    All,
}

/// Threads, unread first, then by last message, newest first. Seek
/// pagination is by offset here: the order is not the id's.
pub async fn threads(
    db: &impl ConnectionTrait,
    shop: ShopId,
    filter: ThreadFilter,
    offset: u64,
    limit: u64,
) -> Result<(Vec<Thread>, bool), StoreError> {
    let mut q = message_thread::Entity::find().in_shop(shop);
    q = match filter {
        ThreadFilter::Open => q.filter(message_thread::Column::DoneAt.is_null()),
        ThreadFilter::Unread => q.filter(message_thread::Column::UnreadSince.is_not_null()),
        ThreadFilter::AssignedTo(u) => q
            .filter(message_thread::Column::AssignedTo.eq(u.as_uuid()))
            .filter(message_thread::Column::DoneAt.is_null()),
        ThreadFilter::Done => q.filter(message_thread::Column::DoneAt.is_not_null()),
        ThreadFilter::All => q,
    };
    let mut rows = q
        .order_by_desc(Expr::col(message_thread::Column::UnreadSince).is_not_null())
        .order_by_desc(message_thread::Column::LastMessageAt)
        .order_by_desc(message_thread::Column::Id)
        .offset(offset)
        .limit(limit + 1)
        .all(db)
        .await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    Ok((rows, more))
}

pub async fn unread_count(db: &impl ConnectionTrait, shop: ShopId) -> Result<u64, StoreError> {
    use sea_orm::PaginatorTrait;
    Ok(message_thread::Entity::find()
        .in_shop(shop)
        .filter(message_thread::Column::UnreadSince.is_not_null())
        .count(db)
        .await?)
}

pub async fn mark_thread_read(
    db: &impl ConnectionTrait,
    shop: ShopId,
    customer: CustomerId,
) -> Result<bool, StoreError> {
    let res = message_thread::Entity::update_many()
        .col_expr(
            message_thread::Column::UnreadSince,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(message_thread::Column::UpdatedAt, Expr::value(now()))
        .in_shop(shop)
        .filter(message_thread::Column::CustomerId.eq(customer.as_uuid()))
        .filter(message_thread::Column::UnreadSince.is_not_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

pub async fn assign_thread(
    db: &impl ConnectionTrait,
    shop: ShopId,
    customer: CustomerId,
    to: Option<UserId>,
) -> Result<(), StoreError> {
    message_thread::Entity::update_many()
        .col_expr(
            message_thread::Column::AssignedTo,
            Expr::value(to.map(|u| u.as_uuid())),
        )
        .col_expr(message_thread::Column::UpdatedAt, Expr::value(now()))
        .in_shop(shop)
        .filter(message_thread::Column::CustomerId.eq(customer.as_uuid()))
        .exec(db)
        .await?;
    Ok(())
}

/// Marks the thread done (and read) or reopens it.
pub async fn set_thread_done(
    db: &impl ConnectionTrait,
    shop: ShopId,
    customer: CustomerId,
    done: bool,
) -> Result<(), StoreError> {
    let at = now();
    let mut q = message_thread::Entity::update_many()
        .col_expr(
            message_thread::Column::DoneAt,
            Expr::value(done.then_some(at)),
        )
        .col_expr(message_thread::Column::UpdatedAt, Expr::value(at));
    if done {
        q = q.col_expr(
            message_thread::Column::UnreadSince,
            Expr::value(Option::<DateTime<Utc>>::None),
        );
    }
    q.in_shop(shop)
        .filter(message_thread::Column::CustomerId.eq(customer.as_uuid()))
        .exec(db)
        .await?;
    Ok(())
}

// ----- consent -----

pub struct NewConsent<'a> {
    pub customer: CustomerId,
    pub channel: Channel,
    /// `opt_out`, `opt_in`, `consent`.
    pub action: &'a str,
    /// `keyword`, `staff`, `pos`.
    pub source: &'a str,
    pub actor: Option<UserId>,
    pub detail: Option<&'a str>,
}

pub async fn record_consent(
    db: &impl ConnectionTrait,
    shop: ShopId,
    c: NewConsent<'_>,
) -> Result<ConsentEvent, StoreError> {
    Ok(consent_event::ActiveModel {
        id: Set(ConsentEventId::new().as_uuid()),
        shop_id: Set(shop.as_uuid()),
        customer_id: Set(c.customer.as_uuid()),
        channel: Set(c.channel.as_str().to_owned()),
        action: Set(c.action.to_owned()),
        source: Set(c.source.to_owned()),
        actor_id: Set(c.actor.map(|u| u.as_uuid())),
        detail: Set(c.detail.map(str::to_owned)),
        created_at: Set(now()),
    }
    .insert(db)
    .await?)
}

pub async fn consent_history(
    db: &impl ConnectionTrait,
    shop: ShopId,
    customer: CustomerId,
) -> Result<Vec<ConsentEvent>, StoreError> {
    Ok(consent_event::Entity::find()
        .in_shop(shop)
        .filter(consent_event::Column::CustomerId.eq(customer.as_uuid()))
        .order_by_asc(consent_event::Column::Id)
        .limit(200)
        .all(db)
        .await?)
}

// ----- templates -----

pub async fn templates(
    db: &impl ConnectionTrait,
    shop: ShopId,
) -> Result<Vec<Template>, StoreError> {
    Ok(message_template::Entity::find()
        .in_shop(shop)
        .all(db)
        .await?)
}

pub async fn template(
    db: &impl ConnectionTrait,
    shop: ShopId,
    kind: &str,
) -> Result<Option<Template>, StoreError> {
    Ok(message_template::Entity::find()
        .in_shop(shop)
        .filter(message_template::Column::Kind.eq(kind))
        .one(db)
        .await?)
}

pub async fn put_template(
    db: &impl ConnectionTrait,
    shop: ShopId,
    kind: &str,
    body: &str,
    by: UserId,
) -> Result<Template, StoreError> {
    let at = now();
    match template(db, shop, kind).await? {
        Some(t) => {
            let mut row = t.into_active_model();
            row.body = Set(body.to_owned());
            row.updated_by = Set(Some(by.as_uuid()));
            row.updated_at = Set(at);
            Ok(row.update(db).await?)
        }
        None => Ok(message_template::ActiveModel {
            id: Set(pitwall_domain::TemplateId::new().as_uuid()),
            shop_id: Set(shop.as_uuid()),
            kind: Set(kind.to_owned()),
            body: Set(body.to_owned()),
            updated_by: Set(Some(by.as_uuid())),
            updated_at: Set(at),
        }
        .insert(db)
        .await?),
    }
}

// ----- send slots -----

/// Reserves the next send slot of a sender number, shared by every worker
/// process: the slot starts at the later of now and the sender's next free
/// instant, and the sender's next free instant moves one `interval` on.
/// `None` when the next slot is further than `horizon` away (the caller
/// waits and asks again rather than hold a slot it may not live to use).
pub async fn reserve_send_slot(
    db: &impl ConnectionTrait,
    sender: &str,
    interval: chrono::Duration,
    horizon: chrono::Duration,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let backend = db.get_database_backend();
    let at = now();
    let p = |pg: &'static str, lite: &'static str| match backend {
        DbBackend::Postgres => pg,
        _ => lite,
    };
    // Make sure the row exists; concurrent inserts of the same sender are
    // harmless.
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        p(
            "INSERT INTO sender_slots (sender, next_at) VALUES ($1, $2) ON CONFLICT (sender) DO NOTHING",
            "INSERT INTO sender_slots (sender, next_at) VALUES (?, ?) ON CONFLICT (sender) DO NOTHING",
        ),
        [sender.into(), at.into()],
    ))
    .await?;
    // One atomic statement: the row lock orders concurrent reservations.
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            p(
                "UPDATE sender_slots SET next_at = GREATEST(next_at, $2) + $3 * INTERVAL '1 microsecond' \
                 WHERE sender = $1 AND next_at < $4 RETURNING next_at",
                "UPDATE sender_slots SET next_at = strftime('%Y-%m-%dT%H:%M:%f', MAX(julianday(next_at), julianday(?2)) + ?3 / 86400000000.0) || '+00:00' \
                 WHERE sender = ?1 AND julianday(next_at) < julianday(?4) RETURNING next_at",
            ),
            [
                sender.into(),
                at.into(),
                interval.num_microseconds().unwrap_or(i64::MAX).into(),
                (at + horizon).into(),
            ],
        ))
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let next: DateTime<Utc> = row.try_get("", "next_at")?;
    Ok(Some(next - interval))
}

/// The carrier reported the customer's number as unsubscribed (Twilio
/// 21610: they replied STOP, perhaps before Pitwall knew them): the
/// customer is opted out of texts and the consent log says why. Written in
/// the caller's transaction, before the message is marked failed, so whoever
/// sees that failure also sees the opt-out. The one place this rule lives:
/// the sending worker and the delivery receipt both call it.
pub async fn record_carrier_opt_out(
    db: &impl ConnectionTrait,
    shop: ShopId,
    customer: CustomerId,
) -> Result<(), StoreError> {
    crate::customers::set_opt_out(db, shop, customer, Some(true), None).await?;
    record_consent(
        db,
        shop,
        NewConsent {
            customer,
            channel: Channel::Sms,
            action: "opt_out",
            source: "carrier",
            actor: None,
            detail: Some("the carrier reported the number as unsubscribed (21610)"),
        },
    )
    .await?;
    Ok(())
}

pub use crate::entities::message_attachment::Model as Attachment;

/// Adds a file to a queued message, in the caller's transaction (the one
/// that queued it).
pub async fn attach(
    db: &impl ConnectionTrait,
    shop: ShopId,
    message: MessageId,
    file_name: &str,
    content_type: &str,
    content: Vec<u8>,
) -> Result<(), StoreError> {
    use crate::entities::message_attachment as a;
    use sea_orm::{ActiveModelTrait, Set};
    a::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        shop_id: Set(shop.as_uuid()),
        message_id: Set(message.as_uuid()),
        file_name: Set(file_name.to_owned()),
        content_type: Set(content_type.to_owned()),
        content: Set(content),
        created_at: Set(now()),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The files sent with a message, in the order they were added.
pub async fn attachments(
    db: &impl ConnectionTrait,
    shop: ShopId,
    message: MessageId,
) -> Result<Vec<Attachment>, StoreError> {
    use crate::entities::message_attachment as a;
    Ok(a::Entity::find()
        .in_shop(shop)
        .filter(a::Column::MessageId.eq(message.as_uuid()))
        .order_by_asc(a::Column::Id)
        .all(db)
        .await?)
}
