//! The staff API, `/api/v1`.

use pitwall_core::domain::{ApiKeyId, InvitationId, Permission, ShopProfileInput, UserId};
use pitwall_core::model::PageRequest;
use pitwall_core::{App, members, roles, shops};
use poem::Request;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{OpenApi, Tags};

use crate::auth::{UserToken, actor, requested_shop, shop_ctx};
use crate::body::JsonBody;
use crate::error::{ApiError, ApiResult, invalid};
use crate::models::*;

#[derive(Tags)]
pub enum StaffTags {
    /// Signing in and out.
    Auth,
    /// The signed-in user and their shops.
    Me,
    /// The shop's staff and invitations.
    Users,
    /// What each role may do.
    Roles,
    /// The current shop's profile, plan and features.
    Shop,
    /// POS API keys.
    ApiKeys,
}

pub struct StaffApi;

pub(crate) fn page(cursor: Option<String>, limit: Option<u64>) -> Result<PageRequest, ApiError> {
    PageRequest::parse(cursor.as_deref(), limit).map_err(|(f, m)| invalid(f, m))
}

#[OpenApi(prefix_path = "/api/v1")]
impl StaffApi {
    /// Sign in with e-mail and password; answers a bearer token.
    #[oai(
        path = "/auth/login",
        method = "post",
        tag = "StaffTags::Auth",
        operation_id = "login"
    )]
    async fn login(
        &self,
        app: Data<&App>,
        req: &Request,
        body: JsonBody<LoginRequest>,
    ) -> ApiResult<TokenResponse> {
        let s = pitwall_core::auth::login(
            &app,
            &body.0.email,
            &body.0.password,
            crate::client_addr(req),
            pitwall_core::auth::Kind::Api,
        )
        .await?;
        Ok(Json(TokenResponse {
            token: s.token,
            expires_at: s.expires_at,
        }))
    }

    /// Revoke the token this request carries.
    #[oai(
        path = "/auth/logout",
        method = "post",
        tag = "StaffTags::Auth",
        operation_id = "logout"
    )]
    async fn logout(&self, app: Data<&App>, auth: UserToken) -> ApiResult<Accepted> {
        actor(&app, &auth).await?;
        pitwall_core::auth::logout(&app, &auth.0.token).await?;
        Ok(Json(Accepted { ok: true }))
    }

    /// Ask for a password-reset e-mail. Answers the same whether or not the
    /// address has an account.
    #[oai(
        path = "/auth/password-reset",
        method = "post",
        tag = "StaffTags::Auth",
        operation_id = "request_password_reset"
    )]
    async fn request_password_reset(
        &self,
        app: Data<&App>,
        req: &Request,
        body: JsonBody<PasswordResetRequest>,
    ) -> ApiResult<Accepted> {
        pitwall_core::auth::request_password_reset(&app, &body.0.email, crate::client_addr(req))
            .await?;
        Ok(Json(Accepted { ok: true }))
    }

    /// Set a new password with the token from the reset e-mail.
    #[oai(
        path = "/auth/password-reset/confirm",
        method = "post",
        tag = "StaffTags::Auth",
        operation_id = "confirm_password_reset"
    )]
    async fn confirm_password_reset(
        &self,
        app: Data<&App>,
        body: JsonBody<PasswordResetConfirm>,
    ) -> ApiResult<Accepted> {
        pitwall_core::auth::reset_password(&app, &body.0.token, &body.0.password).await?;
        Ok(Json(Accepted { ok: true }))
    }

    /// Accept an invitation from its e-mailed token; answers a bearer token.
    #[oai(
        path = "/invitations/accept",
        method = "post",
        tag = "StaffTags::Users",
        operation_id = "accept_invitation"
    )]
    async fn accept_invitation(
        &self,
        app: Data<&App>,
        body: JsonBody<AcceptInvitationRequest>,
    ) -> ApiResult<TokenResponse> {
        let b = body.0;
        let s = members::accept_invitation(
            &app,
            &b.token,
            b.name.as_deref().unwrap_or(""),
            &b.password,
            pitwall_core::auth::Kind::Api,
        )
        .await?;
        Ok(Json(TokenResponse {
            token: s.token,
            expires_at: s.expires_at,
        }))
    }

    /// The signed-in user, the current shop with plan and features, the
    /// user's permissions there, and every shop they belong to.
    #[oai(
        path = "/me",
        method = "get",
        tag = "StaffTags::Me",
        operation_id = "get_me"
    )]
    async fn me(&self, app: Data<&App>, req: &Request, auth: UserToken) -> ApiResult<Me> {
        let actor = actor(&app, &auth).await?;
        let memberships = shops::my_shops(&app, &actor).await?;
        let ctx = if memberships.is_empty() && requested_shop(req)?.is_none() {
            None
        } else {
            Some(app.shop_ctx(&actor, requested_shop(req)?).await?)
        };
        let mut permissions = Vec::new();
        if let Some(ctx) = &ctx {
            for p in Permission::ALL {
                if app.may(ctx, *p).await {
                    permissions.push(p.as_str().to_owned());
                }
            }
        }
        let billing = match &ctx {
            Some(c) => Some(pitwall_core::billing::summary(&app, c).await?.into()),
            None => None,
        };
        Ok(Json(Me {
            billing,
            user: UserSummary {
                id: actor.user_id.as_uuid(),
                email: actor.email.clone(),
                name: actor.name.clone(),
                platform_role: actor.platform_role.map(|r| r.as_str().to_owned()),
            },
            role: ctx.as_ref().map(|c| c.role.as_str().to_owned()),
            shop: ctx.as_ref().map(|c| ShopOut::new(&c.shop, &c.features)),
            permissions,
            shops: memberships
                .iter()
                .map(|(s, r)| ShopMembership {
                    shop_id: s.id,
                    name: s.name.clone(),
                    slug: s.slug.clone(),
                    role: r.as_str().to_owned(),
                })
                .collect(),
        }))
    }

    /// Make another of the user's shops the current one for this token.
    #[oai(
        path = "/me/shop",
        method = "post",
        tag = "StaffTags::Me",
        operation_id = "switch_shop"
    )]
    async fn switch_shop(
        &self,
        app: Data<&App>,
        auth: UserToken,
        body: JsonBody<SwitchShopRequest>,
    ) -> ApiResult<ShopOut> {
        let actor = actor(&app, &auth).await?;
        let shop = pitwall_core::domain::ShopId::from_uuid(body.0.shop_id);
        let ctx = pitwall_core::auth::switch_shop(&app, &actor, shop).await?;
        Ok(Json(ShopOut::new(&ctx.shop, &ctx.features)))
    }

    /// The current shop's staff.
    #[oai(
        path = "/users",
        method = "get",
        tag = "StaffTags::Users",
        operation_id = "list_users"
    )]
    async fn list_users(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        cursor: Query<Option<String>>,
        limit: Query<Option<u64>>,
    ) -> ApiResult<MemberList> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let p = members::list(&app, &ctx, page(cursor.0, limit.0)?).await?;
        Ok(Json(MemberList {
            items: p.items.iter().map(Member::from).collect(),
            next_cursor: p.next_cursor,
        }))
    }

    /// One member of the current shop.
    #[oai(
        path = "/users/:user_id",
        method = "get",
        tag = "StaffTags::Users",
        operation_id = "get_user"
    )]
    async fn get_user(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        user_id: Path<uuid::Uuid>,
    ) -> ApiResult<Member> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let m = members::get(&app, &ctx, UserId::from_uuid(user_id.0)).await?;
        Ok(Json(Member::from(&m)))
    }

    /// Change a member's role.
    #[oai(
        path = "/users/:user_id",
        method = "patch",
        tag = "StaffTags::Users",
        operation_id = "update_user_role"
    )]
    async fn update_user_role(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        user_id: Path<uuid::Uuid>,
        body: JsonBody<ChangeRoleRequest>,
    ) -> ApiResult<Member> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let m =
            members::change_role(&app, &ctx, UserId::from_uuid(user_id.0), &body.0.role).await?;
        Ok(Json(Member::from(&m)))
    }

    /// Remove a member from the shop.
    #[oai(
        path = "/users/:user_id",
        method = "delete",
        tag = "StaffTags::Users",
        operation_id = "remove_user"
    )]
    async fn remove_user(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        user_id: Path<uuid::Uuid>,
    ) -> ApiResult<Accepted> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        members::remove(&app, &ctx, UserId::from_uuid(user_id.0)).await?;
        Ok(Json(Accepted { ok: true }))
    }

    /// Pending invitations.
    #[oai(
        path = "/invitations",
        method = "get",
        tag = "StaffTags::Users",
        operation_id = "list_invitations"
    )]
    async fn list_invitations(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        cursor: Query<Option<String>>,
        limit: Query<Option<u64>>,
    ) -> ApiResult<InvitationList> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let p = members::list_invitations(&app, &ctx, page(cursor.0, limit.0)?).await?;
        Ok(Json(InvitationList {
            items: p.items.iter().map(Invitation::from).collect(),
            next_cursor: p.next_cursor,
        }))
    }

    /// Invite someone by e-mail; the e-mail goes out from a job.
    #[oai(
        path = "/invitations",
        method = "post",
        tag = "StaffTags::Users",
        operation_id = "create_invitation"
    )]
    async fn create_invitation(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        body: JsonBody<InvitationRequest>,
    ) -> ApiResult<Invitation> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let inv = members::invite(&app, &ctx, &body.0.email, &body.0.role).await?;
        Ok(Json(Invitation::from(&inv)))
    }

    /// Revoke a pending invitation.
    #[oai(
        path = "/invitations/:invitation_id",
        method = "delete",
        tag = "StaffTags::Users",
        operation_id = "revoke_invitation"
    )]
    async fn revoke_invitation(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        invitation_id: Path<uuid::Uuid>,
    ) -> ApiResult<Accepted> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        members::revoke_invitation(&app, &ctx, InvitationId::from_uuid(invitation_id.0)).await?;
        Ok(Json(Accepted { ok: true }))
    }

    /// Each role with what it may do in this shop.
    #[oai(
        path = "/roles",
        method = "get",
        tag = "StaffTags::Roles",
        operation_id = "list_roles"
    )]
    async fn list_roles(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
    ) -> ApiResult<RoleList> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let list = roles::list(&app, &ctx).await?;
        Ok(Json(role_list(&list)))
    }

    /// Set exactly what a role may do in this shop (owners only by default).
    #[oai(
        path = "/roles/:role",
        method = "put",
        tag = "StaffTags::Roles",
        operation_id = "update_role_permissions"
    )]
    async fn update_role_permissions(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        role: Path<String>,
        body: JsonBody<RolePermissionsRequest>,
    ) -> ApiResult<Role> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let r = roles::set_permissions(&app, &ctx, &role.0, &body.0.permissions).await?;
        Ok(Json(role_out(&r)))
    }

    /// The current shop: profile, plan, features and quotas.
    #[oai(
        path = "/shop",
        method = "get",
        tag = "StaffTags::Shop",
        operation_id = "get_shop"
    )]
    async fn get_shop(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
    ) -> ApiResult<ShopOut> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        Ok(Json(ShopOut::new(&ctx.shop, &ctx.features)))
    }

    /// Update the shop's name, contact, hours, time zone and branding.
    #[oai(
        path = "/shop",
        method = "put",
        tag = "StaffTags::Shop",
        operation_id = "update_shop"
    )]
    async fn update_shop(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        body: JsonBody<ShopProfileRequest>,
    ) -> ApiResult<ShopOut> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let b = &body.0;
        let saved = shops::update_profile(
            &app,
            &ctx,
            &ShopProfileInput {
                name: &b.name,
                phone: b.phone.as_deref(),
                email: b.email.as_deref(),
                address: b.address.as_deref(),
                hours: b.hours.as_deref(),
                time_zone: &b.time_zone,
                logo_url: b.logo_url.as_deref(),
                primary_color: b.primary_color.as_deref(),
                accent_color: b.accent_color.as_deref(),
            },
        )
        .await?;
        Ok(Json(ShopOut::new(&saved, &ctx.features)))
    }

    /// The shop's POS API keys (never their secrets).
    #[oai(
        path = "/api-keys",
        method = "get",
        tag = "StaffTags::ApiKeys",
        operation_id = "list_api_keys"
    )]
    async fn list_api_keys(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        cursor: Query<Option<String>>,
        limit: Query<Option<u64>>,
    ) -> ApiResult<ApiKeyList> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let p = pitwall_core::api_keys::list(&app, &ctx, page(cursor.0, limit.0)?).await?;
        Ok(Json(ApiKeyList {
            items: p.items.iter().map(ApiKey::from).collect(),
            next_cursor: p.next_cursor,
        }))
    }

    /// Create a POS API key; the secret is in this answer only.
    #[oai(
        path = "/api-keys",
        method = "post",
        tag = "StaffTags::ApiKeys",
        operation_id = "create_api_key"
    )]
    async fn create_api_key(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        body: JsonBody<ApiKeyRequest>,
    ) -> ApiResult<CreatedApiKey> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let k = pitwall_core::api_keys::create(&app, &ctx, &body.0.name).await?;
        Ok(Json(CreatedApiKey {
            key: ApiKey::from(&k.key),
            secret: k.secret,
        }))
    }

    /// Revoke a POS API key at once.
    #[oai(
        path = "/api-keys/:api_key_id",
        method = "delete",
        tag = "StaffTags::ApiKeys",
        operation_id = "revoke_api_key"
    )]
    async fn revoke_api_key(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        api_key_id: Path<uuid::Uuid>,
    ) -> ApiResult<ApiKey> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let k =
            pitwall_core::api_keys::revoke(&app, &ctx, ApiKeyId::from_uuid(api_key_id.0)).await?;
        Ok(Json(ApiKey::from(&k)))
    }
}

pub(crate) fn role_list(list: &[roles::RolePermissions]) -> RoleList {
    RoleList {
        items: list.iter().map(role_out).collect(),
        all_permissions: Permission::ALL
            .iter()
            .map(|p| PermissionInfo {
                name: p.as_str().to_owned(),
                description: p.describe().to_owned(),
            })
            .collect(),
    }
}

fn role_out(r: &roles::RolePermissions) -> Role {
    Role {
        role: r.role.as_str().to_owned(),
        permissions: r
            .permissions
            .iter()
            .map(|p| p.as_str().to_owned())
            .collect(),
        customised: r.customised,
    }
}
