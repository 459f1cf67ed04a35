//! E-mail end to end, through a real SMTP conversation with `smtp_sink`: verification,
//! password reset, purchase summaries that survive a sender crashing mid-send, the user's
//! choices and unsubscribe links, the admins' SMTP settings, the demo mailbox, and the
//! health tile.

use crate::helpers::{
    Backend, PASSWORD, TestApp, json, mark_verified, signed_in_admin, signed_up, user_id,
};
use crate::smtp_sink::SmtpSink;
use app::domain::time::Clock as _;
use serde_json::{Value, json};
use std::time::Duration;

async fn app_with_sink(backend: Backend, demo: bool) -> Option<(TestApp, SmtpSink)> {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let app = TestApp::spawn_with(backend, move |c| {
        c.smtp_url = Some(url);
        c.mail_from = Some("QuantShift <no-reply@quantshift.test>".into());
        c.demo_broker = demo;
    })
    .await?;
    Some((app, sink))
}

/// Where a redirect sends the browser (the test clients do not follow redirects).
fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

fn token_of(link: &str) -> String {
    link.split_once("token=").unwrap().1.to_owned()
}

fn weekly_plan() -> Value {
    json!({
        "name": "Mailed", "mode": "pure",
        "legs": [{"symbol": "SPY", "amount": "10.00"}],
        "schedule": {"frequency": "weekly", "interval": 1, "weekday": "mon",
                     "time": "10:00", "timezone": "America/New_York"}
    })
}

/// The state of the outbox row with `dedupe_key`, once it is no longer pending or sending.
async fn settled(app: &TestApp, dedupe_key: &str) -> String {
    for _ in 0..500 {
        let state: Option<String> =
            sqlx::query_scalar("SELECT state FROM outbox WHERE dedupe_key = $1")
                .bind(dedupe_key)
                .fetch_optional(app.db.pool())
                .await
                .unwrap();
        if let Some(state) = state.filter(|s| !["pending", "sending"].contains(&s.as_str())) {
            return state;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the e-mail {dedupe_key} never settled");
}

/// Waits until the outbox row with `dedupe_key` has recorded a failed attempt and waits for
/// its retry. Advancing the clock before that would put the retry's backoff after the
/// advance (the sender reads the clock when it records the failure), and it never comes.
async fn retry_recorded(app: &TestApp, dedupe_key: &str) {
    for _ in 0..500 {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM outbox WHERE dedupe_key = $1 AND state = 'pending' \
             AND last_error IS NOT NULL",
        )
        .bind(dedupe_key)
        .fetch_one(app.db.pool())
        .await
        .unwrap();
        if waiting == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the e-mail {dedupe_key} never waited for a retry");
}

/// Waits until `count` scheduled slots of the user's plans have ended missed (each writes its
/// summary's outbox row as it ends). The catch-up's workers end them in any order, maybe
/// after a later slot that bought: the clock must not pass their gathering minute before.
async fn missed_recorded(app: &TestApp, email: &str, count: i64) {
    for _ in 0..500 {
        let missed: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM slots s JOIN users u ON u.id = s.user_id \
             WHERE u.email = $1 AND s.kind = 'scheduled' AND s.state = 'missed'",
        )
        .bind(email)
        .fetch_one(app.db.pool())
        .await
        .unwrap();
        if missed == count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{email}'s {count} missed purchases were never recorded");
}

async fn sign_up_verified(app: &TestApp, sink: &SmtpSink, email: &str) -> reqwest::Client {
    let (client, _) = signed_up(app, email).await;
    let mail = sink.wait_for(email, "Confirm your e-mail", 1).await;
    let token = token_of(&mail[0].link("/verify-email").unwrap());
    let verified = client
        .post(app.url("/api/auth/verify-email"))
        .json(&json!({ "token": token }))
        .send()
        .await
        .unwrap();
    assert_eq!(verified.status(), 204);
    client
}

/// A purchase of a new weekly plan, run now; returns the slot's outbox dedupe key.
async fn buy_once(app: &TestApp, user: &reqwest::Client) -> String {
    app.set_market_time("2026-11-30T15:00:00Z").await;
    let plan = user
        .post(app.url("/api/dca/config"))
        .json(&weekly_plan())
        .send()
        .await
        .unwrap();
    assert_eq!(plan.status(), 201);
    let plan_id = json(plan).await["id"].as_str().unwrap().to_owned();
    let id = user_id(app, user).await;
    let slot = app
        .queue_slot(&plan_id, &id, app.clock.now().millis())
        .await;
    format!("slot:{slot}")
}

async fn verification_link_verifies_once(backend: Backend) {
    let Some((app, sink)) = app_with_sink(backend, false).await else {
        return;
    };
    let (client, _) = signed_up(&app, "verify@example.com").await;
    let me = json(client.get(app.url("/api/auth/me")).send().await.unwrap()).await;
    assert_eq!(me["user"]["email_verified"], false);
    let mail = sink
        .wait_for("verify@example.com", "Confirm your e-mail", 1)
        .await;
    assert_eq!(
        mail[0].from, "no-reply@quantshift.test",
        "the envelope sender is mail_from"
    );
    assert!(mail[0].data.contains("text/plain") && mail[0].data.contains("text/html"));
    assert!(
        !mail[0].data.to_lowercase().contains("<img"),
        "no tracking pixels"
    );
    let link = mail[0].link("/verify-email?token=").expect("a link");
    assert!(link.starts_with(&app.base), "{link}");
    // Opening the link shows a button; only pressing it verifies (mail scanners follow links).
    let page = client.get(&link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("Confirm my address") && !page.contains("type=\"password\""));
    let me = json(client.get(app.url("/api/auth/me")).send().await.unwrap()).await;
    assert_eq!(me["user"]["email_verified"], false);
    // The token is stored only as its digest.
    let count = |hash: String| {
        let pool = app.db.pool().clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM email_tokens WHERE token_hash = $1")
                .bind(hash)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(count(token_of(&link)).await, 0);
    assert_eq!(count(server::mail::token_hash(&token_of(&link))).await, 1);
    // Another browser (not signed in as the account) needs the account's password: else
    // whoever registered someone's address could have its owner confirm it for them.
    let stranger = app.other_client();
    let page = stranger
        .get(&link)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("type=\"password\""), "{page}");
    let refused = stranger
        .post(app.url("/verify-email"))
        .form(&[("token", token_of(&link))])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let wrong = stranger
        .post(app.url("/verify-email"))
        .form(&[
            ("token", token_of(&link)),
            ("password", "not the password".into()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 422);
    let me = json(client.get(app.url("/api/auth/me")).send().await.unwrap()).await;
    assert_eq!(me["user"]["email_verified"], false);
    let confirmed = stranger
        .post(app.url("/verify-email"))
        .form(&[("token", token_of(&link)), ("password", PASSWORD.into())])
        .send()
        .await
        .unwrap();
    assert_eq!(confirmed.status(), 200);
    assert!(
        confirmed
            .text()
            .await
            .unwrap()
            .contains("Address confirmed")
    );
    let me = json(client.get(app.url("/api/auth/me")).send().await.unwrap()).await;
    assert_eq!(me["user"]["email_verified"], true);
    let again = client
        .post(app.url("/api/auth/verify-email"))
        .json(&json!({ "token": token_of(&link) }))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 400);
    assert_eq!(json(again).await["error"]["code"], "invalid_token");
    assert!(
        app.audit_actions()
            .await
            .contains(&"email_verified".to_owned())
    );
    // Verified: no resend is sent.
    let resend = client
        .post(app.url("/api/auth/verify-email/resend"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resend.status(), 202);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(sink.to("verify@example.com").len(), 1);
    app.cleanup().await;
}

async fn unverified_users_resend_with_a_limit_and_links_expire(backend: Backend) {
    let Some((app, sink)) = app_with_sink(backend, false).await else {
        return;
    };
    let (client, _) = signed_up(&app, "slow@example.com").await;
    sink.wait_for("slow@example.com", "Confirm", 1).await;
    for _ in 0..3 {
        let resend = client
            .post(app.url("/api/auth/verify-email/resend"))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(resend.status(), 202);
    }
    let limited = client
        .post(app.url("/api/auth/verify-email/resend"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(limited.status(), 429);
    let mails = sink.wait_for("slow@example.com", "Confirm", 4).await;
    // A day later every link is dead.
    app.clock.advance_minutes(24 * 60 + 1);
    let link = mails[3].link("/verify-email").unwrap();
    let late = client
        .post(app.url("/api/auth/verify-email"))
        .json(&json!({ "token": token_of(&link) }))
        .send()
        .await
        .unwrap();
    assert_eq!(json(late).await["error"]["code"], "invalid_token");
    app.cleanup().await;
}

async fn admin_email_is_promoted_only_once_verified(backend: Backend) {
    let Some((app, sink)) = app_with_sink(backend, false).await else {
        return;
    };
    // The test configuration names admin@example.com as admin_email.
    let (client, _) = signed_up(&app, "admin@example.com").await;
    let me = json(client.get(app.url("/api/auth/me")).send().await.unwrap()).await;
    assert_eq!(me["user"]["role"], "subscriber");
    let mail = sink.wait_for("admin@example.com", "Confirm", 1).await;
    let token = token_of(&mail[0].link("/verify-email").unwrap());
    let verified = client
        .post(app.url("/api/auth/verify-email"))
        .json(&json!({ "token": token }))
        .send()
        .await
        .unwrap();
    assert_eq!(verified.status(), 204);
    let me = json(client.get(app.url("/api/auth/me")).send().await.unwrap()).await;
    assert_eq!(me["user"]["role"], "admin");
    app.cleanup().await;
}

async fn password_reset_end_to_end(backend: Backend) {
    let Some((app, sink)) = app_with_sink(backend, false).await else {
        return;
    };
    let email = "forgetful@example.com";
    let (first, _) = signed_up(&app, email).await;
    let second = app.other_client();
    let signed_in = second
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 200);
    // The same answer for an address with an account and one without.
    for address in [email, "nobody@example.com"] {
        let asked = app
            .other_client()
            .post(app.url("/api/auth/password-reset"))
            .json(&json!({ "email": address }))
            .send()
            .await
            .unwrap();
        assert_eq!(asked.status(), 202);
        assert_eq!(json(asked).await, json!({}));
    }
    let mail = sink
        .wait_for(email, "Reset your QuantShift password", 1)
        .await;
    assert!(sink.to("nobody@example.com").is_empty());
    // Each request was one outbox row, written before the answer, whatever the address;
    // the sender looked the account up. No address stays in the table.
    let mut requests: Vec<(String, Option<String>, String)> = Vec::new();
    for _ in 0..500 {
        requests = sqlx::query_as(
            "SELECT state, last_error, payload FROM outbox WHERE kind = 'reset_request' ORDER BY created_at, id",
        )
        .fetch_all(app.db.pool())
        .await
        .unwrap();
        if requests.len() == 2 && requests.iter().all(|(state, _, _)| state == "skipped") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut reasons: Vec<_> = requests
        .iter()
        .map(|(_, e, _)| e.clone().unwrap_or_default())
        .collect();
    reasons.sort();
    assert_eq!(
        reasons,
        [
            "handed over to its reset e-mail",
            "no account has this address"
        ]
    );
    assert!(requests.iter().all(|(_, _, payload)| payload == "{}"));
    let link = mail[0].link("/reset-password?token=").unwrap();
    let token = token_of(&link);
    let page = app.other_client().get(&link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("New password"));
    let confirm = |password: &'static str, token: String| {
        let client = app.other_client();
        let url = app.url("/api/auth/password-reset/confirm");
        async move {
            client
                .post(url)
                .json(&json!({ "token": token, "password": password }))
                .send()
                .await
                .unwrap()
        }
    };
    let short = confirm("short", token.clone()).await;
    assert_eq!(short.status(), 422);
    assert!(json(short).await["error"]["fields"]["password"].is_string());
    let unknown = confirm("a brand new passphrase", "0".repeat(64)).await;
    assert_eq!(json(unknown).await["error"]["code"], "invalid_token");
    let done = confirm("a brand new passphrase", token.clone()).await;
    assert_eq!(done.status(), 204);
    let reused = confirm("another new passphrase", token.clone()).await;
    assert_eq!(reused.status(), 400);
    assert_eq!(json(reused).await["error"]["code"], "invalid_token");
    // Every old session is over.
    for client in [&first, &second] {
        let me = client.get(app.url("/api/auth/me")).send().await.unwrap();
        assert_eq!(json(me).await["user"], Value::Null);
    }
    let old = app.sign_in(email, PASSWORD).await;
    assert_eq!(old.status(), 401);
    let new = app.sign_in(email, "a brand new passphrase").await;
    assert_eq!(new.status(), 200);
    // The link reached the mailbox: the address counts as verified.
    assert_eq!(json(new).await["user"]["email_verified"], true);
    let dead = app.other_client().get(&link).send().await.unwrap();
    assert_eq!(dead.status(), 400);
    let actions = app.audit_actions().await;
    assert!(actions.contains(&"password_reset_requested".to_owned()));
    assert!(actions.contains(&"password_reset".to_owned()));
    // An hour later a new link is dead too.
    let asked = app
        .post_json("/api/auth/password-reset", json!({ "email": email }))
        .await;
    assert_eq!(asked.status(), 202);
    let mails = sink.wait_for(email, "Reset", 2).await;
    app.clock.advance_minutes(61);
    let late = confirm(
        "a third new passphrase",
        token_of(&mails[1].link("/reset-password").unwrap()),
    )
    .await;
    assert_eq!(json(late).await["error"]["code"], "invalid_token");
    app.cleanup().await;
}

async fn password_resets_are_rate_limited(backend: Backend) {
    let Some((app, _sink)) = app_with_sink(backend, false).await else {
        return;
    };
    let ask =
        |address: &str| app.post_json("/api/auth/password-reset", json!({ "email": address }));
    for _ in 0..3 {
        assert_eq!(ask("limited@example.com").await.status(), 202);
    }
    let fourth = ask("limited@example.com").await;
    assert_eq!(fourth.status(), 429);
    assert_eq!(json(fourth).await["error"]["code"], "rate_limited");
    // Per client address too: 20 an hour across addresses.
    let mut codes = Vec::new();
    for n in 0..18 {
        codes.push(
            ask(&format!("other{n}@example.com"))
                .await
                .status()
                .as_u16(),
        );
    }
    assert!(codes[..17].iter().all(|c| *c == 202), "{codes:?}");
    assert_eq!(codes[17], 429);
    let malformed = ask("not an address").await;
    assert_eq!(malformed.status(), 422);
    app.cleanup().await;
}

async fn one_summary_per_purchase_even_when_the_sender_crashes_mid_send(backend: Backend) {
    let Some((mut app, sink)) = app_with_sink(backend, true).await else {
        return;
    };
    let email = "buyer@example.com";
    let user = sign_up_verified(&app, &sink, email).await;
    // The first try breaks after the message's data, before the server's answer.
    sink.drop_next(1);
    let key = buy_once(&app, &user).await;
    for _ in 0..500 {
        if *sink.unanswered.lock().unwrap() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        *sink.unanswered.lock().unwrap(),
        1,
        "the first try was cut off"
    );
    // The retry waits its backoff.
    retry_recorded(&app, &key).await;
    app.clock.advance_minutes(1);
    let mails = sink.wait_for(email, "ran: $", 1).await;
    let text = mails[0].text();
    assert!(text.contains("SPY") && text.contains("Bought"), "{text}");
    assert_eq!(settled(&app, &key).await, "sent");

    // Now the sender dies holding the message: the server never answers its data, and the
    // instance stops. The next instance takes the message over once the lease runs out.
    sink.hang_next(1);
    let second = buy_once(&app, &user).await;
    for _ in 0..500 {
        if *sink.unanswered.lock().unwrap() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(*sink.unanswered.lock().unwrap(), 2);
    app.restart().await;
    app.clock.advance_minutes(3);
    let mails = sink.wait_for(email, "ran: $", 2).await;
    assert_eq!(settled(&app, &second).await, "sent");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        sink.to(email)
            .iter()
            .filter(|m| m.header("Subject").is_some_and(|s| s.contains("ran: $")))
            .count(),
        2,
        "exactly one summary per purchase"
    );
    let ids: Vec<_> = mails
        .iter()
        .filter_map(|m| m.header("Message-ID"))
        .collect();
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1], "one Message-ID per message");

    // The one case SMTP cannot settle: the server kept the message, but the connection
    // broke before it said so. The sender tries again, with the same Message-ID, by which
    // mail systems drop the copy.
    sink.accept_then_drop_next(1);
    let third = buy_once(&app, &user).await;
    for _ in 0..500 {
        // The verification, the two summaries, and now the kept copy.
        if sink.to(email).len() == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    retry_recorded(&app, &third).await;
    app.clock.advance_minutes(1);
    assert_eq!(settled(&app, &third).await, "sent");
    let mails = sink.wait_for(email, "ran: $", 4).await;
    assert_eq!(mails.len(), 4);
    assert_eq!(mails[2].header("Message-ID"), mails[3].header("Message-ID"));
    app.cleanup().await;
}

/// The server was down for days: the purchases missed in a row make one message (the
/// earliest one's, listing each); the one that then runs has its own. A second outage's
/// message lists only its own.
async fn missed_days_make_one_message(backend: Backend) {
    let Some((app, sink)) = app_with_sink(backend, true).await else {
        return;
    };
    let email = "away@example.com";
    let user = sign_up_verified(&app, &sink, email).await;
    let mut daily = weekly_plan();
    daily["schedule"] = json!({"frequency": "daily", "interval": 1, "time": "10:00",
                               "timezone": "America/New_York"});
    let created = user
        .post(app.url("/api/dca/config"))
        .json(&daily)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    // Saturday 00:00 UTC → Thursday 10:30 New York: Monday's to Wednesday's purchases are
    // past their grace window (missed); Thursday's runs.
    app.set_market_time("2026-12-03T15:30:00Z").await;
    app.clock.advance_minutes((5 * 24 + 15) * 60 + 30);
    let ran = sink.wait_for(email, "ran: $", 1).await;
    assert!(ran[0].text().contains("Bought"), "{}", ran[0].text());
    // The missed ones' message waits a minute for the catch-up.
    missed_recorded(&app, email, 3).await;
    app.clock.advance_minutes(2);
    let missed = sink.wait_for(email, "were missed", 1).await;
    let text = missed[0].text();
    assert!(
        missed[0]
            .header("Subject")
            .is_some_and(|s| s.contains("3 purchases of")),
        "{text}"
    );
    for day in ["Mon 30 Nov 2026", "Tue 1 Dec 2026", "Wed 2 Dec 2026"] {
        assert!(text.contains(day), "{day}: {text}");
    }
    // The others' summaries say where they went.
    let taken: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM outbox WHERE state = 'skipped' AND last_error LIKE 'listed in the e-mail of%'",
    )
    .fetch_one(app.db.pool())
    .await
    .unwrap();
    assert_eq!(taken, 2);

    // Down again from Friday to Tuesday 10:30: Friday's and Monday's are missed (the
    // weekend's move to Monday), Tuesday's runs. Only the new ones are listed.
    app.set_market_time("2026-12-08T15:30:00Z").await;
    app.clock.advance_minutes(5 * 24 * 60 - 2);
    sink.wait_for(email, "ran: $", 2).await;
    missed_recorded(&app, email, 5).await;
    app.clock.advance_minutes(2);
    let missed = sink.wait_for(email, "were missed", 2).await;
    let text = missed[1].text();
    assert!(
        missed[1]
            .header("Subject")
            .is_some_and(|s| s.contains("2 purchases of")),
        "{text}"
    );
    assert!(
        text.contains("Fri 4 Dec 2026") && text.contains("Mon 7 Dec 2026"),
        "{text}"
    );
    assert!(!text.contains("30 Nov"), "{text}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let subjects: Vec<String> = sink
        .to(email)
        .iter()
        .filter_map(|m| m.header("Subject"))
        .filter(|s| !s.contains("Confirm"))
        .collect();
    assert_eq!(
        subjects.len(),
        4,
        "two for missed days, one each for Thursday and Tuesday: {subjects:?}"
    );

    // A row taken into another's message takes what it had taken with it (a late earlier
    // slot can lead over a lead not yet sent), and only the lead's holder can take.
    let row_of = |day: &'static str| {
        sqlx::query_scalar::<_, String>(
            "SELECT o.id FROM outbox o JOIN slots s ON s.id = SUBSTR(o.dedupe_key, 6) \
             WHERE s.slot_at = $1",
        )
        .bind(day.parse::<jiff::Timestamp>().unwrap().as_millisecond())
        .fetch_one(app.db.pool())
    };
    let (monday, thursday) = (
        row_of("2026-11-30T15:00:00Z").await.unwrap(),
        row_of("2026-12-03T15:00:00Z").await.unwrap(),
    );
    // Not due for a day: the running sender must not claim it between these statements.
    sqlx::query("UPDATE outbox SET state = 'pending', not_before = $2 WHERE id = $1")
        .bind(&monday)
        .bind(app.clock.now().millis() + 86_400_000)
        .execute(app.db.pool())
        .await
        .unwrap();
    sqlx::query(
        "UPDATE outbox SET state = 'sending', lease_owner = 'test', lease_until = $2 WHERE id = $1",
    )
    .bind(&thursday)
    .bind(app.clock.now().millis() + 86_400_000)
    .execute(app.db.pool())
    .await
    .unwrap();
    let id = user_id(&app, &user).await;
    let now = app.clock.now().millis();
    let ids = [monday.clone()];
    assert_eq!(
        app.db
            .take_into(&thursday, "another", &id, &ids, now)
            .await
            .unwrap(),
        None
    );
    let taken = app
        .db
        .take_into(&thursday, "test", &id, &ids, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        taken.len(),
        3,
        "Monday's, and Tuesday's and Wednesday's with it"
    );
    app.cleanup().await;
}

async fn choices_and_unsubscribe_links_are_respected(backend: Backend) {
    let Some((app, sink)) = app_with_sink(backend, true).await else {
        return;
    };
    let email = "picky@example.com";
    let user = sign_up_verified(&app, &sink, email).await;
    let prefs = json(
        user.get(app.url("/api/notifications"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        prefs,
        json!({"purchases": true, "failures": true, "funds": true, "weekly": true})
    );
    let off = user
        .put(app.url("/api/notifications"))
        .json(&json!({"purchases": false, "failures": true, "funds": true, "weekly": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(off.status(), 200);
    let key = buy_once(&app, &user).await;
    assert_eq!(settled(&app, &key).await, "skipped");
    assert!(
        sink.to(email)
            .iter()
            .all(|m| !m.header("Subject").unwrap().contains("ran")),
        "no summary when turned off"
    );
    // On again (the Settings form: a ticked box is present), and a summary comes with a
    // link that turns it off without signing in.
    let saved = user
        .post(app.url("/settings/notifications"))
        .form(&[("purchases", "on"), ("failures", "on")])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&saved), "/settings?notifications=saved");
    let prefs = json(
        user.get(app.url("/api/notifications"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        prefs,
        json!({"purchases": true, "failures": true, "funds": false, "weekly": false})
    );
    let key = buy_once(&app, &user).await;
    let mails = sink.wait_for(email, "ran: $", 1).await;
    assert_eq!(settled(&app, &key).await, "sent");
    let header = mails[0].header("List-Unsubscribe").unwrap();
    assert_eq!(
        mails[0].header("List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    let link = header.trim_matches(['<', '>']).to_owned();
    assert_eq!(
        mails[0].link("/unsubscribe").as_deref(),
        Some(link.as_str())
    );
    // A forged token does nothing.
    let forged = link.replace("purchases", "weekly");
    let refused = reqwest::Client::new()
        .post(&forged)
        .form(&[("List-Unsubscribe", "One-Click")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    // The mail client's one-click POST (RFC 8058), no cookies.
    let done = reqwest::Client::new()
        .post(&link)
        .form(&[("List-Unsubscribe", "One-Click")])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    let prefs = json(
        user.get(app.url("/api/notifications"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(prefs["purchases"], false);
    assert_eq!(prefs["failures"], true);
    app.cleanup().await;
}

async fn unverified_addresses_get_no_notifications_and_cannot_subscribe(backend: Backend) {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let Some(app) = TestApp::spawn_with(backend, move |c| {
        c.smtp_url = Some(url);
        c.demo_broker = true;
        c.billing = true;
        c.stripe_webhook_secret = Some("whsec_test".into());
    })
    .await
    else {
        return;
    };
    let email = "unsure@example.com";
    let (user, _) = signed_up(&app, email).await;
    let checkout = user
        .post(app.url("/api/billing/checkout"))
        .json(&json!({"tier": "pro"}))
        .send()
        .await
        .unwrap();
    assert_eq!(checkout.status(), 403);
    assert_eq!(json(checkout).await["error"]["code"], "email_unverified");
    let key = buy_once(&app, &user).await;
    assert_eq!(settled(&app, &key).await, "skipped");
    mark_verified(&app, email).await;
    let checkout = user
        .post(app.url("/api/billing/checkout"))
        .json(&json!({"tier": "pro"}))
        .send()
        .await
        .unwrap();
    assert_eq!(checkout.status(), 200);
    app.cleanup().await;
}

async fn admins_set_smtp_with_a_sealed_password_and_send_a_test(backend: Backend) {
    let sink = SmtpSink::start().await;
    // No SMTP in the configuration, not demo mode: nothing can be sent yet.
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = signed_in_admin(&app, "ops@example.com").await;
    let panel = admin
        .get(app.url("/admin/settings"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(panel.contains("no SMTP server is configured"), "{panel}");
    let bad = admin
        .post(app.url("/admin/settings/mail"))
        .form(&[("smtp_url", "http://mail"), ("mail_from", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&bad), "/admin/settings?mail_field=smtp_url");
    // A password goes only over TLS (or to this machine).
    let plain = admin
        .post(app.url("/admin/settings/mail"))
        .form(&[
            ("smtp_url", "smtp://relay@mail.example.com:25"),
            ("smtp_password", "s3cret-pa55"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&plain), "/admin/settings?mail_field=smtp_password");
    let url = sink.url().replace("smtp://", "smtp://relay@");
    let saved = admin
        .post(app.url("/admin/settings/mail"))
        .form(&[
            ("smtp_url", url.as_str()),
            ("smtp_password", "s3cret-pa55"),
            ("mail_from", "Ops <ops@quantshift.test>"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&saved), "/admin/settings?mail=saved");
    let stored: String =
        sqlx::query_scalar("SELECT value FROM platform_settings WHERE key = 'mail'")
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    assert!(!stored.contains("s3cret"), "sealed: {stored}");
    let panel = admin
        .get(app.url("/admin/settings"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !panel.contains("s3cret"),
        "the password never reaches a browser"
    );
    let test = admin
        .post(app.url("/admin/settings/mail/test"))
        .form(&[("to", "ops-inbox@example.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(test.status(), 200);
    assert!(test.text().await.unwrap().contains("Test e-mail sent"));
    let mail = sink
        .wait_for("ops-inbox@example.com", "test e-mail", 1)
        .await;
    assert_eq!(mail[0].from, "ops@quantshift.test");
    // The sealed password was opened for the SMTP server, and only there.
    assert_eq!(
        sink.logins.lock().unwrap().as_slice(),
        [("relay".to_owned(), "s3cret-pa55".to_owned())]
    );
    let audit = app.audit_actions().await;
    assert!(audit.contains(&"settings_changed".to_owned()));
    // Only admins.
    let (user, _) = signed_up(&app, "plain@example.com").await;
    let refused = user
        .post(app.url("/admin/settings/mail/test"))
        .form(&[("to", "x@example.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    app.cleanup().await;
}

async fn refused_mail_is_given_up_and_shown_on_the_health_page(backend: Backend) {
    let Some((app, sink)) = app_with_sink(backend, false).await else {
        return;
    };
    sink.reject_next(1);
    signed_up(&app, "bounced@example.com").await;
    let admin = signed_in_admin(&app, "watcher@example.com").await;
    let mut tile = Value::Null;
    for _ in 0..300 {
        let report = json(
            admin
                .get(app.url("/api/admin/health"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        tile = report["tiles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["key"] == "email")
            .cloned()
            .unwrap();
        if report["email"]["failed_24h"] == 1 {
            assert!(
                report["email"]["last_error"]
                    .as_str()
                    .unwrap()
                    .contains("550")
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert_eq!(tile["level"], "warn", "{tile}");
    app.cleanup().await;
}

async fn demo_mode_without_smtp_keeps_mail_in_the_local_mailbox(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.demo_broker = true).await else {
        return;
    };
    signed_up(&app, "demo@example.com").await;
    let mut page = String::new();
    for _ in 0..300 {
        page = app.get("/dev/mailbox").await.text().await.unwrap();
        if page.contains("Confirm your e-mail address") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(page.contains("To demo@example.com"), "{page}");
    // (`/` is written `&#x2f;` in the page's HTML.)
    assert!(page.contains("verify-email?token="), "{page}");
    // Not through a proxy (which would be on loopback too).
    let proxied = app
        .client
        .get(app.url("/dev/mailbox"))
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(proxied.status(), 404);
    app.cleanup().await;
}

async fn no_mailbox_outside_demo_mode(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    assert_eq!(app.get("/dev/mailbox").await.status(), 404);
    app.cleanup().await;
}

async fn weekly_summary_once_a_week(backend: Backend) {
    let Some((app, sink)) = app_with_sink(backend, true).await else {
        return;
    };
    let email = "weekly@example.com";
    let user = sign_up_verified(&app, &sink, email).await;
    let key = buy_once(&app, &user).await;
    sink.wait_for(email, "ran: $", 1).await;
    assert_eq!(settled(&app, &key).await, "sent");
    // Saturday 10:00 in New York (the user chose no zone).
    app.clock
        .set(app::domain::time::Timestamp::from_millis(1_796_482_800_000));
    let written = app.mail().notify_pass().await.unwrap();
    assert!(written >= 1);
    let mails = sink.wait_for(email, "Your QuantShift week", 1).await;
    let text = mails[0].text();
    assert!(text.contains("Invested in all:    $"), "{text}");
    assert!(text.contains("Next purchases:"), "{text}");
    // Once a week.
    app.mail().notify_pass().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        sink.to(email)
            .iter()
            .filter(|m| m.header("Subject").is_some_and(|s| s.contains("week")))
            .count(),
        1
    );
    app.cleanup().await;
}

/// A user whose own paper account (at a separate simulator) holds $5: warned a day before a
/// $10 purchase, then told at once when the broker refuses it.
async fn short_of_money_warned_a_day_ahead_then_told_of_the_failure(backend: Backend) {
    let sim = sim::Simulator::new(sim::SimConfig {
        start_time: Some("2026-11-30T15:00:00Z".parse().unwrap()),
        ..sim::SimConfig::default()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(sim::serve(listener, sim.clone(), std::future::pending()));
    let sink = SmtpSink::start().await;
    let smtp = sink.url();
    let Some(app) = TestApp::spawn_with(backend, move |c| {
        c.smtp_url = Some(smtp);
        c.demo_broker = true;
        c.alpaca_paper_url = url.clone();
        c.alpaca_data_url = url;
    })
    .await
    else {
        return;
    };
    let email = "short@example.com";
    let user = sign_up_verified(&app, &sink, email).await;
    let (key_id, secret, _) = sim.create_account_with(rust_decimal::Decimal::from(5));
    let connected = user
        .post(app.url("/api/broker/connection"))
        .json(&json!({"environment": "paper", "key_id": key_id, "secret": secret}))
        .send()
        .await
        .unwrap();
    assert_eq!(connected.status(), 200);
    let plan = user
        .post(app.url("/api/dca/config"))
        .json(&weekly_plan())
        .send()
        .await
        .unwrap();
    assert_eq!(plan.status(), 201);
    let plan_id = json(plan).await["id"].as_str().unwrap().to_owned();
    // Two days before Monday's purchase: nothing yet.
    assert_eq!(app.mail().notify_pass().await.unwrap(), 0);
    // Sunday 20:00 UTC, 19 hours before it: a warning, once.
    app.clock.set(app::domain::time::Timestamp::from_millis(
        1_796_050_800_000 - 19 * 3_600_000,
    ));
    assert_eq!(app.mail().notify_pass().await.unwrap(), 1);
    assert_eq!(app.mail().notify_pass().await.unwrap(), 0);
    let warning = sink.wait_for(email, "Not enough buying power", 1).await;
    let text = warning[0].text();
    assert!(
        text.contains("buys $10.00") && text.contains("has $5.00"),
        "{text}"
    );
    // Monday 10:00 New York: the scheduler runs the plan, the broker refuses the order,
    // and the user hears of it at once.
    app.clock
        .set(app::domain::time::Timestamp::from_millis(1_796_050_800_000));
    let mut slot = None;
    for _ in 0..500 {
        slot = sqlx::query_scalar::<_, String>("SELECT id FROM slots WHERE plan_id = $1")
            .bind(&plan_id)
            .fetch_optional(app.db.pool())
            .await
            .unwrap();
        if slot.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let slot = slot.expect("the scheduler ran the plan");
    assert_eq!(settled(&app, &format!("slot:{slot}")).await, "sent");
    let failure = sink.wait_for(email, "did not go through", 1).await;
    let text = failure[0].text();
    assert!(text.contains("SPY  $10.00"), "{text}");
    assert!(
        failure[0]
            .header("List-Unsubscribe")
            .unwrap()
            .contains("failures")
    );
    app.cleanup().await;
}

on_both_backends!(
    backend: short_of_money_warned_a_day_ahead_then_told_of_the_failure,
    verification_link_verifies_once,
    unverified_users_resend_with_a_limit_and_links_expire,
    admin_email_is_promoted_only_once_verified,
    password_reset_end_to_end,
    password_resets_are_rate_limited,
    one_summary_per_purchase_even_when_the_sender_crashes_mid_send,
    missed_days_make_one_message,
    choices_and_unsubscribe_links_are_respected,
    unverified_addresses_get_no_notifications_and_cannot_subscribe,
    admins_set_smtp_with_a_sealed_password_and_send_a_test,
    refused_mail_is_given_up_and_shown_on_the_health_page,
    demo_mode_without_smtp_keeps_mail_in_the_local_mailbox,
    no_mailbox_outside_demo_mode,
    weekly_summary_once_a_week,
);
