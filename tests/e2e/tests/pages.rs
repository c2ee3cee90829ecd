//! The pages over HTTP: sessions, CSRF, navigation by permission, feature
//! and permission refusals in words, the admin console.

use pitwall_core::domain::{PlatformRole, Role};
use pitwall_testkit::{PASSWORD, StatusCode, TestApp, both_backends};

/// A browser-like client with its own cookie jar.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn sign_in(t: &TestApp, c: &reqwest::Client, email: &str) {
    let r = c
        .post(t.url("/login"))
        .form(&[("email", email), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "sign-in of {email}");
    assert_eq!(r.headers()["location"], "/app");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
}

async fn page(t: &TestApp, c: &reqwest::Client, path: &str) -> (StatusCode, String) {
    let r = c.get(t.url(path)).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

fn csrf_of(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token");
    html[at + 19..].split('"').next().unwrap().to_owned()
}

both_backends!(sign_in_navigation_and_csrf, async |t: &TestApp| {
    let (shop, _) = t.shop("page-shop", "starter").await;
    t.member(shop, "tech@page.test", Role::Technician).await;

    // Wrong password: the form again, with the reason, 401.
    let c = browser();
    let r = c
        .post(t.url("/login"))
        .form(&[
            ("email", "owner@page-shop.test"),
            ("password", "not the password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.text().await.unwrap().contains("wrong e-mail or password"));

    // A sign-in form posted from another site is refused.
    let r = c
        .post(t.url("/login"))
        .header("origin", "https://evil.example")
        .form(&[("email", "owner@page-shop.test"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Signed out, /app sends you to sign in.
    let (s, _) = page(t, &c, "/app").await;
    assert_eq!(s, StatusCode::SEE_OTHER);

    sign_in(t, &c, "owner@page-shop.test").await;
    let (s, home) = page(t, &c, "/app").await;
    assert_eq!(s, StatusCode::OK);
    for nav in ["nav-users", "nav-roles", "nav-settings", "nav-api-keys"] {
        assert!(home.contains(nav), "owner should see {nav}");
    }
    assert!(!home.contains("nav-admin"));

    // A form post without the session's CSRF token changes nothing.
    let r = c
        .post(t.url("/app/users/invite"))
        .form(&[
            ("email", "x@page.test"),
            ("role", "viewer"),
            ("csrf", "forged"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let (_, users) = page(t, &c, "/app/users").await;
    assert!(!users.contains("x@page.test"));
    let csrf = csrf_of(&users);
    let r = c
        .post(t.url("/app/users/invite"))
        .form(&[
            ("email", "x@page.test"),
            ("role", "viewer"),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let next = r.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(next, "/app/users?ok=invited");
    let (_, users) = page(t, &c, &next).await;
    assert!(users.contains("x@page.test") && users.contains("Invitation sent."));

    // Branding is not in Starter: the page says so in words.
    let (_, settings) = page(t, &c, "/app/settings").await;
    let csrf = csrf_of(&settings);
    let r = c
        .post(t.url("/app/settings"))
        .form(&[
            ("name", "Page Shop"),
            ("time_zone", "America/Chicago"),
            ("primary_color", "#123456"),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let text = r.text().await.unwrap();
    assert!(text.contains("Your plan does not include your logo and colours on customer pages. The pro plan has it."), "{text}");
    // A bad time zone is named on the form.
    let r = c
        .post(t.url("/app/settings"))
        .form(&[
            ("name", "Page Shop"),
            ("time_zone", "Mars/Base"),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("time zone: must be an IANA time zone")
    );

    // Signing out ends the session.
    let r = c
        .post(t.url("/logout"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(page(t, &c, "/app").await.0, StatusCode::SEE_OTHER);

    // A technician sees little, and typed-in pages answer 403 in words.
    let tech = browser();
    sign_in(t, &tech, "tech@page.test").await;
    let (_, home) = page(t, &tech, "/app").await;
    for nav in ["nav-users", "nav-settings", "nav-api-keys", "nav-admin"] {
        assert!(!home.contains(nav), "technician must not see {nav}");
    }
    let (s, body) = page(t, &tech, "/app/users").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(body.contains("users.view"));
    let (s, _) = page(t, &tech, "/admin").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
});

both_backends!(
    admin_console_creates_a_shop_and_switches_a_feature,
    async |t: &TestApp| {
        t.platform("console@platform.test", PlatformRole::Support)
            .await;
        let c = browser();
        sign_in(t, &c, "console@platform.test").await;
        // Platform staff without a shop land in the console.
        let (s, _) = page(t, &c, "/app").await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let (s, form) = page(t, &c, "/admin/shops/new").await;
        assert_eq!(s, StatusCode::OK);
        let csrf = csrf_of(&form);
        let r = c
            .post(t.url("/admin/shops/new"))
            .form(&[
                ("name", "Console Garage"),
                ("slug", "Bad Slug"),
                ("plan", "starter"),
                ("owner_email", "boss@console.test"),
                ("csrf", &csrf),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.text().await.unwrap().contains("slug: may contain only"));
        let r = c
            .post(t.url("/admin/shops/new"))
            .form(&[
                ("name", "Console Garage"),
                ("slug", "console-garage"),
                ("plan", "starter"),
                ("owner_email", "boss@console.test"),
                ("csrf", &csrf),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let shop_page = r.headers()["location"]
            .to_str()
            .unwrap()
            .split('?')
            .next()
            .unwrap()
            .to_owned();
        let (_, detail) = page(t, &c, &shop_page).await;
        assert!(detail.contains("Console Garage"));
        let r = c
            .post(t.url(&format!("{shop_page}/features/custom_branding")))
            .form(&[("state", "on"), ("reason", "sales trial"), ("csrf", &csrf)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let (_, detail) = page(t, &c, &shop_page).await;
        assert!(
            detail.contains("forced on") && detail.contains("sales trial"),
            "{detail}"
        );
        let (_, audit) = page(t, &c, "/admin/audit").await;
        assert!(audit.contains("feature.override") && audit.contains("shop.create"));
        let (s, _) = page(t, &c, "/admin/jobs").await;
        assert_eq!(s, StatusCode::OK);
    }
);

both_backends!(
    ticket_pages_set_status_comment_and_gate,
    async |t: &TestApp| {
        let (shop, owner_token) = t.shop("tix-pages", "premium").await;
        let (_, key) = t
            .post(
                "/api/v1/api-keys",
                &owner_token,
                serde_json::json!({"name": "POS"}),
            )
            .await;
        let key = key["secret"].as_str().unwrap().to_owned();
        let (s, pushed) = t
            .call(
                "PUT",
                "/api/pos/v1/tickets/PG-1",
                Some(&key),
                Some(serde_json::json!({
                    "kind": "workorder", "number": "7777", "pos_updated_at": "2026-11-23T10:00:00Z",
                    "customer": {"last_name": "Pagefield", "phone": "(512) 555-0144"},
                    "vehicle": {"make": "Volvo", "model": "XC60", "year": 2017, "plate": "PGE-1"},
                })),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{pushed}");
        let id = pushed["ticket"]["id"].as_str().unwrap().to_owned();
        t.member(shop, "adv@tix-pages.test", Role::Advisor).await;
        let c = browser();
        sign_in(t, &c, "adv@tix-pages.test").await;

        // The dashboard lists it; search finds it by phone in another format.
        let (s, html) = page(t, &c, "/app/dashboard").await;
        assert_eq!(s, StatusCode::OK);
        assert!(
            html.contains("#7777") && html.contains("Pagefield"),
            "{html}"
        );
        assert!(html.contains("data-events=\"/app/events\""));
        let (_, html) = page(t, &c, "/app/tickets?q=512.555.0144").await;
        assert!(html.contains("#7777"));
        let (_, html) = page(t, &c, "/app/tickets?q=nobody-like-this").await;
        assert!(!html.contains("#7777"));

        // Set a status from the ticket page: a CSRF-less post changes nothing.
        let (_, html) = page(t, &c, &format!("/app/tickets/{id}")).await;
        let csrf = csrf_of(&html);
        let ready = {
            let at = html.find("Ready for pickup").unwrap();
            let before = &html[..at];
            let v = before.rfind("value=\"").unwrap();
            before[v + 7..].split('"').next().unwrap().to_owned()
        };
        let r = c
            .post(t.url(&format!("/app/tickets/{id}/status")))
            .form(&[("status_id", ready.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let r = c
            .post(t.url(&format!("/app/tickets/{id}/status")))
            .form(&[("csrf", csrf.as_str()), ("status_id", ready.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let r = c
            .post(t.url(&format!("/app/tickets/{id}/comments")))
            .form(&[
                ("csrf", csrf.as_str()),
                ("body", "Customer will pick up at 5"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let (_, html) = page(t, &c, &format!("/app/tickets/{id}")).await;
        assert!(html.contains("Customer will pick up at 5"));
        assert!(
            html.contains("Not started → <strong>Ready for pickup</strong>"),
            "{html}"
        );
        // An empty comment is refused in words, on the page.
        let r = c
            .post(t.url(&format!("/app/tickets/{id}/comments")))
            .form(&[("csrf", csrf.as_str()), ("body", "  ")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.text().await.unwrap().contains("body: is required"));

        // Advisors may not edit the message setup; the owner may.
        let (s, _) = page(t, &c, "/app/statuses").await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let o = browser();
        sign_in(t, &o, "owner@tix-pages.test").await;
        let (s, html) = page(t, &o, "/app/statuses").await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("Waiting for parts"));
        let (s, html) = page(t, &o, "/app/sync-health").await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("POS sync health"));

        // Support reads the shop's sync health in the admin console.
        t.platform("support@pitwall.test", PlatformRole::Support)
            .await;
        let a = browser();
        let r = a
            .post(t.url("/login"))
            .form(&[("email", "support@pitwall.test"), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let (s, html) = page(t, &a, &format!("/admin/shops/{shop}/sync-health")).await;
        assert_eq!(s, StatusCode::OK, "{html}");
        assert!(
            html.contains("Shop tix-pages") && html.contains("pk_"),
            "{html}"
        );

        // Starter shops get the plan message instead of the technician queue.
        let (_, _) = t.shop("tix-starter", "starter").await;
        let st = browser();
        sign_in(t, &st, "owner@tix-starter.test").await;
        let (s, html) = page(t, &st, "/app/work").await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        assert!(html.contains("The pro plan has it"), "{html}");
    }
);
