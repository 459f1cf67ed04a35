//! Platform settings (#15): admins change the announcement and the per-purchase limits at
//! run time; every field is checked (422 naming each, nothing saved); a change is audited,
//! shown to every signed-in user at once, and holds new plans to the new limits.

use crate::helpers::{TestApp, json, signed_in_admin, signed_up};
use serde_json::json;

async fn settings_are_checked_saved_audited_and_applied(app: &TestApp) {
    let admin = signed_in_admin(app, "settings-admin@example.com").await;
    let (user, _) = signed_up(app, "settings-user@example.com").await;
    let defaults = json(
        admin
            .get(app.url("/api/admin/settings"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(defaults["announcement"], "");
    assert_eq!(defaults["min_per_slot"], "1");
    assert_eq!(defaults["max_per_slot"], "10000");

    let refused = admin
        .put(app.url("/api/admin/settings"))
        .json(
            &json!({"announcement": "x".repeat(300), "min_per_slot": "0", "max_per_slot": "lots"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    let fields = &json(refused).await["error"]["fields"];
    for field in ["announcement", "min_per_slot", "max_per_slot"] {
        assert!(fields[field].is_string(), "{field}: {fields}");
    }
    let unchanged = json(
        admin
            .get(app.url("/api/admin/settings"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(unchanged, defaults, "nothing was saved");

    let saved = admin
        .put(app.url("/api/admin/settings"))
        .json(&json!({"announcement": "Maintenance on Sunday\n02:00 UTC", "min_per_slot": "5", "max_per_slot": "500"}))
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 200);
    let saved = json(saved).await;
    assert_eq!(saved["announcement"], "Maintenance on Sunday 02:00 UTC");
    assert_eq!(saved["max_per_slot"], "500");

    // Every signed-in user sees the announcement; plans are held to the new limits.
    let me = json(user.get(app.url("/api/auth/me")).send().await.unwrap()).await;
    assert_eq!(
        me["user"]["announcement"],
        "Maintenance on Sunday 02:00 UTC"
    );
    let limits = json(user.get(app.url("/api/dca/limits")).send().await.unwrap()).await;
    assert_eq!(limits["min_per_slot"], "5");
    assert_eq!(limits["max_per_slot"], "500");
    let plan = |amount: &str| {
        json!({
            "name": "Limits", "mode": "pure",
            "legs": [{"symbol": "SPY", "amount": amount}],
            "schedule": {"frequency": "weekly", "interval": 1, "weekday": "mon",
                         "time": "10:00", "timezone": "America/New_York"}
        })
    };
    let too_big = user
        .post(app.url("/api/dca/config"))
        .json(&plan("600.00"))
        .send()
        .await
        .unwrap();
    assert_eq!(too_big.status(), 422);
    let body = json(too_big).await;
    assert!(
        body["error"]["fields"].to_string().contains("500"),
        "{body}"
    );
    let fits = user
        .post(app.url("/api/dca/config"))
        .json(&plan("400.00"))
        .send()
        .await
        .unwrap();
    assert_eq!(fits.status(), 201);

    // Saving the same again changes nothing and writes no audit row; the change was audited.
    let again = admin
        .put(app.url("/api/admin/settings"))
        .json(&saved)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    let actions = app.audit_actions().await;
    assert_eq!(
        actions.iter().filter(|a| *a == "settings_changed").count(),
        1,
        "{actions:?}"
    );

    // Clearing the announcement takes it away.
    admin
        .put(app.url("/api/admin/settings"))
        .json(&json!({"announcement": "", "min_per_slot": "1", "max_per_slot": "10000"}))
        .send()
        .await
        .unwrap();
    let me = json(user.get(app.url("/api/auth/me")).send().await.unwrap()).await;
    assert_eq!(me["user"]["announcement"], "");

    // Subscribers can neither read nor change them.
    assert_eq!(
        user.get(app.url("/api/admin/settings"))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        user.put(app.url("/api/admin/settings"))
            .json(&saved)
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
}

on_both_backends!(demo_broker: settings_are_checked_saved_audited_and_applied);

/// A restarted instance (or another one) reads the saved settings from the database.
#[tokio::test]
async fn saved_settings_survive_a_restart() {
    let Some(mut app) = TestApp::spawn(crate::helpers::Backend::Sqlite).await else {
        return;
    };
    let admin = signed_in_admin(&app, "restart-admin@example.com").await;
    let saved = admin
        .put(app.url("/api/admin/settings"))
        .json(&json!({"announcement": "Hello", "min_per_slot": "2.50", "max_per_slot": "750"}))
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 200);
    app.restart().await;
    let (user, _) = signed_up(&app, "restart-user@example.com").await;
    let limits = json(user.get(app.url("/api/dca/limits")).send().await.unwrap()).await;
    assert_eq!(limits["min_per_slot"], "2.5");
    assert_eq!(limits["max_per_slot"], "750");
    let me = json(user.get(app.url("/api/auth/me")).send().await.unwrap()).await;
    assert_eq!(me["user"]["announcement"], "Hello");
    app.cleanup().await;
}

/// With billing on, admins change what a tier allows (never its price) and plans are held
/// to the new limits at once.
async fn tier_limits_change_at_run_time(app: &TestApp) {
    let admin = signed_in_admin(app, "tiers-admin@example.com").await;
    let (user, _) = signed_up(app, "tiers-user@example.com").await;
    let current = json(
        admin
            .get(app.url("/api/admin/settings"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let free = current["tiers"][0].clone();
    assert_eq!(free["tier"], "free");
    assert_eq!(free["max_symbols"], "3");
    let mut form = current.clone();
    form["tiers"] = json!([{
        "tier": "free", "price": "99", "max_symbols": "0", "frequencies": [],
        "every_n": false, "smart_dca": false, "signal_bots": false, "live_trading": false
    }]);
    let refused = admin
        .put(app.url("/api/admin/settings"))
        .json(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    let fields = &json(refused).await["error"]["fields"];
    assert!(fields["tiers.free.max_symbols"].is_string(), "{fields}");
    assert!(fields["tiers.free.frequencies"].is_string(), "{fields}");

    form["tiers"][0]["max_symbols"] = json!("1");
    form["tiers"][0]["frequencies"] = json!(["weekly"]);
    let saved = admin
        .put(app.url("/api/admin/settings"))
        .json(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 200);
    let saved = json(saved).await;
    assert_eq!(saved["tiers"][0]["max_symbols"], "1", "{saved:#}");
    assert_eq!(
        saved["tiers"][0]["price"], "0",
        "the price stays the configured one"
    );
    assert_eq!(
        saved["tiers"][2], current["tiers"][2],
        "Pro was left out: unchanged"
    );

    let table = json(app.get("/api/billing/tiers").await).await;
    assert_eq!(table["tiers"][0]["max_symbols"], 1);
    let two_symbols = json!({
        "name": "Two", "mode": "pure",
        "legs": [{"symbol": "SPY", "amount": "10.00"}, {"symbol": "QQQ", "amount": "10.00"}],
        "schedule": {"frequency": "weekly", "interval": 1, "weekday": "mon",
                     "time": "10:00", "timezone": "America/New_York"}
    });
    let refused = user
        .post(app.url("/api/dca/config"))
        .json(&two_symbols)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    let body = json(refused).await;
    assert!(body.to_string().contains("Free allows 1 "), "{body}");

    // The page's plain HTML form: a refused field is sent back by name, with why.
    let post = |pairs: Vec<(&'static str, &'static str)>| {
        admin
            .post(app.url("/admin/settings/tiers"))
            .form(&pairs)
            .send()
    };
    let refused = post(vec![
        ("tier", "pro"),
        ("pro.max_symbols", "many"),
        ("pro.frequencies", "weekly"),
    ])
    .await
    .unwrap();
    assert_eq!(refused.status(), 303);
    let location = refused.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location == "/admin/settings?tier_field=tiers.pro.max_symbols",
        "{location}"
    );
    let saved = post(vec![
        ("tier", "pro"),
        ("pro.max_symbols", "4"),
        ("pro.frequencies", "weekly"),
        ("pro.frequencies", "monthly"),
        ("pro.live_trading", "on"),
    ])
    .await
    .unwrap();
    assert_eq!(saved.status(), 303);
    assert_eq!(saved.headers()["location"], "/admin/settings?tiers=saved");
    let now = json(
        admin
            .get(app.url("/api/admin/settings"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let pro = &now["tiers"][2];
    assert_eq!(pro["max_symbols"], "4");
    assert_eq!(pro["frequencies"], json!(["weekly", "monthly"]));
    assert_eq!(pro["every_n"], false, "an unticked box turns it off");
    assert_eq!(pro["live_trading"], true);
    assert_eq!(
        now["tiers"][0]["max_symbols"], "1",
        "tiers not in the form stay"
    );

    // The form as the page shows it, with the refused field's message beside it.
    let panel = admin
        .post(app.url("/api/fn/load_platform_settings"))
        .form(&[
            ("field", "tiers.pro.max_symbols"),
            ("saved", "false"),
            ("mail", "mail_from"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(panel.status(), 200);
    let page = json(panel).await;
    let mail_form = page["mail_form"].as_str().unwrap();
    assert!(
        mail_form.contains("Enter an address like QuantShift"),
        "the e-mail form words the refused field: {mail_form}"
    );
    let html = page["tier_form"].as_str().unwrap();
    assert!(html.contains("action=\"/admin/settings/tiers\""), "{html}");
    assert!(
        html.contains(app::api::settings::MAX_SYMBOLS_REFUSED),
        "the server words the refusal: {html}"
    );
    assert!(html.contains("value=\"4\""), "{html}");

    // Another site cannot post the form in the admin's browser.
    for (header, value) in [
        ("sec-fetch-site", "cross-site"),
        ("origin", "https://evil.example"),
    ] {
        let forged = admin
            .post(app.url("/admin/settings/tiers"))
            .header(header, value)
            .form(&[
                ("tier", "pro"),
                ("pro.max_symbols", ""),
                ("pro.frequencies", "daily"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), 403, "{header}");
    }
    let unchanged = json(
        admin
            .get(app.url("/api/admin/settings"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(unchanged["tiers"][2]["max_symbols"], "4");

    let (subscriber, _) = signed_up(app, "tiers-form-user@example.com").await;
    let forbidden = subscriber
        .post(app.url("/admin/settings/tiers"))
        .form(&[("tier", "free"), ("free.max_symbols", "100")])
        .send()
        .await
        .unwrap();
    assert_eq!(forbidden.status(), 403);
}

mod billing_on {
    use super::*;
    on_both_backends!(config |c: &mut server::config::Config| {
        c.demo_broker = true;
        c.billing = true;
    }; tier_limits_change_at_run_time);
}
