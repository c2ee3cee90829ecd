//! The foundation's whole story on both databases: support creates a shop,
//! the owner accepts the e-mailed invitation, invites staff, changes what a
//! role may do, and support switches on a feature the plan lacks.

use pitwall_core::domain::PlatformRole;
use pitwall_testkit::{Backend, Options, PASSWORD, StatusCode, TestApp, link_in};
use serde_json::json;

async fn story(backend: Backend) {
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
    let support = t
        .platform("support@story.test", PlatformRole::Support)
        .await;
    let (s, created) = t
        .post(
            "/api/admin/v1/shops",
            &support,
            json!({"name": "Story Garage", "slug": "story-garage", "plan": "starter", "owner_email": "owner@story.test"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{created}");
    let shop_id = created["shop"]["id"].as_str().unwrap().to_owned();

    // The owner accepts through the e-mailed link.
    let mail = t.wait_for_mail("owner@story.test").await;
    let token = link_in(&mail, &format!("{}/invitations/", t.base_url))
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let (s, b) = t
        .call(
            "POST",
            "/api/v1/invitations/accept",
            None,
            Some(json!({"token": token, "name": "Olive Owner", "password": PASSWORD})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let owner = b["token"].as_str().unwrap().to_owned();
    let (_, me) = t.get("/api/v1/me", &owner).await;
    assert_eq!(me["role"], "owner");
    assert_eq!(me["shop"]["id"], shop_id);

    // The owner invites staff.
    let (s, b) = t
        .post(
            "/api/v1/invitations",
            &owner,
            json!({"email": "parts@story.test", "role": "parts"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let mail = t.wait_for_mail("parts@story.test").await;
    let token = link_in(&mail, &format!("{}/invitations/", t.base_url))
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let (_, b) = t
        .call(
            "POST",
            "/api/v1/invitations/accept",
            None,
            Some(json!({"token": token, "name": "Pat Parts", "password": PASSWORD})),
        )
        .await;
    let parts = b["token"].as_str().unwrap().to_owned();
    assert_eq!(
        t.get("/api/v1/users", &parts).await.0,
        StatusCode::FORBIDDEN
    );

    // The owner lets the parts role see the staff list.
    let (s, b) = t
        .call(
            "PUT",
            "/api/v1/roles/parts",
            Some(&owner),
            Some(json!({"permissions": ["dashboard.view", "tickets.view", "tickets.comment", "parts.edit", "users.view"]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(t.get("/api/v1/users", &parts).await.0, StatusCode::OK);

    // Support switches on branding, which Starter lacks.
    let branded =
        json!({"name": "Story Garage", "time_zone": "America/Chicago", "accent_color": "#f59e0b"});
    let (s, b) = t
        .call("PUT", "/api/v1/shop", Some(&owner), Some(branded.clone()))
        .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("feature_not_in_plan"))
    );
    let (s, _) = t
        .call(
            "PUT",
            &format!("/api/admin/v1/shops/{shop_id}/features/custom_branding"),
            Some(&support),
            Some(json!({"enabled": true, "reason": "launch offer"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, b) = t
        .call("PUT", "/api/v1/shop", Some(&owner), Some(branded))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    t.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foundation_story_sqlite() {
    story(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foundation_story_postgres() {
    story(Backend::Postgres).await;
}
