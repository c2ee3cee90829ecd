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
