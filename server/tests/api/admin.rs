//! The admin panel's users (#15): every admin route and server function refuses visitors
//! (401) and subscribers (403); the search filters and pages without skipping or
//! repeating a user; disabling ends the user's sessions and live socket at once, pauses
//! their plans and refuses their sign-in; enabling lets them back in with their plans
//! still paused; an admin can neither demote nor disable themself, and two admins
//! demoting each other at once leave one admin.

use crate::helpers::{
    PASSWORD, TestApp, json, live, next_json, signed_in_admin, signed_up, user_id,
};
use app::domain::account::Email;
use app::domain::tier::Tier;
use app::domain::time::Clock as _;
use serde_json::{Value, json};
use server::db::audit::{AuditAction, AuditEntry};
use std::collections::BTreeSet;
use std::time::Duration;

fn weekly_plan(symbol: &str) -> Value {
    json!({
        "name": format!("weekly {symbol}"), "mode": "pure",
        "legs": [{"symbol": symbol, "amount": "10.00"}],
        "schedule": {"frequency": "weekly", "interval": 1, "weekday": "mon",
                     "time": "10:00", "timezone": "America/New_York"}
    })
}

/// `GET /api/admin/users?{query}` as `admin`: the page's e-mail addresses and `next`.
async fn page(
    app: &TestApp,
    admin: &reqwest::Client,
    query: &str,
) -> (Vec<String>, Option<String>) {
    let response = admin
        .get(app.url(&format!("/api/admin/users?{query}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{query}");
    let body = json(response).await;
    let emails = body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap().to_owned())
        .collect();
    (emails, body["next"].as_str().map(str::to_owned))
}

async fn patch(
    app: &TestApp,
    admin: &reqwest::Client,
    user: &str,
    body: Value,
) -> reqwest::Response {
    admin
        .patch(app.url(&format!("/api/admin/users/{user}")))
        .json(&body)
        .send()
        .await
        .unwrap()
}

enum Body {
    None,
    Json(Value),
    Form(Vec<(&'static str, String)>),
}

async fn every_admin_route_refuses_visitors_and_subscribers(app: &TestApp) {
    let admin = signed_in_admin(app, "boss@example.com").await;
    let boss = user_id(app, &admin).await;
    let (subscriber, _) = signed_up(app, "sub@example.com").await;
    let visitor = app.other_client();
    let user_path = format!("/api/admin/users/{boss}");
    let sessions_path = format!("{user_path}/sessions");
    // The REST routes, then the server functions (JSON input, or a form for one id).
    let form = |id: &str| Body::Form(vec![("id", id.to_owned())]);
    let calls: Vec<(&str, String, Body)> = vec![
        ("GET", "/api/admin/users".into(), Body::None),
        (
            "GET",
            "/api/admin/users?q=boss&role=admin".into(),
            Body::None,
        ),
        ("GET", user_path.clone(), Body::None),
        (
            "PATCH",
            user_path.clone(),
            Body::Json(json!({"disabled": true})),
        ),
        ("DELETE", sessions_path.clone(), Body::None),
        (
            "POST",
            "/api/fn/load_admin_users".into(),
            Body::Json(json!({"query": {}})),
        ),
        ("POST", "/api/fn/load_admin_user".into(), form(&boss)),
        (
            "POST",
            "/api/fn/change_admin_user".into(),
            Body::Json(json!({"id": boss, "change": {"role": "subscriber"}})),
        ),
        (
            "POST",
            "/api/fn/end_admin_user_sessions".into(),
            form(&boss),
        ),
        ("GET", sessions_path.clone(), Body::None),
        (
            "DELETE",
            "/api/admin/sessions/some-handle".into(),
            Body::None,
        ),
        ("GET", "/api/admin/audit".into(), Body::None),
        ("GET", "/api/admin/audit.csv".into(), Body::None),
        ("GET", "/api/admin/health".into(), Body::None),
        ("GET", "/api/admin/release-notes".into(), Body::None),
        ("GET", "/api/admin/settings".into(), Body::None),
        (
            "PUT",
            "/api/admin/settings".into(),
            Body::Json(json!({"announcement": "x", "min_per_slot": "1", "max_per_slot": "2"})),
        ),
        (
            "POST",
            "/api/fn/load_platform_settings".into(),
            Body::Form(vec![
                ("field", String::new()),
                ("saved", "false".to_owned()),
                ("mail", String::new()),
            ]),
        ),
        (
            "POST",
            "/api/fn/save_platform_settings".into(),
            Body::Json(
                json!({"settings": {"announcement": "x", "min_per_slot": "1", "max_per_slot": "2"}}),
            ),
        ),
        (
            "POST",
            "/api/admin/release-notes".into(),
            Body::Json(json!({"title": "t", "body": "b"})),
        ),
        (
            "PATCH",
            "/api/admin/release-notes/some-note".into(),
            Body::Json(json!({"title": "t", "body": "b"})),
        ),
        (
            "DELETE",
            "/api/admin/release-notes/some-note".into(),
            Body::None,
        ),
        (
            "POST",
            "/api/fn/load_admin_notes".into(),
            Body::Form(Vec::new()),
        ),
        (
            "POST",
            "/api/fn/save_admin_note".into(),
            Body::Json(json!({"id": "", "draft": {"title": "t", "body": "b"}})),
        ),
        (
            "POST",
            "/api/fn/delete_admin_note".into(),
            Body::Form(vec![("id", "some-note".to_owned())]),
        ),
        (
            "POST",
            "/admin/settings/mail".into(),
            Body::Form(vec![("smtp_url", "smtp://127.0.0.1:9".to_owned())]),
        ),
        (
            "POST",
            "/admin/settings/mail/test".into(),
            Body::Form(vec![("to", "x@example.com".to_owned())]),
        ),
        (
            "POST",
            "/api/fn/load_health_panel".into(),
            Body::Form(Vec::new()),
        ),
        (
            "POST",
            "/api/fn/end_admin_session".into(),
            Body::Form(vec![("handle", "some-handle".to_owned())]),
        ),
        (
            "POST",
            "/api/fn/load_admin_audit".into(),
            Body::Json(json!({"query": {}})),
        ),
    ];
    for (client, status, code) in [
        (&visitor, 401, "unauthenticated"),
        (&subscriber, 403, "forbidden"),
    ] {
        for (method, path, body) in &calls {
            let request = client.request(method.parse().unwrap(), app.url(path));
            let request = match body {
                Body::Json(body) => request.json(body),
                Body::Form(pairs) => request.form(pairs),
                Body::None => request,
            };
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), status, "{method} {path}");
            assert_eq!(
                json(response).await["error"]["code"],
                code,
                "{method} {path}"
            );
        }
    }
    // Nothing was changed by any of them.
    let me = json(admin.get(app.url(&user_path)).send().await.unwrap()).await;
    assert_eq!(me["user"]["role"], "admin");
    assert_eq!(me["user"]["disabled"], false);
    assert_eq!(me["is_you"], true);
    assert_eq!(me["sessions"].as_array().unwrap().len(), 1);
}

async fn the_search_filters_and_pages_without_skipping_or_repeating(app: &TestApp) {
    let admin = signed_in_admin(app, "root@example.com").await;
    // Nine more users; three sign up in the same millisecond (the id breaks the tie).
    let mut everyone = vec!["root@example.com".to_owned()];
    for n in 0..9 {
        if n % 3 != 0 {
            app.clock.advance_minutes(1);
        }
        let email = if n == 4 {
            "Ann.Smith@example.com".to_owned()
        } else {
            format!("user{n}@example.com")
        };
        signed_up(app, &email).await;
        everyone.push(email.to_lowercase());
    }
    let (all, next) = page(app, &admin, "limit=200").await;
    assert_eq!(next, None);
    assert_eq!(all.len(), 10);
    assert_eq!(
        all.iter().collect::<BTreeSet<_>>(),
        everyone.iter().collect::<BTreeSet<_>>()
    );
    // Two at a time, in both orders: the same users, each once, in the same order.
    for sort in ["signed_up", "last_active"] {
        let (whole, _) = page(app, &admin, &format!("sort={sort}&limit=200")).await;
        let mut paged = Vec::new();
        let mut after = String::new();
        loop {
            let (emails, next) =
                page(app, &admin, &format!("sort={sort}&limit=2&after={after}")).await;
            assert!(emails.len() <= 2);
            paged.extend(emails);
            match next {
                Some(next) => after = next,
                None => break,
            }
        }
        assert_eq!(paged, whole, "{sort}");
    }
    // Newest sign-up first; the e-mail search is a case-insensitive substring.
    assert_eq!(all[0], "user8@example.com");
    assert_eq!(
        page(app, &admin, "q=ANN.s").await.0,
        ["ann.smith@example.com"]
    );
    assert_eq!(page(app, &admin, "q=%25").await.0, Vec::<String>::new());
    assert_eq!(
        page(app, &admin, "role=admin").await.0,
        ["root@example.com"]
    );
    let audit = AuditEntry {
        at: app.clock.now(),
        actor_user_id: None,
        action: AuditAction::TierChanged,
        subject: Some("user3@example.com"),
        ip: None,
        detail: json!({"tier": "pro", "by": "test"}),
    };
    let email = Email::parse("user3@example.com").unwrap();
    assert!(
        app.db
            .set_user_tier(&email, Tier::Pro, audit)
            .await
            .unwrap()
    );
    assert_eq!(page(app, &admin, "tier=pro").await.0, ["user3@example.com"]);
    let listed = json(
        admin
            .get(app.url("/api/admin/users?q=user5"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let id = listed["users"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        patch(app, &admin, &id, json!({"disabled": true}))
            .await
            .status(),
        200
    );
    assert_eq!(
        page(app, &admin, "state=disabled").await.0,
        ["user5@example.com"]
    );
    assert_eq!(page(app, &admin, "state=active&limit=200").await.0.len(), 9);

    // Wrong values are named, field by field.
    let bad = admin
        .get(app.url("/api/admin/users?role=root&state=gone&sort=email&after=x&limit=0"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    let error = json(bad).await;
    assert_eq!(error["error"]["code"], "validation_failed");
    let fields: BTreeSet<&str> = error["error"]["fields"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        fields,
        BTreeSet::from(["after", "limit", "role", "sort", "state"])
    );
    let missing = admin
        .get(app.url("/api/admin/users/no-such-user"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

async fn disabling_ends_sessions_and_sockets_at_once_and_pauses_plans(app: &TestApp) {
    let admin = signed_in_admin(app, "ops@example.com").await;
    let (user, cookie) = signed_up(app, "mallory@example.com").await;
    let created = user
        .post(app.url("/api/dca/config"))
        .json(&weekly_plan("SPY"))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let plan_id = json(created).await["id"].as_str().unwrap().to_owned();
    let id = user_id(app, &user).await;
    let mut socket = live(app, &cookie).await;
    // A second device.
    let laptop = app.other_client();
    let signed_in = laptop
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": "mallory@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 200);

    let disabled = patch(app, &admin, &id, json!({"disabled": true})).await;
    assert_eq!(disabled.status(), 200);
    let detail = json(disabled).await;
    assert_eq!(detail["user"]["disabled"], true);
    assert_eq!(detail["sessions"], json!([]));
    assert_eq!(detail["plans"][0]["status"], "paused");
    assert_eq!(detail["plans"][0]["paused_reason"], "account disabled");

    // Every device is signed out at once, and the live socket closes within a second.
    for client in [&user, &laptop] {
        let me = client.get(app.url("/api/auth/me")).send().await.unwrap();
        assert_eq!(me.status(), 401);
    }
    let mut closed = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    while tokio::time::Instant::now() < deadline {
        if next_json(&mut socket, Duration::from_millis(200))
            .await
            .is_none()
        {
            use futures_util::StreamExt as _;
            let ended = tokio::time::timeout(Duration::from_millis(100), socket.next()).await;
            if matches!(ended, Ok(None) | Ok(Some(Err(_))))
                || matches!(ended, Ok(Some(Ok(ref m))) if m.is_close())
            {
                closed = true;
                break;
            }
        }
    }
    assert!(closed, "the disabled user's socket stays open");

    // The right password no longer signs in, with a clear answer; a wrong one says nothing more.
    let refused = app
        .other_client()
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": "mallory@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let error = json(refused).await;
    assert_eq!(error["error"]["code"], "account_disabled");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("disabled")
    );
    let wrong = app
        .other_client()
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": "mallory@example.com", "password": "not the password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);

    // Enabled again: the user signs in; the plan waits for them to resume it.
    let enabled = patch(app, &admin, &id, json!({"disabled": false})).await;
    assert_eq!(enabled.status(), 200);
    let back = app.other_client();
    let signed_in = back
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": "mallory@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 200);
    let plan = json(
        back.get(app.url(&format!("/api/dca/config/{plan_id}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(plan["status"], "paused");
    let resumed = back
        .post(app.url("/api/dca/start"))
        .json(&json!({"plan_id": plan_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(resumed.status(), 200);

    // Each admin action is audited, naming the admin.
    let detail = json(
        admin
            .get(app.url(&format!("/api/admin/users/{id}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let actions: Vec<&str> = detail["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"user_disabled") && actions.contains(&"user_enabled"),
        "{actions:?}"
    );
    let ops = user_id(app, &admin).await;
    let by_admin = detail["audit"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["action"] == "user_disabled")
        .unwrap();
    assert_eq!(by_admin["actor"], ops.as_str());
    assert!(
        by_admin["detail"]
            .as_str()
            .unwrap()
            .contains("ops@example.com")
    );

    // "Sign out everywhere" ends the new session too.
    let ended = admin
        .delete(app.url(&format!("/api/admin/users/{id}/sessions")))
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), 200);
    assert_eq!(
        back.get(app.url("/api/auth/me"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert!(
        app.audit_actions()
            .await
            .contains(&"sessions_revoked".to_owned())
    );
}

async fn admins_cannot_demote_or_disable_themselves_and_one_admin_always_remains(app: &TestApp) {
    let first = signed_in_admin(app, "first@example.com").await;
    let first_id = user_id(app, &first).await;
    for body in [json!({"role": "subscriber"}), json!({"disabled": true})] {
        let refused = patch(app, &first, &first_id, body.clone()).await;
        assert_eq!(refused.status(), 422, "{body}");
    }
    let bad = patch(app, &first, &first_id, json!({"role": "owner"})).await;
    assert_eq!(bad.status(), 422);
    assert!(json(bad).await["error"]["fields"]["role"].is_string());

    // Promoting through the panel.
    let (second, _) = signed_up(app, "second@example.com").await;
    let second_id = user_id(app, &second).await;
    let promoted = patch(app, &first, &second_id, json!({"role": "admin"})).await;
    assert_eq!(promoted.status(), 200);
    assert_eq!(json(promoted).await["user"]["role"], "admin");

    // Each demotes the other at the same moment: one of them stays an admin.
    let (a, b) = tokio::join!(
        patch(app, &first, &second_id, json!({"role": "subscriber"})),
        patch(app, &second, &first_id, json!({"role": "subscriber"})),
    );
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses[0], 200, "{statuses:?}");
    assert!(matches!(statuses[1], 403 | 409), "{statuses:?}");
    let admins: Vec<_> = app
        .db
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .filter(|u| u.role.is_admin() && u.disabled_at.is_none())
        .collect();
    assert_eq!(admins.len(), 1);
}

async fn the_audit_log_filters_pages_and_exports_csv(app: &TestApp) {
    let admin = signed_in_admin(app, "auditor@example.com").await;
    let (_, _) = signed_up(app, "watched@example.com").await;
    app.clock.advance_minutes(60);
    // Three failed sign-ins: two at the watched account, one at an address that would be
    // a formula in a spreadsheet.
    for (email, password) in [
        ("watched@example.com", "wrong password 1"),
        ("watched@example.com", "wrong password 2"),
        ("=cmd@example.com", "whatever password"),
    ] {
        let failed = app
            .other_client()
            .post(app.url("/api/auth/login"))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(failed.status(), 401, "{email}");
    }
    let rows = |query: &'static str| {
        let admin = admin.clone();
        let url = app.url(&format!("/api/admin/audit?{query}"));
        async move {
            let response = admin.get(url).send().await.unwrap();
            assert_eq!(response.status(), 200, "{query}");
            json(response).await
        }
    };
    let failures = rows("outcome=failure").await;
    let actions: Vec<&str> = failures["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["sign_in_failed"; 3]);
    assert!(
        failures["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["outcome"] == "failure")
    );

    // By user (their e-mail address, any case): what they did and what was done to them.
    let watched = rows("user=Watched@Example.com").await;
    let about: Vec<&str> = watched["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(about, ["sign_in_failed", "sign_in_failed", "sign_up"]);

    // Keyset pages, one row at a time: every row once, newest first.
    let whole = rows("limit=500").await["rows"].as_array().unwrap().clone();
    assert_eq!(whole.len(), 5, "two sign-ups, three failures: {whole:?}");
    let mut paged = Vec::new();
    let mut after = String::new();
    loop {
        let url = app.url(&format!("/api/admin/audit?limit=1&after={after}"));
        let page = json(admin.get(url).send().await.unwrap()).await;
        paged.extend(page["rows"].as_array().unwrap().iter().cloned());
        match page["next"].as_str() {
            Some(next) => after = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(paged, whole);

    // Time ranges: whole UTC days, inclusive; the test clock starts on 2026-11-28.
    assert_eq!(rows("to=2026-11-27").await["rows"], json!([]));
    assert_eq!(
        rows("from=2026-11-28&to=2026-11-28&limit=500").await["rows"]
            .as_array()
            .unwrap()
            .len(),
        whole.len()
    );
    // From 00:30: the three failures at 01:00, not the sign-ups at midnight.
    assert_eq!(
        rows("from=2026-11-28T00:30:00Z").await["rows"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let csv = admin.get(app.url("/api/admin/audit")).send().await.unwrap();
    assert_eq!(csv.headers()["cache-control"], "no-store");

    let bad = admin
        .get(app.url("/api/admin/audit?action=nope&outcome=maybe&from=yesterday&limit=0"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    let fields: BTreeSet<String> = json(bad).await["error"]["fields"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(
        fields,
        ["action", "from", "limit", "outcome"]
            .map(String::from)
            .into()
    );

    // The CSV export: the filtered rows, a formula kept as text.
    let csv = admin
        .get(app.url("/api/admin/audit.csv?outcome=failure"))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = csv.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "id,at,action,outcome,actor,actor_email,subject,ip,detail"
    );
    assert_eq!(lines.len(), 4, "{text}");
    assert!(text.contains(",'=cmd@example.com,"), "{text}");
    assert!(!text.contains(",=cmd"), "{text}");

    // Subscribers and visitors get nothing.
    let (subscriber, _) = signed_up(app, "nosy@example.com").await;
    for path in ["/api/admin/audit", "/api/admin/audit.csv"] {
        let response = subscriber.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 403, "{path}");
        let response = app.other_client().get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 401, "{path}");
    }
}

/// The scheduler refuses a disabled user's slot even if a plan is still active (a disable
/// racing an edit): nothing is bought, and the plan is paused with the reason.
async fn the_scheduler_buys_nothing_for_a_disabled_user(app: &TestApp) {
    app.set_market_time("2026-11-30T15:00:00Z").await;
    let (user, _) = signed_up(app, "racing@example.com").await;
    let created = user
        .post(app.url("/api/dca/config"))
        .json(&weekly_plan("SPY"))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let plan_id = json(created).await["id"].as_str().unwrap().to_owned();
    let id = user_id(app, &user).await;
    sqlx::query("UPDATE users SET disabled_at = $1 WHERE id = $2")
        .bind(app.clock.now().millis())
        .bind(&id)
        .execute(app.db.pool())
        .await
        .unwrap();
    let slot = app
        .queue_slot(&plan_id, &id, app.clock.now().millis())
        .await;
    let mut purchases = Vec::new();
    for _ in 0..300 {
        purchases = app.db.purchases_of_slot(&slot).await.unwrap();
        if !purchases.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(purchases.len(), 1);
    assert_eq!(purchases[0].status.as_str(), "skipped");
    assert!(
        purchases[0]
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("account disabled"),
        "{:?}",
        purchases[0].reason
    );
    let plan = app.db.plan(&plan_id, &id).await.unwrap().unwrap();
    let plan = plan.into_plan().unwrap();
    assert_eq!(plan.status.as_str(), "paused");
    assert_eq!(plan.paused_reason.as_deref(), Some("account disabled"));
}

/// The database's own guard, below the service's checks: the last enabled admin stays, and
/// an actor who is no longer an enabled admin (a stale read) changes nothing.
async fn the_database_keeps_an_enabled_admin_and_checks_the_actor(app: &TestApp) {
    use server::db::admin::{AccountChange, AccountChanged};
    let admin = signed_in_admin(app, "only@example.com").await;
    let admin_id = user_id(app, &admin).await;
    let (subscriber, _) = signed_up(app, "plain@example.com").await;
    let subscriber_id = user_id(app, &subscriber).await;
    let record = |id: String| async move { app.db.user_by_id(&id).await.unwrap().unwrap() };
    let only = record(admin_id.clone()).await;
    let demote = AccountChange {
        role: Some(app::domain::account::Role::Subscriber),
        disabled: None,
    };
    let disable = AccountChange {
        role: None,
        disabled: Some(true),
    };
    for change in [&demote, &disable] {
        let outcome = app
            .db
            .change_account(&admin_id, change, &only, None, app.clock.now())
            .await
            .unwrap();
        assert!(matches!(outcome, AccountChanged::LastAdmin), "{outcome:?}");
    }
    // A subscriber's record, or an admin's read before they were demoted: nothing changes.
    let plain = record(subscriber_id.clone()).await;
    let outcome = app
        .db
        .change_account(&subscriber_id, &disable, &plain, None, app.clock.now())
        .await
        .unwrap();
    assert!(matches!(outcome, AccountChanged::NotAdmin), "{outcome:?}");
    assert!(record(subscriber_id.clone()).await.disabled_at.is_none());
    let stale = record(admin_id.clone()).await;
    sqlx::query("UPDATE users SET disabled_at = 1 WHERE id = $1")
        .bind(&admin_id)
        .execute(app.db.pool())
        .await
        .unwrap();
    let outcome = app
        .db
        .change_account(&subscriber_id, &disable, &stale, None, app.clock.now())
        .await
        .unwrap();
    assert!(matches!(outcome, AccountChanged::NotAdmin), "{outcome:?}");
    assert!(record(subscriber_id).await.disabled_at.is_none());
}

const CHROME_LINUX: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36";
const FIREFOX_MAC: &str =
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:140.0) Gecko/20100101 Firefox/140.0";

/// A fresh client that says it is `agent`, signed in (or up) as `email`.
async fn browser(app: &TestApp, agent: &str, email: &str, sign_up: bool) -> reqwest::Client {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .user_agent(agent)
        .build()
        .unwrap();
    let path = if sign_up {
        "/api/auth/signup"
    } else {
        "/api/auth/login"
    };
    let response = client
        .post(app.url(path))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    client
}

async fn sessions_of(app: &TestApp, client: &reqwest::Client, path: &str) -> Vec<Value> {
    let response = client.get(app.url(path)).send().await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    json(response).await["sessions"].as_array().unwrap().clone()
}

async fn sessions_are_listed_with_their_device_and_ended_one_by_one(app: &TestApp) {
    let laptop = browser(app, CHROME_LINUX, "many@example.com", true).await;
    app.clock.advance_minutes(1);
    let phone = browser(app, FIREFOX_MAC, "many@example.com", false).await;
    let listed = sessions_of(app, &laptop, "/api/sessions").await;
    assert_eq!(listed.len(), 2, "{listed:?}");
    // The most recently used first; the caller's own marked.
    assert_eq!(listed[0]["device"], "Firefox 140 on macOS");
    assert_eq!(listed[0]["current"], false);
    assert_eq!(listed[1]["device"], "Chrome 156 on Linux");
    assert_eq!(listed[1]["current"], true);
    assert_eq!(listed[1]["ip"], "127.0.0.1");
    assert_eq!(listed[1]["created_at"], app.clock.now().millis() - 60_000);
    let phone_handle = listed[0]["handle"].as_str().unwrap().to_owned();
    assert_eq!(phone_handle.len(), 32);
    // The handle is not what the database keys the session by (the id's hash).
    let stored: Vec<String> = sqlx::query_scalar("SELECT id FROM sessions")
        .fetch_all(app.db.pool())
        .await
        .unwrap();
    assert!(!stored.contains(&phone_handle));

    // Another user cannot end it; an unknown handle is a 404.
    let (stranger, _) = signed_up(app, "stranger@example.com").await;
    for (client, handle) in [
        (&stranger, phone_handle.as_str()),
        (&laptop, "no-such-handle"),
    ] {
        let refused = client
            .delete(app.url(&format!("/api/sessions/{handle}")))
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 404);
    }
    assert_eq!(
        phone
            .get(app.url("/api/auth/me"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // The laptop ends the phone's session: the phone is signed out, the laptop is not.
    let ended = laptop
        .delete(app.url(&format!("/api/sessions/{phone_handle}")))
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), 204);
    assert_eq!(
        phone
            .get(app.url("/api/auth/me"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        laptop
            .get(app.url("/api/auth/me"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(sessions_of(app, &laptop, "/api/sessions").await.len(), 1);
    assert!(
        app.audit_actions()
            .await
            .contains(&"session_ended".to_owned())
    );

    // An admin sees the user's sessions and ends one.
    let admin = signed_in_admin(app, "ops2@example.com").await;
    let id = user_id(app, &laptop).await;
    let seen = sessions_of(app, &admin, &format!("/api/admin/users/{id}/sessions")).await;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0]["current"], false);
    assert_eq!(seen[0]["device"], "Chrome 156 on Linux");
    let handle = seen[0]["handle"].as_str().unwrap();
    // The user's page lists the same session, with its device and handle.
    let detail = json(
        admin
            .get(app.url(&format!("/api/admin/users/{id}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(detail["sessions"][0]["handle"], handle);
    assert_eq!(detail["sessions"][0]["device"], "Chrome 156 on Linux");
    let ended = admin
        .delete(app.url(&format!("/api/admin/sessions/{handle}")))
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), 204);
    assert_eq!(
        laptop
            .get(app.url("/api/auth/me"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let ended_rows = app.audit_actions().await;
    assert_eq!(
        ended_rows.iter().filter(|a| *a == "session_ended").count(),
        2,
        "the user's end and the admin's: {ended_rows:?}"
    );
    // Ended already: nothing to end.
    let twice = admin
        .delete(app.url(&format!("/api/admin/sessions/{handle}")))
        .send()
        .await
        .unwrap();
    assert_eq!(twice.status(), 404);

    // Ending one's own current session signs out.
    let again = browser(app, CHROME_LINUX, "many@example.com", false).await;
    let own = sessions_of(app, &again, "/api/sessions").await;
    let handle = own[0]["handle"].as_str().unwrap();
    let ended = again
        .delete(app.url(&format!("/api/sessions/{handle}")))
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), 204);
    assert_eq!(
        again
            .get(app.url("/api/auth/me"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let anonymous = app
        .other_client()
        .get(app.url("/api/sessions"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

on_both_backends!(
    demo_broker:
    the_database_keeps_an_enabled_admin_and_checks_the_actor,
    sessions_are_listed_with_their_device_and_ended_one_by_one,
    the_audit_log_filters_pages_and_exports_csv,
    the_scheduler_buys_nothing_for_a_disabled_user,
    every_admin_route_refuses_visitors_and_subscribers,
    the_search_filters_and_pages_without_skipping_or_repeating,
    disabling_ends_sessions_and_sockets_at_once_and_pauses_plans,
    admins_cannot_demote_or_disable_themselves_and_one_admin_always_remains,
);
