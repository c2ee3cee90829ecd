//! Sign-in, tokens, invitations and password reset, end to end over HTTP.

use std::time::Duration;

use pitwall_core::domain::{PlatformRole, Role};
use pitwall_store::entities::email;
use pitwall_store::sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use pitwall_testkit::{Backend, Options, PASSWORD, StatusCode, TestApp, both_backends, link_in};
use serde_json::json;

/// The stored record of the e-mail to `to`, once the worker has marked it
/// sent (the file in the outbox appears a moment before that).
async fn mail_record_once_sent(t: &TestApp, to: &str) -> email::Model {
    let mut last = None;
    for _ in 0..300 {
        last = email::Entity::find()
            .filter(email::Column::ToAddress.eq(to))
            .one(&t.db)
            .await
            .expect("reading the e-mail record");
        if last.as_ref().is_some_and(|m| m.status == "sent") {
            return last.expect("checked");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the e-mail to {to} was never marked sent: {last:?}");
}

/// The one-time link's token is in neither part of the stored record.
fn keeps_no_link(record: &email::Model, token: &str) {
    assert!(
        !record.body_text.contains(token),
        "the sent e-mail's record still holds the link: {}",
        record.body_text
    );
    assert!(
        !record
            .body_html
            .as_deref()
            .unwrap_or_default()
            .contains(token),
        "the sent e-mail's HTML record still holds the link: {:?}",
        record.body_html
    );
}

both_backends!(login_logout_and_me, async |t: &TestApp| {
    let (shop, token) = t.shop("login-shop", "starter").await;
    let (s, me) = t.get("/api/v1/me", &token).await;
    assert_eq!(s, StatusCode::OK, "{me}");
    assert_eq!(me["user"]["email"], "owner@login-shop.test");
    assert_eq!(me["shop"]["id"], shop.to_string());
    assert_eq!(me["role"], "owner");
    assert!(
        me["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "roles.manage")
    );

    let (s, body) = t.post("/api/v1/auth/logout", &token, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, body) = t.get("/api/v1/me", &token).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "unauthenticated");
});

both_backends!(wrong_password_is_rate_limited, async |t: &TestApp| {
    t.shop("rate-shop", "starter").await;
    for _ in 0..5 {
        let (s, b) = t
            .call(
                "POST",
                "/api/v1/auth/login",
                None,
                Some(json!({"email": "owner@rate-shop.test", "password": "wrong password!"})),
            )
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{b}");
        assert_eq!(b["code"], "unauthenticated");
    }
    // Even the right password is refused while this address is slowed down
    // (the account itself stays open to other addresses: hardening.rs).
    let (s, b) = t
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "owner@rate-shop.test", "password": PASSWORD})),
        )
        .await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{b}");
    assert_eq!(b["code"], "rate_limited");
    // An unknown address answers like a wrong password.
    let (s, b) = t
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "nobody@rate-shop.test", "password": PASSWORD})),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{b}");
});

async fn invite_and_accept(backend: Backend) {
    let Some(t) = TestApp::spawn_with(
        backend,
        Options {
            workers: true,
            ..Default::default()
        },
    )
    .await
    else {
        return;
    };
    let (_, owner) = t.shop("invite-shop", "pro").await;
    let (s, inv) = t
        .post(
            "/api/v1/invitations",
            &owner,
            json!({"email": "Advisor@Invite-Shop.test", "role": "advisor"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{inv}");
    assert_eq!(inv["email"], "advisor@invite-shop.test");
    let (_, list) = t.get("/api/v1/invitations", &owner).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    let mail = t.wait_for_mail("advisor@invite-shop.test").await;
    assert!(
        mail.contains("Subject: You are invited to Shop invite-shop"),
        "{mail}"
    );
    let link = link_in(&mail, &format!("{}/invitations/", t.base_url));
    let token = link.rsplit('/').next().unwrap().to_owned();

    // Too short a password is refused, naming the field, and changes nothing.
    let (s, b) = t
        .call(
            "POST",
            "/api/v1/invitations/accept",
            None,
            Some(json!({"token": token, "name": "Ada", "password": "short"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["field"], "password");

    let (s, b) = t
        .call(
            "POST",
            "/api/v1/invitations/accept",
            None,
            Some(json!({"token": token, "name": "Ada", "password": PASSWORD})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let advisor = b["token"].as_str().unwrap().to_owned();
    let (_, me) = t.get("/api/v1/me", &advisor).await;
    assert_eq!(me["role"], "advisor");
    assert_eq!(me["user"]["name"], "Ada");

    // Single use.
    let (s, _) = t
        .call(
            "POST",
            "/api/v1/invitations/accept",
            None,
            Some(json!({"token": token, "name": "Eve", "password": PASSWORD})),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // The advisor sees the staff but may not invite.
    let (s, users) = t.get("/api/v1/users", &advisor).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(users["items"].as_array().unwrap().len(), 2);
    let (s, b) = t
        .post(
            "/api/v1/invitations",
            &advisor,
            json!({"email": "x@y.test", "role": "viewer"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    assert_eq!(b["code"], "permission_denied");
    assert_eq!(b["permission"], "users.invite");

    // The e-mail record keeps no usable link once sent.
    let record = mail_record_once_sent(&t, "advisor@invite-shop.test").await;
    keeps_no_link(&record, &token);
    t.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitation_by_email_sqlite() {
    invite_and_accept(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitation_by_email_postgres() {
    invite_and_accept(Backend::Postgres).await;
}

async fn password_reset(backend: Backend) {
    let Some(t) = TestApp::spawn_with(
        backend,
        Options {
            workers: true,
            ..Default::default()
        },
    )
    .await
    else {
        return;
    };
    let (_, old_token) = t.shop("reset-shop", "starter").await;
    let (s, _) = t
        .call(
            "POST",
            "/api/v1/auth/password-reset",
            None,
            Some(json!({"email": "owner@reset-shop.test"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    // Unknown addresses get the same answer.
    let (s, _) = t
        .call(
            "POST",
            "/api/v1/auth/password-reset",
            None,
            Some(json!({"email": "ghost@reset-shop.test"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let mail = t.wait_for_mail("owner@reset-shop.test").await;
    let link = link_in(&mail, &format!("{}/reset-password/", t.base_url));
    let token = link.rsplit('/').next().unwrap().to_owned();
    let record = mail_record_once_sent(&t, "owner@reset-shop.test").await;
    keeps_no_link(&record, &token);
    let (s, b) = t
        .call(
            "POST",
            "/api/v1/auth/password-reset/confirm",
            None,
            Some(json!({"token": token, "password": "a brand new password"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    // Old sessions end; the new password works; the link is spent.
    assert_eq!(
        t.get("/api/v1/me", &old_token).await.0,
        StatusCode::UNAUTHORIZED
    );
    t.login("owner@reset-shop.test", "a brand new password")
        .await;
    let (s, _) = t
        .call(
            "POST",
            "/api/v1/auth/password-reset/confirm",
            None,
            Some(json!({"token": token, "password": "another new password"})),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    t.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_reset_sqlite() {
    password_reset(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_reset_postgres() {
    password_reset(Backend::Postgres).await;
}

both_backends!(multi_shop_user_switches, async |t: &TestApp| {
    let (a, _) = t.shop("switch-a", "starter").await;
    let (b, _) = t.shop("switch-b", "pro").await;
    t.member(a, "multi@switch.test", Role::Manager).await;
    let (_, token) = t.member(b, "multi@switch.test", Role::Viewer).await;
    let (_, me) = t.get("/api/v1/me", &token).await;
    assert_eq!(me["shops"].as_array().unwrap().len(), 2);
    let (s, shop) = t
        .post("/api/v1/me/shop", &token, json!({"shop_id": b.to_string()}))
        .await;
    assert_eq!(s, StatusCode::OK, "{shop}");
    let (_, me) = t.get("/api/v1/me", &token).await;
    assert_eq!(me["shop"]["id"], b.to_string());
    assert_eq!(me["role"], "viewer");
    // The header picks a shop per request.
    let (_, me) = t
        .call_with(
            "GET",
            "/api/v1/me",
            Some(&token),
            None,
            &[("X-Pitwall-Shop", &a.to_string())],
        )
        .await;
    assert_eq!(me["role"], "manager");
    // A shop the user does not belong to does not exist for them.
    let (other, _) = t.shop("switch-c", "starter").await;
    let (s, body) = t
        .post(
            "/api/v1/me/shop",
            &token,
            json!({"shop_id": other.to_string()}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{body}");
    let _ = t
        .platform("unused@platform.test", PlatformRole::Support)
        .await;
});
