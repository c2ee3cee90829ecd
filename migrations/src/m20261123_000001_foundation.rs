use pitwall_domain::plans::DEFAULT_PLANS;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Shops {
    Table,
    Id,
    Name,
    Slug,
    PlanCode,
    Lifecycle,
    TrialEndsAt,
    TimeZone,
    Phone,
    Email,
    Address,
    Hours,
    LogoUrl,
    PrimaryColor,
    AccentColor,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    Name,
    PasswordHash,
    PlatformRole,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Memberships {
    Table,
    Id,
    ShopId,
    UserId,
    Role,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Invitations {
    Table,
    Id,
    ShopId,
    Email,
    Role,
    TokenHash,
    InvitedBy,
    ExpiresAt,
    AcceptedAt,
    RevokedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum PasswordResets {
    Table,
    Id,
    UserId,
    TokenHash,
    ExpiresAt,
    UsedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    UserId,
    TokenHash,
    Kind,
    ShopId,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    ShopId,
    Name,
    Prefix,
    KeyHash,
    Scopes,
    CreatedBy,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Plans {
    Table,
    Code,
    Name,
    MonthlyPriceCents,
    Position,
    Features,
    MaxUsers,
    SmsPerMonth,
    MaxLocations,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ShopFeatureOverrides {
    Table,
    ShopId,
    Feature,
    Enabled,
    Reason,
    SetBy,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AuditEntries {
    Table,
    Id,
    ShopId,
    ActorUserId,
    Action,
    Target,
    Details,
    CreatedAt,
}

#[derive(DeriveIden)]
enum CasbinRules {
    Table,
    Id,
    Ptype,
    V0,
    V1,
    V2,
    V3,
    V4,
    V5,
}

#[derive(DeriveIden)]
enum AuthzState {
    Table,
    Id,
    Version,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Id,
    ShopId,
    Queue,
    Payload,
    CreatedAt,
    PushedAt,
}

#[derive(DeriveIden)]
enum Emails {
    Table,
    Id,
    ShopId,
    Kind,
    ToAddress,
    Subject,
    BodyText,
    BodyHtml,
    SecretBearing,
    Status,
    Attempts,
    LastError,
    CreatedAt,
    SentAt,
}

#[derive(DeriveIden)]
enum LoginFailures {
    Table,
    Id,
    Key,
    CreatedAt,
}

fn ts(c: impl IntoIden) -> ColumnDef {
    timestamp_with_time_zone(c)
}
fn ts_null(c: impl IntoIden) -> ColumnDef {
    timestamp_with_time_zone_null(c)
}

fn fk(
    name: &str,
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

fn index(name: &str, table: impl IntoIden, cols: &[&'static str]) -> IndexCreateStatement {
    let mut i = Index::create();
    i.name(name).table(table);
    for c in cols {
        i.col(Alias::new(*c));
    }
    i.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Shops::Table)
                .col(pk_uuid(Shops::Id))
                .col(string_len(Shops::Name, 120))
                .col(string_len_uniq(Shops::Slug, 40))
                .col(string_len(Shops::PlanCode, 40))
                .col(string_len(Shops::Lifecycle, 20))
                .col(ts_null(Shops::TrialEndsAt))
                .col(string_len(Shops::TimeZone, 64))
                .col(string_len_null(Shops::Phone, 40))
                .col(string_len_null(Shops::Email, 254))
                .col(string_len_null(Shops::Address, 300))
                .col(text_null(Shops::Hours))
                .col(string_len_null(Shops::LogoUrl, 500))
                .col(string_len_null(Shops::PrimaryColor, 7))
                .col(string_len_null(Shops::AccentColor, 7))
                .col(ts(Shops::CreatedAt))
                .col(ts(Shops::UpdatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Users::Table)
                .col(pk_uuid(Users::Id))
                .col(string_len_uniq(Users::Email, 254))
                .col(string_len(Users::Name, 120))
                .col(string_null(Users::PasswordHash))
                .col(string_len_null(Users::PlatformRole, 40))
                .col(ts(Users::CreatedAt))
                .col(ts(Users::UpdatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Memberships::Table)
                .col(pk_uuid(Memberships::Id))
                .col(uuid(Memberships::ShopId))
                .col(uuid(Memberships::UserId))
                .col(string_len(Memberships::Role, 40))
                .col(ts(Memberships::CreatedAt))
                .foreign_key(&mut fk(
                    "fk_memberships_shop",
                    (Memberships::Table, Memberships::ShopId),
                    (Shops::Table, Shops::Id),
                ))
                .foreign_key(&mut fk(
                    "fk_memberships_user",
                    (Memberships::Table, Memberships::UserId),
                    (Users::Table, Users::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "ux_memberships_shop_user",
                Memberships::Table,
                &["shop_id", "user_id"],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_memberships_user",
            Memberships::Table,
            &["user_id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Invitations::Table)
                .col(pk_uuid(Invitations::Id))
                .col(uuid(Invitations::ShopId))
                .col(string_len(Invitations::Email, 254))
                .col(string_len(Invitations::Role, 40))
                .col(string_len_uniq(Invitations::TokenHash, 64))
                .col(uuid_null(Invitations::InvitedBy))
                .col(ts(Invitations::ExpiresAt))
                .col(ts_null(Invitations::AcceptedAt))
                .col(ts_null(Invitations::RevokedAt))
                .col(ts(Invitations::CreatedAt))
                .foreign_key(&mut fk(
                    "fk_invitations_shop",
                    (Invitations::Table, Invitations::ShopId),
                    (Shops::Table, Shops::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_invitations_shop_id",
            Invitations::Table,
            &["shop_id", "id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(PasswordResets::Table)
                .col(pk_uuid(PasswordResets::Id))
                .col(uuid(PasswordResets::UserId))
                .col(string_len_uniq(PasswordResets::TokenHash, 64))
                .col(ts(PasswordResets::ExpiresAt))
                .col(ts_null(PasswordResets::UsedAt))
                .col(ts(PasswordResets::CreatedAt))
                .foreign_key(&mut fk(
                    "fk_password_resets_user",
                    (PasswordResets::Table, PasswordResets::UserId),
                    (Users::Table, Users::Id),
                ))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Sessions::Table)
                .col(pk_uuid(Sessions::Id))
                .col(uuid(Sessions::UserId))
                .col(string_len_uniq(Sessions::TokenHash, 64))
                .col(string_len(Sessions::Kind, 10))
                .col(uuid_null(Sessions::ShopId))
                .col(ts(Sessions::CreatedAt))
                .col(ts(Sessions::ExpiresAt))
                .col(ts_null(Sessions::RevokedAt))
                .col(ts(Sessions::LastUsedAt))
                .foreign_key(&mut fk(
                    "fk_sessions_user",
                    (Sessions::Table, Sessions::UserId),
                    (Users::Table, Users::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index("ix_sessions_user", Sessions::Table, &["user_id"]))
            .await?;

        m.create_table(
            Table::create()
                .table(ApiKeys::Table)
                .col(pk_uuid(ApiKeys::Id))
                .col(uuid(ApiKeys::ShopId))
                .col(string_len(ApiKeys::Name, 80))
                .col(string_len(ApiKeys::Prefix, 16))
                .col(string_len_uniq(ApiKeys::KeyHash, 64))
                .col(string_len(ApiKeys::Scopes, 200))
                .col(uuid_null(ApiKeys::CreatedBy))
                .col(ts(ApiKeys::CreatedAt))
                .col(ts_null(ApiKeys::LastUsedAt))
                .col(ts_null(ApiKeys::RevokedAt))
                .foreign_key(&mut fk(
                    "fk_api_keys_shop",
                    (ApiKeys::Table, ApiKeys::ShopId),
                    (Shops::Table, Shops::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_api_keys_shop_id",
            ApiKeys::Table,
            &["shop_id", "id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Plans::Table)
                .col(string_len(Plans::Code, 40).primary_key())
                .col(string_len(Plans::Name, 80))
                .col(big_integer(Plans::MonthlyPriceCents))
                .col(integer(Plans::Position))
                .col(text(Plans::Features))
                .col(integer_null(Plans::MaxUsers))
                .col(integer_null(Plans::SmsPerMonth))
                .col(integer_null(Plans::MaxLocations))
                .col(ts(Plans::UpdatedAt))
                .to_owned(),
        )
        .await?;
        let now = chrono::Utc::now();
        for (position, plan) in DEFAULT_PLANS.iter().enumerate() {
            let features: Vec<&str> = plan.features.iter().map(|f| f.as_str()).collect();
            let features = serde_json::to_string(&features)
                .map_err(|e| DbErr::Custom(format!("plan features: {e}")))?;
            let insert = Query::insert()
                .into_table(Plans::Table)
                .columns([
                    Plans::Code,
                    Plans::Name,
                    Plans::MonthlyPriceCents,
                    Plans::Position,
                    Plans::Features,
                    Plans::MaxUsers,
                    Plans::SmsPerMonth,
                    Plans::MaxLocations,
                    Plans::UpdatedAt,
                ])
                .values_panic([
                    plan.code.into(),
                    plan.name.into(),
                    plan.monthly_price_cents.into(),
                    (position as i32).into(),
                    features.into(),
                    plan.max_users.into(),
                    plan.sms_per_month.into(),
                    plan.max_locations.into(),
                    now.into(),
                ])
                .to_owned();
            m.exec_stmt(insert).await?;
        }

        m.create_table(
            Table::create()
                .table(ShopFeatureOverrides::Table)
                .col(uuid(ShopFeatureOverrides::ShopId))
                .col(string_len(ShopFeatureOverrides::Feature, 40))
                .col(boolean(ShopFeatureOverrides::Enabled))
                .col(text(ShopFeatureOverrides::Reason))
                .col(uuid_null(ShopFeatureOverrides::SetBy))
                .col(ts(ShopFeatureOverrides::UpdatedAt))
                .primary_key(
                    Index::create()
                        .col(ShopFeatureOverrides::ShopId)
                        .col(ShopFeatureOverrides::Feature),
                )
                .foreign_key(&mut fk(
                    "fk_feature_overrides_shop",
                    (ShopFeatureOverrides::Table, ShopFeatureOverrides::ShopId),
                    (Shops::Table, Shops::Id),
                ))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(AuditEntries::Table)
                .col(pk_uuid(AuditEntries::Id))
                .col(uuid_null(AuditEntries::ShopId))
                .col(uuid_null(AuditEntries::ActorUserId))
                .col(string_len(AuditEntries::Action, 80))
                .col(string_len_null(AuditEntries::Target, 200))
                .col(text(AuditEntries::Details))
                .col(ts(AuditEntries::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_audit_entries_shop_id",
            AuditEntries::Table,
            &["shop_id", "id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(CasbinRules::Table)
                .col(big_pk_auto(CasbinRules::Id))
                .col(string_len(CasbinRules::Ptype, 12))
                .col(string_len(CasbinRules::V0, 128).default(""))
                .col(string_len(CasbinRules::V1, 128).default(""))
                .col(string_len(CasbinRules::V2, 128).default(""))
                .col(string_len(CasbinRules::V3, 128).default(""))
                .col(string_len(CasbinRules::V4, 128).default(""))
                .col(string_len(CasbinRules::V5, 128).default(""))
                .to_owned(),
        )
        .await?;
        // Policies are loaded per shop (domain): `p` rules keep it in v1,
        // `g` rules in v2.
        m.create_index(index(
            "ix_casbin_rules_p_domain",
            CasbinRules::Table,
            &["v1", "ptype"],
        ))
        .await?;
        m.create_index(index(
            "ix_casbin_rules_g_domain",
            CasbinRules::Table,
            &["v2", "ptype"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(AuthzState::Table)
                .col(integer(AuthzState::Id).primary_key())
                .col(big_integer(AuthzState::Version))
                .to_owned(),
        )
        .await?;
        m.exec_stmt(
            Query::insert()
                .into_table(AuthzState::Table)
                .columns([AuthzState::Id, AuthzState::Version])
                .values_panic([1.into(), 0i64.into()])
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Outbox::Table)
                .col(pk_uuid(Outbox::Id))
                .col(uuid_null(Outbox::ShopId))
                .col(string_len(Outbox::Queue, 60))
                .col(text(Outbox::Payload))
                .col(ts(Outbox::CreatedAt))
                .col(ts_null(Outbox::PushedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_outbox_pushed",
            Outbox::Table,
            &["pushed_at", "id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Emails::Table)
                .col(pk_uuid(Emails::Id))
                .col(uuid_null(Emails::ShopId))
                .col(string_len(Emails::Kind, 40))
                .col(string_len(Emails::ToAddress, 254))
                .col(string_len(Emails::Subject, 300))
                .col(text(Emails::BodyText))
                .col(text_null(Emails::BodyHtml))
                .col(boolean(Emails::SecretBearing))
                .col(string_len(Emails::Status, 20))
                .col(integer(Emails::Attempts))
                .col(text_null(Emails::LastError))
                .col(ts(Emails::CreatedAt))
                .col(ts_null(Emails::SentAt))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_emails_shop_id",
            Emails::Table,
            &["shop_id", "id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(LoginFailures::Table)
                .col(big_pk_auto(LoginFailures::Id))
                .col(string_len(LoginFailures::Key, 100))
                .col(ts(LoginFailures::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_login_failures_key",
            LoginFailures::Table,
            &["key", "created_at"],
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "login_failures",
            "emails",
            "outbox",
            "authz_state",
            "casbin_rules",
            "audit_entries",
            "shop_feature_overrides",
            "plans",
            "api_keys",
            "sessions",
            "password_resets",
            "invitations",
            "memberships",
            "users",
            "shops",
        ] {
            m.drop_table(Table::drop().table(Alias::new(t)).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
