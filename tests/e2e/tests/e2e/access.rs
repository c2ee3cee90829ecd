//! Permissions (casbin), plans, features, quotas and the admin API.

use pitwall_core::domain::{Permission, PlatformRole, Role};
use pitwall_testkit::{StatusCode, TestApp, both_backends};
use serde_json::json;

// Every role against a sample of operations: allowed exactly when the
// default matrix says so.
both_backends!(permission_matrix, async |t: &TestApp| {
    let (shop, _) = t.shop("matrix-shop", "premium").await;
    let samples: &[(&str, &str, Option<serde_json::Value>, Permission)] = &[
        ("GET", "/api/v1/users", None, Permission::UsersView),
        ("GET", "/api/v1/invitations", None, Permission::UsersInvite),
        ("GET", "/api/v1/api-keys", None, Permission::ApiKeysManage),
        ("GET", "/api/v1/roles", None, Permission::UsersView),
        (
            "PUT",
            "/api/v1/shop",
            Some(json!({"name": "Matrix", "time_zone": "America/Chicago"})),
            Permission::ShopSettingsManage,
        ),
        (
            "PUT",
            "/api/v1/roles/viewer",
            Some(json!({"permissions": ["dashboard.view", "tickets.view"]})),
            Permission::RolesManage,
        ),
    ];
    for role in Role::ALL {
        let (_, token) = t.member(shop, &format!("{role}@matrix.test"), *role).await;
        for (method, path, body, perm) in samples {
            let (s, b) = t.call(method, path, Some(&token), body.clone()).await;
            let allowed = role.default_permissions().contains(perm);
            if allowed {
                assert_eq!(s, StatusCode::OK, "{role} {method} {path}: {b}");
            } else {
                assert_eq!(s, StatusCode::FORBIDDEN, "{role} {method} {path}: {b}");
                assert_eq!(b["code"], "permission_denied");
                assert_eq!(b["permission"], perm.as_str());
            }
        }
    }
});

both_backends!(
    owner_changes_a_role_and_it_applies_at_once,
    async |t: &TestApp| {
        let (shop, owner) = t.shop("roles-shop", "pro").await;
        let (_, advisor) = t.member(shop, "adv@roles.test", Role::Advisor).await;
        assert_eq!(t.get("/api/v1/users", &advisor).await.0, StatusCode::OK);

        // Take users.view away from advisors, give them users.invite.
        let mut perms: Vec<&str> = Role::Advisor
            .default_permissions()
            .iter()
            .filter(|p| **p != Permission::UsersView)
            .map(|p| p.as_str())
            .collect();
        perms.push("users.invite");
        let (s, role) = t
            .call(
                "PUT",
                "/api/v1/roles/advisor",
                Some(&owner),
                Some(json!({"permissions": perms})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{role}");
        assert_eq!(role["customised"], true);
        assert!(
            !role["permissions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p == "users.view")
        );

        let (s, b) = t.get("/api/v1/users", &advisor).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
        assert_eq!(b["permission"], "users.view");
        assert_eq!(
            t.get("/api/v1/invitations", &advisor).await.0,
            StatusCode::OK
        );

        // Another shop's advisors keep the defaults.
        let (other, _) = t.shop("roles-other", "pro").await;
        let (_, other_adv) = t.member(other, "adv@other.test", Role::Advisor).await;
        assert_eq!(t.get("/api/v1/users", &other_adv).await.0, StatusCode::OK);

        // The owner cannot lock the shop out of role management.
        let (s, b) = t
            .call(
                "PUT",
                "/api/v1/roles/owner",
                Some(&owner),
                Some(json!({"permissions": ["dashboard.view"]})),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(b["field"], "permissions");
        // Unknown permission names are named.
        let (s, b) = t
            .call(
                "PUT",
                "/api/v1/roles/viewer",
                Some(&owner),
                Some(json!({"permissions": ["tickets.view", "fly.plane"]})),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(b["field"], "permissions/1");

        // The change is audited.
        let admin = t
            .platform("audit@platform.test", PlatformRole::Support)
            .await;
        let (_, audit) = t
            .get(&format!("/api/admin/v1/audit?shop_id={shop}"), &admin)
            .await;
        assert!(
            audit["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["action"] == "role.set_permissions")
        );
    }
);

both_backends!(features_follow_plan_and_overrides, async |t: &TestApp| {
    let (shop, owner) = t.shop("feature-shop", "starter").await;
    let branded =
        json!({"name": "Feature Shop", "time_zone": "America/Chicago", "primary_color": "#112233"});
    let (s, b) = t
        .call("PUT", "/api/v1/shop", Some(&owner), Some(branded.clone()))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    assert_eq!(b["code"], "feature_not_in_plan");
    assert_eq!(b["feature"], "custom_branding");
    assert_eq!(b["cheapest_plan"], "pro");
    let (_, shop_now) = t.get("/api/v1/shop", &owner).await;
    assert_eq!(
        shop_now["primary_color"],
        serde_json::Value::Null,
        "nothing changed"
    );

    // Support switches the feature on for this shop only.
    let support = t
        .platform("support@platform.test", PlatformRole::Support)
        .await;
    let path = format!("/api/admin/v1/shops/{shop}/features/custom_branding");
    let (s, b) = t
        .call(
            "PUT",
            &path,
            Some(&support),
            Some(json!({"enabled": true, "reason": ""})),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a reason is required: {b}"
    );
    assert_eq!(b["field"], "reason");
    let (s, b) = t
        .call(
            "PUT",
            &path,
            Some(&support),
            Some(json!({"enabled": true, "reason": "trial of branding"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(
        b["shop"]["features"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "custom_branding")
    );
    let (s, b) = t
        .call("PUT", "/api/v1/shop", Some(&owner), Some(branded.clone()))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["primary_color"], "#112233");

    // Switched off again, even though a plan change would grant it.
    t.call(
        "PUT",
        &format!("/api/admin/v1/shops/{shop}/plan"),
        Some(&support),
        Some(json!({"plan": "pro"})),
    )
    .await;
    t.call(
        "PUT",
        &path,
        Some(&support),
        Some(json!({"enabled": false, "reason": "abuse"})),
    )
    .await;
    let (s, b) = t
        .call("PUT", "/api/v1/shop", Some(&owner), Some(json!({"name": "Feature Shop", "time_zone": "America/Chicago", "primary_color": "#445566"})))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    // Clearing the override hands the decision back to the plan (pro has it).
    let (s, _) = t
        .call(
            "DELETE",
            &format!("{path}?reason=back%20to%20plan"),
            Some(&support),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, b) = t
        .call("PUT", "/api/v1/shop", Some(&owner), Some(json!({"name": "Feature Shop", "time_zone": "America/Chicago", "primary_color": "#445566"})))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");

    // A downgrade takes effect on the next request.
    t.call(
        "PUT",
        &format!("/api/admin/v1/shops/{shop}/plan"),
        Some(&support),
        Some(json!({"plan": "starter"})),
    )
    .await;
    let (s, b) = t
        .call("PUT", "/api/v1/shop", Some(&owner), Some(json!({"name": "Feature Shop", "time_zone": "America/Chicago", "primary_color": "#778899"})))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");

    let (_, audit) = t
        .get(&format!("/api/admin/v1/audit?shop_id={shop}"), &support)
        .await;
    let actions: Vec<_> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        actions.iter().filter(|a| *a == "feature.override").count() >= 3,
        "{actions:?}"
    );
    assert!(actions.iter().any(|a| a == "shop.set_plan"));
});

both_backends!(user_quota_is_enforced, async |t: &TestApp| {
    let (_, owner) = t.shop("quota-shop", "starter").await; // 5 users
    for i in 0..4 {
        let (s, b) = t
            .post(
                "/api/v1/invitations",
                &owner,
                json!({"email": format!("p{i}@quota.test"), "role": "viewer"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    let (s, b) = t
        .post(
            "/api/v1/invitations",
            &owner,
            json!({"email": "p5@quota.test", "role": "viewer"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    assert_eq!(b["code"], "quota_exceeded");
    assert_eq!(b["quota"], "users");
    assert_eq!(b["limit"], 5);
});

both_backends!(
    api_keys_authenticate_only_the_pos_api,
    async |t: &TestApp| {
        let (_, owner) = t.shop("key-shop", "starter").await;
        let (s, k) = t
            .post(
                "/api/v1/api-keys",
                &owner,
                json!({"name": "Front counter POS"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{k}");
        let secret = k["secret"].as_str().unwrap().to_owned();
        assert!(secret.starts_with("pk_"));
        let (s, who) = t.get("/api/pos/v1/whoami", &secret).await;
        assert_eq!(s, StatusCode::OK, "{who}");
        assert_eq!(who["key_name"], "Front counter POS");
        // A key is not a user token, and a user token is not a key.
        assert_eq!(
            t.get("/api/v1/me", &secret).await.0,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            t.get("/api/pos/v1/whoami", &owner).await.0,
            StatusCode::UNAUTHORIZED
        );
        // Listed without the secret; revoked at once.
        let (_, list) = t.get("/api/v1/api-keys", &owner).await;
        assert!(!list.to_string().contains(&secret));
        let id = k["key"]["id"].as_str().unwrap();
        let (s, _) = t
            .call(
                "DELETE",
                &format!("/api/v1/api-keys/{id}"),
                Some(&owner),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(
            t.get("/api/pos/v1/whoami", &secret).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
);

both_backends!(admin_api_is_for_platform_staff, async |t: &TestApp| {
    let (owner_shop, owner) = t.shop("admin-shop", "starter").await;
    for path in [
        "/api/admin/v1/shops",
        "/api/admin/v1/plans",
        "/api/admin/v1/audit",
        "/api/admin/v1/jobs",
    ] {
        let (s, b) = t.get(path, &owner).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}: {b}");
        assert_eq!(b["code"], "permission_denied");
    }
    let support = t.platform("s@platform.test", PlatformRole::Support).await;
    let (s, created) = t
        .post(
            "/api/admin/v1/shops",
            &support,
            json!({"name": "Console Shop", "slug": "console-shop", "plan": "pro", "owner_email": "boss@console.test"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{created}");
    assert_eq!(created["owner_invited"], true);
    let (s, b) = t
        .post(
            "/api/admin/v1/shops",
            &support,
            json!({"name": "Again", "slug": "console-shop", "plan": "pro", "owner_email": "x@console.test"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    assert_eq!(b["field"], "slug");
    let (_, list) = t.get("/api/admin/v1/shops?q=console", &support).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    // Support may not edit the plan catalogue; a platform admin may.
    let edit = json!({"name": "Starter", "monthly_price_cents": 5900, "features": ["pos_sync", "dashboard", "sms"], "max_users": 5});
    let (s, _) = t
        .call(
            "PUT",
            "/api/admin/v1/plans/starter",
            Some(&support),
            Some(edit.clone()),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let admin = t
        .platform("a@platform.test", PlatformRole::PlatformAdmin)
        .await;
    let (s, plan) = t
        .call(
            "PUT",
            "/api/admin/v1/plans/starter",
            Some(&admin),
            Some(edit),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{plan}");
    assert_eq!(plan["monthly_price_cents"], 5900);

    // Suspending makes the shop read-only.
    let shop_id = created["shop"]["id"].as_str().unwrap().to_owned();
    let (s, b) = t
        .call(
            "PUT",
            &format!("/api/admin/v1/shops/{shop_id}/lifecycle"),
            Some(&support),
            Some(json!({"lifecycle": "suspended", "reason": "unpaid"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["shop"]["lifecycle"], "suspended");

    // A suspended shop's staff can read but not change anything.
    let (s, _) = t
        .call(
            "PUT",
            &format!("/api/admin/v1/shops/{owner_shop}/lifecycle"),
            Some(&support),
            Some(json!({"lifecycle": "suspended", "reason": "chargeback"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(t.get("/api/v1/users", &owner).await.0, StatusCode::OK);
    let (s, b) = t
        .post(
            "/api/v1/invitations",
            &owner,
            json!({"email": "late@admin.test", "role": "viewer"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    assert_eq!(b["code"], "shop_restricted");
    let (s, _) = t
        .call(
            "PUT",
            &format!("/api/admin/v1/shops/{owner_shop}/lifecycle"),
            Some(&support),
            Some(json!({"lifecycle": "active", "reason": "paid"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, b) = t
        .post(
            "/api/v1/invitations",
            &owner,
            json!({"email": "late@admin.test", "role": "viewer"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
});

// The customer's phone and e-mail are for roles with `customers.view`:
// technicians and parts see the ticket and the customer's name, not how to
// reach them, in every ticket read and on the pages.
both_backends!(
    customer_contact_is_for_roles_that_see_customers,
    async |t: &TestApp| {
        let (shop, owner) = t.shop("contact-shop", "premium").await;
        let (s, key) = t
            .post("/api/v1/api-keys", &owner, json!({"name": "POS"}))
            .await;
        assert_eq!(s, StatusCode::OK, "{key}");
        let key = key["secret"].as_str().unwrap();
        let (s, b) = t
            .call(
                "PUT",
                "/api/pos/v1/tickets/RO-CONTACT",
                Some(key),
                Some(json!({
                    "kind": "workorder", "number": "3001", "pos_updated_at": "2026-11-23T10:00:00Z",
                    "customer": {"external_id": "C-CONTACT", "first_name": "Dana", "last_name": "Reyes",
                                 "phone": "(512) 555-0164", "email": "dana@contact.test"},
                    "vehicle": {"external_id": "V-CONTACT", "year": 2019, "make": "Honda", "model": "Civic"},
                    "services": [],
                })),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        let ticket = b["ticket"]["id"].as_str().unwrap().to_owned();
        let contact = ["5550164", "555-0164", "dana@contact.test"];
        let shows = |v: &str| contact.iter().any(|c| v.contains(c));

        for (role, sees) in [
            (Role::Technician, false),
            (Role::Parts, false),
            (Role::Viewer, true),
            (Role::Advisor, true),
        ] {
            let email = format!("{role}@contact.test");
            let (user, token) = t.member(shop, &email, role).await;
            if role == Role::Technician {
                let (s, b) = t
                    .call(
                        "PUT",
                        &format!("/api/v1/tickets/{ticket}/assignment"),
                        Some(&owner),
                        Some(json!({"technician_id": user.to_string(), "priority": 0})),
                    )
                    .await;
                assert_eq!(s, StatusCode::OK, "{b}");
            }
            let mut reads = vec![
                format!("/api/v1/tickets/{ticket}"),
                "/api/v1/tickets".to_owned(),
                "/api/v1/dashboard".to_owned(),
            ];
            if role == Role::Technician {
                reads.push("/api/v1/me/work".to_owned());
            }
            for path in &reads {
                let (s, b) = t.get(path, &token).await;
                assert_eq!(s, StatusCode::OK, "{role} {path}: {b}");
                let text = b.to_string();
                assert!(text.contains("Dana"), "{role} {path} sees the name: {text}");
                assert_eq!(shows(&text), sees, "{role} {path}: {text}");
            }
            let c = pitwall_testkit::pages::browser();
            pitwall_testkit::pages::sign_in(t, &c, &email).await;
            let (s, html) =
                pitwall_testkit::pages::page(t, &c, &format!("/app/tickets/{ticket}")).await;
            assert_eq!(s, StatusCode::OK, "{role}");
            assert_eq!(shows(&html), sees, "{role} ticket page: {html}");
        }
    }
);

// Each process holds one small policy per shop it serves. A change in one
// shop reaches another process (here a second policy on the same database)
// as that shop alone: the other shops' loaded policies stay as they are.
// Past its bound, the oldest loaded policy makes room, and its shop's
// decisions still hold.
both_backends!(
    a_role_change_reloads_only_its_own_shop_everywhere,
    async |t: &TestApp| {
        let (changed, owner) = t.shop("policy-changed", "pro").await;
        let (untouched, _) = t.shop("policy-untouched", "pro").await;
        let (adv_changed, _) = t.member(changed, "adv@changed.test", Role::Advisor).await;
        let (adv_untouched, _) = t
            .member(untouched, "adv@untouched.test", Role::Advisor)
            .await;
        let other = pitwall_authz::Authz::load(t.db.clone())
            .await
            .expect("second process's policy");
        let may = async |user, shop| {
            other
                .allowed(user, shop, Permission::UsersView)
                .await
                .expect("check")
        };
        assert!(may(adv_changed, changed).await);
        assert!(may(adv_untouched, untouched).await);
        assert_eq!(other.loaded_enforcers(), 2);

        let perms: Vec<&str> = Role::Advisor
            .default_permissions()
            .iter()
            .filter(|p| **p != Permission::UsersView)
            .map(|p| p.as_str())
            .collect();
        let (s, b) = t
            .call(
                "PUT",
                "/api/v1/roles/advisor",
                Some(&owner),
                Some(json!({"permissions": perms})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");

        assert!(
            other.refresh().await.expect("catch up"),
            "a change was seen"
        );
        assert_eq!(
            other.loaded_enforcers(),
            1,
            "only the changed shop's policy is dropped"
        );
        assert!(!may(adv_changed, changed).await, "the change applies");
        assert!(
            may(adv_untouched, untouched).await,
            "the other shop keeps its own"
        );
        assert_eq!(other.loaded_enforcers(), 2);
        assert!(!other.refresh().await.expect("catch up"), "nothing new");

        // More shops than the bound: the enforcers loaded stay within it,
        // and the first shops' decisions are still answered (and right).
        let mut assigned = Vec::new();
        let txn = pitwall_store::begin_write(&t.db).await.expect("txn");
        for _ in 0..pitwall_authz::LOADED_ENFORCERS + 20 {
            let (shop, user) = (
                pitwall_core::domain::ShopId::new(),
                pitwall_core::domain::UserId::new(),
            );
            pitwall_authz::rules::assign_role(&txn, shop, user, Role::Technician)
                .await
                .expect("assign");
            assigned.push((shop, user));
        }
        txn.commit().await.expect("commit");
        other.refresh().await.expect("catch up");
        for (shop, user) in &assigned {
            assert!(!may(*user, *shop).await, "technicians do not see users");
        }
        assert!(other.loaded_enforcers() <= pitwall_authz::LOADED_ENFORCERS);
        assert!(!may(adv_changed, changed).await);
        assert!(may(adv_untouched, untouched).await);
        let (shop, user) = assigned[0];
        assert!(
            other
                .allowed(user, shop, Permission::TicketsView)
                .await
                .expect("check"),
            "a shop whose enforcer made room loads it again for a new check"
        );
    }
);

// A role changed by another process (written to the database, this
// process not told) shows in the shop context as soon as this process
// catches up with the policy, not when the context's 2 s run out.
both_backends!(
    a_role_changed_elsewhere_shows_once_the_policy_catches_up,
    async |t: &TestApp| {
        let (shop, _) = t.shop("ctx-elsewhere", "pro").await;
        let (user, advisor) = t
            .member(shop, "adv@ctx-elsewhere.test", Role::Advisor)
            .await;
        let role = async || t.get("/api/v1/me", &advisor).await.1["role"].clone();
        assert_eq!(role().await, "advisor");
        assert_eq!(role().await, "advisor", "now from the cache");
        let txn = pitwall_store::begin_write(&t.db).await.expect("txn");
        pitwall_store::members::set_role(&txn, shop, user, Role::Technician)
            .await
            .expect("role");
        pitwall_authz::rules::assign_role(&txn, shop, user, Role::Technician)
            .await
            .expect("rule");
        txn.commit().await.expect("commit");
        assert!(t.app.authz().refresh().await.expect("catch up"));
        assert_eq!(role().await, "technician");
    }
);
