//! The pages over HTTP: sessions, CSRF, navigation by permission, feature
//! and permission refusals in words, the admin console.

use pitwall_core::domain::{PlatformRole, Role};
use pitwall_testkit::pages::{self, browser, csrf_of, fragment, page};
use pitwall_testkit::{PASSWORD, StatusCode, TestApp, both_backends};

/// Signs in through the form and checks where it lands and the cookie.
async fn sign_in(t: &TestApp, c: &reqwest::Client, email: &str) {
    let r = pages::sign_in(t, c, email).await;
    assert_eq!(r.headers()["location"], "/app");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
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

/// A text from `from` to the shop's number, straight into the use case
/// (no provider needed).
async fn text_in(t: &TestApp, from: &str, body: &str) {
    let sid = format!("SM{}", uuid::Uuid::new_v4().simple());
    pitwall_core::messaging::receive_sms(
        &t.app,
        pitwall_core::messaging::InboundSms {
            from,
            to: "+15125550100",
            body,
            provider_id: &sid,
        },
    )
    .await
    .expect("inbound text recorded");
}

async fn customer(t: &TestApp, token: &str, first: &str, phone: &str) -> String {
    let (s, b) = t
        .post(
            "/api/v1/customers",
            token,
            serde_json::json!({"first_name": first, "last_name": "Texter", "phone": phone}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    b["customer"]["id"].as_str().unwrap().to_owned()
}

/// The page after a form: the answer's status and text.
async fn post_form(
    t: &TestApp,
    c: &reqwest::Client,
    path: &str,
    form: &[(&str, &str)],
) -> (StatusCode, String, Option<String>) {
    let r = c.post(t.url(path)).form(form).send().await.unwrap();
    let status = r.status();
    let location = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    (status, r.text().await.unwrap(), location)
}

both_backends!(
    message_pages_inbox_thread_reply_setup_and_gates,
    async |t: &TestApp| {
        let (shop, owner) = t.shop("msg-pages", "pro").await;
        let (s, b) = t.assign_sms_from(shop, Some("+15125550100")).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let bea = customer(t, &owner, "Bea", "+15125550131").await;
        let al = customer(t, &owner, "Al", "+15125550132").await;
        // Bea writes and nobody reads it; Al writes, it is read and
        // answered after Bea wrote: his thread is newer but read.
        text_in(t, "+15125550131", "Is my car ready?").await;
        text_in(t, "+15125550132", "Thanks!").await;
        let (s, _) = t
            .post(
                &format!("/api/v1/threads/{al}/read"),
                &owner,
                serde_json::json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let (s, b) = t
            .post(
                &format!("/api/v1/threads/{al}/messages"),
                &owner,
                serde_json::json!({"channel": "sms", "body": "You're welcome"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");

        // The message center: unread first, with its badge; the nav counts it.
        let c = browser();
        sign_in(t, &c, "owner@msg-pages.test").await;
        let (s, html) = page(t, &c, "/app/messages").await;
        assert_eq!(s, StatusCode::OK, "{html}");
        let at_bea = html
            .find(&format!("data-customer=\"{bea}\""))
            .expect("Bea's thread");
        let at_al = html
            .find(&format!("data-customer=\"{al}\""))
            .expect("Al's thread");
        assert!(at_bea < at_al, "unread first: {html}");
        let bea_row = &html[at_bea..at_al];
        assert!(
            bea_row.contains("data-testid=\"thread-unread\"")
                && bea_row.contains("Bea Texter")
                && bea_row.contains("Is my car ready?")
                && bea_row.contains("From the customer"),
            "{bea_row}"
        );
        assert!(!html[at_al..].contains("data-testid=\"thread-unread\""));
        assert!(
            html.contains("data-testid=\"nav-messages\"")
                && html.contains("data-testid=\"nav-unread\">1<"),
            "{html}"
        );
        let (_, unread_only) = page(t, &c, "/app/messages?filter=unread").await;
        assert!(unread_only.contains(&bea) && !unread_only.contains(&al));
        let (s, _) = page(t, &c, "/app/messages?filter=nonsense").await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        // The live script's fragment is the list only, and reads nothing.
        let (_, rows) = fragment(t, &c, "/app/messages").await;
        assert!(rows.contains("thread-row") && !rows.contains("<html"));

        // A live re-read of the thread page does not mark it read...
        let (s, thread) = fragment(t, &c, &format!("/app/messages/{bea}")).await;
        assert_eq!(s, StatusCode::OK);
        assert!(thread.contains("Is my car ready?"));
        let (_, unread) = t.get("/api/v1/threads?filter=unread", &owner).await;
        assert_eq!(unread["items"].as_array().unwrap().len(), 1, "{unread}");
        // ...opening it does.
        let (s, html) = page(t, &c, &format!("/app/messages/{bea}")).await;
        assert_eq!(s, StatusCode::OK, "{html}");
        assert!(
            html.contains("Is my car ready?")
                && html.contains("+15125550131")
                && html.contains("data-live-src=\"/app/messages/"),
            "{html}"
        );
        let (_, unread) = t.get("/api/v1/threads?filter=unread", &owner).await;
        assert_eq!(unread["items"], serde_json::json!([]), "{unread}");

        // Reply: without the session's CSRF token nothing is sent.
        let reply = format!("/app/messages/{bea}/reply");
        let (s, _, _) = post_form(
            t,
            &c,
            &reply,
            &[("channel", "sms"), ("body", "forged"), ("csrf", "nope")],
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let csrf = csrf_of(&html);
        let (s, _, to) = post_form(
            t,
            &c,
            &reply,
            &[
                ("channel", "sms"),
                ("body", "Yes, ready at 5"),
                ("csrf", &csrf),
            ],
        )
        .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        assert_eq!(
            to.as_deref(),
            Some(format!("/app/messages/{bea}?ok=sent").as_str())
        );
        let (_, th) = t.get(&format!("/api/v1/threads/{bea}"), &owner).await;
        let sent = th["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["body"] == "Yes, ready at 5")
            .unwrap_or_else(|| panic!("the reply is in the thread: {th}"));
        assert_eq!(sent["direction"], "outbound");
        assert_eq!(sent["kind"], "reply");
        assert_eq!(sent["status"], "queued");
        assert!(
            th["messages"]
                .as_array()
                .unwrap()
                .iter()
                .all(|m| m["body"] != "forged")
        );
        let (_, html) = page(t, &c, &format!("/app/messages/{bea}?ok=sent")).await;
        assert!(html.contains("Message queued") && html.contains("Yes, ready at 5"));

        // Assign and mark done, then reopen.
        let (_, me) = t.get("/api/v1/me", &owner).await;
        let owner_id = me["user"]["id"].as_str().expect("my id").to_owned();
        assert!(
            html.contains(&format!("<option value=\"{owner_id}\"")),
            "members listed"
        );
        let (s, _, _) = post_form(
            t,
            &c,
            &format!("/app/messages/{bea}/assign"),
            &[("user_id", &owner_id), ("csrf", &csrf)],
        )
        .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let (_, th) = t.get(&format!("/api/v1/threads/{bea}"), &owner).await;
        assert_eq!(th["assigned_to"], owner_id.as_str(), "{th}");
        let (_, mine) = page(t, &c, "/app/messages?filter=mine").await;
        assert!(mine.contains(&bea) && !mine.contains(&al), "{mine}");
        let (s, _, _) = post_form(
            t,
            &c,
            &format!("/app/messages/{bea}/done"),
            &[("done", "1"), ("csrf", &csrf)],
        )
        .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let (_, th) = t.get(&format!("/api/v1/threads/{bea}"), &owner).await;
        assert_eq!(th["done"], true);
        let (_, done) = page(t, &c, "/app/messages?filter=done").await;
        assert!(done.contains(&bea) && !done.contains(&al));

        // Consent is recorded; after an opt-out a reply is refused in words,
        // on the page, with what was typed kept.
        let (s, _, _) = post_form(
            t,
            &c,
            &format!("/app/messages/{bea}/consent"),
            &[("detail", "Signed at drop-off"), ("csrf", &csrf)],
        )
        .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let (s, _, _) = post_form(
            t,
            &c,
            &format!("/app/messages/{bea}/opt-out"),
            &[("channel", "sms"), ("csrf", &csrf)],
        )
        .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let (_, html) = page(t, &c, &format!("/app/messages/{bea}")).await;
        assert!(
            html.contains("Signed at drop-off") && html.contains("opted out of texts"),
            "{html}"
        );
        let (s, html, _) = post_form(
            t,
            &c,
            &reply,
            &[
                ("channel", "sms"),
                ("body", "One more thing"),
                ("csrf", &csrf),
            ],
        )
        .await;
        assert_eq!(s, StatusCode::CONFLICT);
        assert!(
            html.contains("The customer opted out of texts")
                && html.contains(">One more thing</textarea>"),
            "{html}"
        );

        // Templates: a syntax error is refused on the form, naming the line.
        let (s, html) = page(t, &c, "/app/message-templates").await;
        assert_eq!(s, StatusCode::OK, "{html}");
        assert!(
            html.contains("first_name") && html.contains("Promised time, in your time zone"),
            "{html}"
        );
        assert!(html.contains("data-testid=\"sms-usage\""));
        let (s, html, _) = post_form(
            t,
            &c,
            "/app/message-templates/reminder",
            &[
                ("body", "Hi {{ first_name }},\nyour {{ vehicle car is ready"),
                ("csrf", &csrf),
            ],
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
        let error = html
            .split("data-testid=\"template-error\">")
            .nth(1)
            .expect("the error under the template")
            .split('<')
            .next()
            .unwrap();
        assert!(error.contains("line 2"), "{error}");
        let (_, templates) = t.get("/api/v1/message-templates", &owner).await;
        let reminder = templates["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["kind"] == "reminder")
            .unwrap();
        assert_eq!(reminder["is_default"], true, "nothing saved: {reminder}");
        let (s, _, to) = post_form(
            t,
            &c,
            "/app/message-templates/reminder",
            &[
                ("body", "Hi {{ first_name }}, {{ vehicle }} reminder"),
                ("csrf", &csrf),
            ],
        )
        .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        assert!(to.unwrap().starts_with("/app/message-templates?ok=saved"));

        // Preview: the text with sample data, its encoding and segments.
        let long = format!("Hi {{{{ first_name }}}}, {}", "x".repeat(200));
        let (s, html, _) = post_form(
            t,
            &c,
            "/app/message-templates/link/preview",
            &[("body", &long), ("csrf", &csrf)],
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{html}");
        assert!(html.contains("Hi Sam, xxxx"), "{html}");
        let size = html
            .split("data-testid=\"preview-size\">")
            .nth(1)
            .expect("the preview's size")
            .split("</p>")
            .next()
            .unwrap();
        assert!(
            size.contains("GSM-7")
                && size.contains("208 characters")
                && size.contains("2 segments"),
            "{size}"
        );
        let (s, html, _) = post_form(
            t,
            &c,
            "/app/message-templates/link/preview",
            &[("body", "Your car is ready 🚗"), ("csrf", &csrf)],
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        assert!(
            html.contains("UCS-2") && html.contains("<strong>1 segment</strong>"),
            "{html}"
        );

        // Messaging settings: the sender number is shown, not editable
        // (support assigns it); a forged one is refused; a bad time named.
        let (_, html) = page(t, &c, "/app/message-templates").await;
        assert!(
            html.contains(r#"data-testid="settings-sms-from">+15125550100<"#)
                && !html.contains(r#"name="sms_from""#),
            "{html}"
        );
        let (s, html, _) = post_form(
            t,
            &c,
            "/app/messaging-settings",
            &[
                ("sms_from", "+15125550199"),
                ("quiet_hours_start", "21:00"),
                ("quiet_hours_end", "08:00"),
                ("csrf", &csrf),
            ],
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("assigned by platform support"), "{html}");
        let (_, settings) = t.get("/api/v1/messaging-settings", &owner).await;
        assert_eq!(settings["sms_from"], "+15125550100", "{settings}");
        assert_eq!(settings["quiet_hours_start"], serde_json::Value::Null);
        let (s, _, _) = post_form(
            t,
            &c,
            "/app/messaging-settings",
            &[
                ("quiet_hours_start", "21:00"),
                ("quiet_hours_end", "08:00"),
                ("csrf", &csrf),
            ],
        )
        .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let (_, settings) = t.get("/api/v1/messaging-settings", &owner).await;
        assert_eq!(settings["quiet_hours_start"], "21:00", "{settings}");
        assert_eq!(settings["require_sms_consent"], false);
        let (s, html, _) = post_form(
            t,
            &c,
            "/app/messaging-settings",
            &[
                ("quiet_hours_start", "25:00"),
                ("quiet_hours_end", "08:00"),
                ("csrf", &csrf),
            ],
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("quiet hours start: must be a time"), "{html}");

        // A ticket of Al's: the dashboard's text button opens his thread and
        // turns orange when he writes; the ticket page sends a reminder.
        let (_, key) = t
            .post(
                "/api/v1/api-keys",
                &owner,
                serde_json::json!({"name": "POS"}),
            )
            .await;
        let key = key["secret"].as_str().unwrap().to_owned();
        let (s, pushed) = t
            .call(
                "PUT",
                "/api/pos/v1/tickets/MSG-1",
                Some(&key),
                Some(serde_json::json!({
                    "kind": "workorder", "number": "8801", "pos_updated_at": "2026-11-23T10:00:00Z",
                    "customer": {"last_name": "Texter", "first_name": "Al", "phone": "+15125550132"},
                })),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{pushed}");
        let ticket = pushed["ticket"]["id"].as_str().unwrap().to_owned();
        let board_button = |html: &str| {
            let at = html
                .find(&format!("href=\"/app/messages/{al}\""))
                .expect("the text button links the thread");
            html[at..].split('>').next().unwrap().to_owned()
        };
        let (_, html) = page(t, &c, "/app/dashboard").await;
        assert!(!board_button(&html).contains("unread"), "{html}");
        text_in(t, "+15125550132", "Can I come at 4?").await;
        let (_, html) = fragment(t, &c, "/app/dashboard").await;
        let button = board_button(&html);
        assert!(
            button.contains("text-btn unread") && button.contains("Unread reply from the customer"),
            "{button}"
        );
        let (_, html) = page(t, &c, &format!("/app/tickets/{ticket}")).await;
        assert!(html.contains(&format!("/app/messages/{al}")), "{html}");
        let (s, _, to) = post_form(
            t,
            &c,
            &format!("/app/tickets/{ticket}/reminder"),
            &[("channel", "sms"), ("csrf", &csrf)],
        )
        .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        assert_eq!(to.unwrap(), format!("/app/tickets/{ticket}?ok=reminder"));
        let (_, th) = t.get(&format!("/api/v1/threads/{al}"), &owner).await;
        assert!(
            th["messages"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["kind"] == "reminder"),
            "{th}"
        );
        let _ = page(t, &c, &format!("/app/messages/{al}")).await;
        let (_, html) = page(t, &c, "/app/dashboard").await;
        assert!(!board_button(&html).contains("unread"), "read: {html}");

        // A viewer reads the thread but may not reply: refused in words.
        t.member(shop, "viewer@msg-pages.test", Role::Viewer).await;
        let v = browser();
        sign_in(t, &v, "viewer@msg-pages.test").await;
        let (s, html) = page(t, &v, &format!("/app/messages/{al}")).await;
        assert_eq!(s, StatusCode::OK, "{html}");
        assert!(html.contains("reply-not-allowed") && !html.contains("data-testid=\"reply-form\""));
        let viewer_csrf = csrf_of(&html);
        let (s, html, _) = post_form(
            t,
            &v,
            &format!("/app/messages/{al}/reply"),
            &[
                ("channel", "sms"),
                ("body", "From a viewer"),
                ("csrf", &viewer_csrf),
            ],
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        assert!(
            html.contains("Not allowed") && html.contains("messages.send"),
            "{html}"
        );
        let (_, th) = t.get(&format!("/api/v1/threads/{al}"), &owner).await;
        assert!(
            th["messages"]
                .as_array()
                .unwrap()
                .iter()
                .all(|m| m["body"] != "From a viewer")
        );

        // Support sees the shop's texts this month against its plan.
        t.platform("support@msg-pages.test", PlatformRole::Support)
            .await;
        let a = browser();
        sign_in_platform(t, &a, "support@msg-pages.test").await;
        let (s, html) = page(t, &a, &format!("/admin/shops/{shop}")).await;
        assert_eq!(s, StatusCode::OK, "{html}");
        let usage = html
            .split("data-testid=\"admin-sms-usage\">")
            .nth(1)
            .expect("SMS usage on the admin page")
            .split('<')
            .next()
            .unwrap();
        assert!(usage.contains("of 2000"), "{usage}");

        // Support moves the shop to another number in the console; a number
        // another shop holds is refused, naming the field.
        assert!(
            html.contains(r#"name="sms_from" type="tel" value="+15125550100""#),
            "{html}"
        );
        let csrf = csrf_of(&html);
        let path = format!("/admin/shops/{shop}/sms-from");
        let (s, _, _) = post_form(
            t,
            &a,
            &path,
            &[("csrf", &csrf), ("sms_from", "+15125550111")],
        )
        .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let (_, settings) = t.get("/api/v1/messaging-settings", &owner).await;
        assert_eq!(settings["sms_from"], "+15125550111", "{settings}");
        let (other, _) = t.shop("msg-pages-other", "pro").await;
        let (s, b) = t.assign_sms_from(other, Some("+15125550122")).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let (s, html, _) = post_form(
            t,
            &a,
            &path,
            &[("csrf", &csrf), ("sms_from", "+15125550122")],
        )
        .await;
        assert_eq!(s, StatusCode::CONFLICT, "{html}");
        assert!(html.contains("another shop"), "{html}");
        let (_, settings) = t.get("/api/v1/messaging-settings", &owner).await;
        assert_eq!(settings["sms_from"], "+15125550111", "{settings}");
    }
);

async fn sign_in_platform(t: &TestApp, c: &reqwest::Client, email: &str) {
    let r = c
        .post(t.url("/login"))
        .form(&[("email", email), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "sign-in of {email}");
}

both_backends!(
    with_the_development_sender_staff_can_play_a_customers_reply,
    async |t: &TestApp| {
        let (_, owner) = t.shop("sim-pages", "pro").await;
        let cust = customer(t, &owner, "Cy", "+15125550151").await;
        let c = browser();
        sign_in(t, &c, "owner@sim-pages.test").await;
        let (s, html) = page(t, &c, &format!("/app/messages/{cust}")).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("data-testid=\"simulate-form\""), "{html}");
        let csrf = csrf_of(&html);
        let path = format!("/app/messages/{cust}/simulate-reply");
        let (s, _, to) = post_form(t, &c, &path, &[("csrf", &csrf), ("body", "Is it done?")]).await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        assert!(to.unwrap().ends_with("?ok=simulated"));
        // It took the inbound path: the thread is unread until opened.
        let (_, unread) = t.get("/api/v1/threads?filter=unread", &owner).await;
        assert_eq!(unread["items"][0]["customer_id"], cust.as_str());
        // And keywords work as from a phone.
        let (s, _, _) = post_form(t, &c, &path, &[("csrf", &csrf), ("body", "STOP")]).await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let (_, th) = t.get(&format!("/api/v1/threads/{cust}"), &owner).await;
        assert_eq!(th["customer"]["sms_opt_out"], true, "{th}");
        // Without a CSRF token, nothing.
        let (s, _, _) = post_form(t, &c, &path, &[("body", "forged")]).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
    }
);
