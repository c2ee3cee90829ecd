//! Rows read by position instead of by name, for the pages read most (the
//! ticket list and search). sea-orm's derived readers find every column by
//! its name: a hash and a compare per field, and a `format!` per field when
//! the columns carry a join's prefix. On a page of 25 tickets with their
//! services and line items that was about a third of the server's CPU
//! (docs/BENCHMARKS.md, "Rows read by position").
//!
//! Each reader is declared with its model's fields in the entity's order; the
//! same list gives the columns a query selects, so the statement and the
//! reader cannot disagree, and a field left out does not compile.

use std::str::FromStr;

use sea_orm::{
    ConnectionTrait, DbErr, EntityTrait, IdenStatic, QueryResult, QuerySelect, QueryTrait, Select,
};

use crate::StoreError;
use crate::entities::{customer, line_item, ticket, ticket_service, vehicle};

/// A model read from consecutive columns of a row.
pub trait ByPosition: Sized {
    type Entity: EntityTrait;
    /// The columns [`ByPosition::read`] expects, in order.
    fn columns() -> &'static [<Self::Entity as EntityTrait>::Column];
    /// The model whose first column is at `at`.
    fn read(row: &QueryResult, at: usize) -> Result<Self, DbErr>;
}

/// Runs `select` for the columns of `M` and reads each row by position.
pub async fn all<M: ByPosition>(
    db: &impl ConnectionTrait,
    select: Select<M::Entity>,
) -> Result<Vec<M>, StoreError> {
    let statement = select
        .select_only()
        .columns(M::columns().iter().copied())
        .build(db.get_database_backend());
    let rows = db.query_all_raw(statement).await?;
    Ok(rows
        .iter()
        .map(|row| M::read(row, 0))
        .collect::<Result<_, _>>()?)
}

/// `alias."col", ...` for the columns of `M`, for hand-written joins.
pub fn select_list<M: ByPosition>(alias: &str) -> String {
    M::columns()
        .iter()
        .map(|c| format!("{alias}.\"{}\"", c.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn column<C: FromStr>(name: &str) -> C {
    // The names come from the model's own fields (below), never from
    // outside; a misspelt one fails every test that reads a ticket.
    C::from_str(name)
        .unwrap_or_else(|_| panic!("by_position names a column its entity lacks: {name}"))
}

macro_rules! by_position {
    ($module:ident { $($field:ident),* $(,)? }) => {
        impl ByPosition for $module::Model {
            type Entity = $module::Entity;

            fn columns() -> &'static [$module::Column] {
                static COLUMNS: std::sync::OnceLock<Vec<$module::Column>> =
                    std::sync::OnceLock::new();
                COLUMNS.get_or_init(|| vec![$(column(stringify!($field))),*])
            }

            fn read(row: &QueryResult, at: usize) -> Result<Self, DbErr> {
                let mut next = at;
                let mut index = || {
                    next += 1;
                    next - 1
                };
                // Fields are evaluated in the order written: the columns'.
                Ok(Self { $($field: row.try_get_by_index(index())?),* })
            }
        }
    };
}

by_position!(ticket {
    id,
    shop_id,
    external_id,
    kind,
    number,
    customer_id,
    vehicle_id,
    status_id,
    status_changed_at,
    status_due_at,
    advisor_id,
    technician_id,
    priority,
    promised_at,
    closed,
    tax_rate_ppm,
    subtotal,
    tax,
    total,
    currency,
    pos_updated_at,
    version,
    search_text,
    customer_replied_at,
    reply_read_at,
    approved_at,
    approval_seen_at,
    stage,
    stage_changed_at,
    approval_reminded_at,
    created_at,
    updated_at,
});

by_position!(ticket_service {
    id,
    shop_id,
    ticket_id,
    external_id,
    position,
    title,
    status,
    subtotal,
    taxable_subtotal,
    removed,
    source,
    parts_needed,
    parts_status,
    customer_note,
    internal_note,
    ready,
    done_at,
    done_by,
});

by_position!(line_item {
    id,
    shop_id,
    ticket_id,
    service_id,
    position,
    kind,
    description,
    quantity_milli,
    unit_price,
    taxable,
    amount,
    part_number,
});

by_position!(customer {
    id,
    shop_id,
    external_id,
    first_name,
    last_name,
    phone,
    email,
    sms_opt_out,
    email_opt_out,
    sms_consent_at,
    merged_into,
    locale,
    created_at,
    updated_at,
});

by_position!(vehicle {
    id,
    shop_id,
    customer_id,
    external_id,
    vin,
    year,
    make,
    model,
    plate,
    mileage,
    created_at,
    updated_at,
});

#[cfg(test)]
mod tests {
    use sea_orm::Iterable;

    use super::*;

    fn names<M: ByPosition>() -> Vec<&'static str> {
        M::columns().iter().map(|c| c.as_str()).collect()
    }

    fn entity_names<E: EntityTrait>() -> Vec<&'static str> {
        E::Column::iter().map(|c| c.as_str()).collect()
    }

    #[test]
    fn readers_select_every_column_in_the_entitys_order() {
        // Joined reads find a row's id at the model's first column.
        for first in [
            names::<ticket::Model>()[0],
            names::<ticket_service::Model>()[0],
            names::<line_item::Model>()[0],
            names::<customer::Model>()[0],
            names::<vehicle::Model>()[0],
        ] {
            assert_eq!(first, "id");
        }
        assert_eq!(names::<ticket::Model>(), entity_names::<ticket::Entity>());
        assert_eq!(
            names::<ticket_service::Model>(),
            entity_names::<ticket_service::Entity>()
        );
        assert_eq!(
            names::<line_item::Model>(),
            entity_names::<line_item::Entity>()
        );
        assert_eq!(
            names::<customer::Model>(),
            entity_names::<customer::Entity>()
        );
        assert_eq!(names::<vehicle::Model>(), entity_names::<vehicle::Entity>());
    }
}
