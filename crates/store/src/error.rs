use sea_orm::{DbErr, RuntimeErr, SqlErr};

/// What can go wrong in storage, sorted by what the caller should tell the user.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached right now; try again later (503).
    #[error("database unavailable")]
    Unavailable(#[source] DbErr),
    /// A unique value is taken; `field` names it as the API does.
    #[error("{field} is already taken")]
    Conflict { field: &'static str },
    /// A stored value the code cannot read: a bug or a hand-edited row.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Db(DbErr),
}

impl From<DbErr> for StoreError {
    fn from(err: DbErr) -> Self {
        if is_unavailable(&err) {
            return StoreError::Unavailable(err);
        }
        if let Some(SqlErr::UniqueConstraintViolation(msg)) = err.sql_err() {
            return StoreError::Conflict {
                field: conflict_field(&msg),
            };
        }
        StoreError::Db(err)
    }
}

fn is_unavailable(err: &DbErr) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Query(RuntimeErr::SqlxError(e)) | DbErr::Exec(RuntimeErr::SqlxError(e)) => matches!(
            **e,
            Sqlx::Io(_) | Sqlx::PoolTimedOut | Sqlx::PoolClosed | Sqlx::Tls(_) | Sqlx::Protocol(_)
        ),
        _ => false,
    }
}

/// Maps a unique constraint to the API field it protects. SQLite says
/// "UNIQUE constraint failed: users.email", PostgreSQL names the index.
fn conflict_field(msg: &str) -> &'static str {
    for (needle, field) in [
        ("sms_from", "sms_from"),
        ("invoices", "number"),
        ("external", "external_id"),
        ("slug", "slug"),
        ("memberships", "email"),
        ("email", "email"),
        ("feature", "feature"),
        ("plans", "code"),
    ] {
        if msg.contains(needle) {
            return field;
        }
    }
    "id"
}
