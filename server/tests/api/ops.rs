//! Operations (#15): the admin health report grades the platform (its simulated-broker
//! tile turns red while the simulator fails every request, and green again after), each
//! instance beats its heartbeat; `/metrics` wants its bearer token on the main listener,
//! none on `metrics_listen`, parses as OpenMetrics text, and counts requests by route
//! template, refused sign-ins, broker requests and purchases.

use crate::helpers::{TestApp, json, signed_in_admin, signed_up, user_id};
use app::domain::time::Clock as _;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

const TOKEN: &str = "metrics-token-0123456789";

fn weekly_plan(name: &str) -> Value {
    json!({
        "name": name, "mode": "pure",
        "legs": [{"symbol": "SPY", "amount": "10.00"}],
        "schedule": {"frequency": "weekly", "interval": 1, "weekday": "mon",
                     "time": "10:00", "timezone": "America/New_York"}
    })
}

/// Asks for the health report until `done` holds (the heartbeat and the probes run in the
/// background), for at most ten seconds.
async fn health_until(
    app: &TestApp,
    admin: &reqwest::Client,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let response = admin
            .get(app.url("/api/admin/health"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let report = json(response).await;
        if done(&report) {
            return report;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}; the last report: {report:#}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn tile<'a>(report: &'a Value, key: &str) -> &'a Value {
    report["tiles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["key"] == key)
        .unwrap_or_else(|| panic!("no {key} tile in {report:#}"))
}

async fn the_health_report_grades_the_platform_and_sees_a_failing_broker(app: &TestApp) {
    let admin = signed_in_admin(app, "ops-admin@example.com").await;
    let report = health_until(app, &admin, "the heartbeat and the first probe", |r| {
        !r["instances"].as_array().unwrap().is_empty()
            && r["brokers"]
                .as_array()
                .unwrap()
                .iter()
                .any(|b| b["target"] == "simulated" && b["reachable"] == true)
    })
    .await;
    let instance = &report["instances"][0];
    assert_eq!(instance["id"], report["instance"]);
    assert_eq!(instance["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(instance["workers"], app.config.scheduler_workers);
    assert_eq!(instance["stale"], false);
    // This instance runs no workers: amber, saying so.
    assert_eq!(tile(&report, "workers")["level"], "warn", "{report:#}");
    assert!(
        tile(&report, "workers")["detail"]
            .as_str()
            .unwrap()
            .contains("0 worker(s)"),
        "{report:#}"
    );
    for key in [
        "scheduler_lag",
        "reconcile",
        "purchases",
        "database",
        "broker_simulated",
        "rate_limits",
        "errors",
    ] {
        assert_eq!(tile(&report, key)["level"], "ok", "{key}: {report:#}");
    }
    assert_eq!(report["level"], "warn");
    // Nobody uses their own paper or live keys: those are not probed.
    assert!(
        report["brokers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["target"] == "simulated" || b["in_use"] == false)
    );
    assert!(report["database_latency_ms"].as_u64().is_some());

    // The simulator fails every request: the tile turns red, and green again after.
    let sim = app.demo_broker_url().unwrap();
    let faults = app
        .client
        .post(format!("{sim}/sim/v1/faults"))
        .json(&json!({"error_rate": 1.0, "statuses": [503]}))
        .send()
        .await
        .unwrap();
    assert!(faults.status().is_success());
    let red = health_until(app, &admin, "the simulated broker's tile turns red", |r| {
        tile(r, "broker_simulated")["level"] == "critical"
    })
    .await;
    assert_eq!(red["level"], "critical");
    assert!(
        tile(&red, "broker_simulated")["detail"]
            .as_str()
            .unwrap()
            .contains("503"),
        "{red:#}"
    );
    app.client
        .delete(format!("{sim}/sim/v1/faults"))
        .send()
        .await
        .unwrap();
    health_until(app, &admin, "the tile turns green again", |r| {
        tile(r, "broker_simulated")["level"] == "ok"
    })
    .await;

    // A due purchase nobody runs is lag: with no workers it only grows.
    let stuck_at = app.clock.now().millis() - 400_000;
    let (user, _) = signed_up(app, "lagging@example.com").await;
    let id = user_id(app, &user).await;
    let plan = user
        .post(app.url("/api/dca/config"))
        .json(&weekly_plan("Lag"))
        .send()
        .await
        .unwrap();
    assert_eq!(plan.status(), 201);
    let plan_id = json(plan).await["id"].as_str().unwrap().to_owned();
    app.queue_slot(&plan_id, &id, stuck_at).await;
    let late = json(
        admin
            .get(app.url("/api/admin/health"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(
        late["scheduler_lag_seconds"].as_u64().unwrap() >= 400,
        "{late:#}"
    );
    assert_eq!(tile(&late, "scheduler_lag")["level"], "critical");
}

/// One OpenMetrics exposition, strictly: every line a `# TYPE`/`# HELP`/`# UNIT` comment,
/// a sample `name{labels} value`, or the final `# EOF`. Samples by their name and labels.
fn parse_exposition(text: &str) -> BTreeMap<String, f64> {
    let mut samples = BTreeMap::new();
    let mut saw_eof = false;
    for line in text.lines() {
        assert!(!saw_eof, "nothing follows # EOF");
        if line == "# EOF" {
            saw_eof = true;
            continue;
        }
        if let Some(comment) = line.strip_prefix("# ") {
            let mut parts = comment.splitn(3, ' ');
            let kind = parts.next().unwrap();
            assert!(
                ["TYPE", "HELP", "UNIT"].contains(&kind),
                "unknown comment: {line}"
            );
            let name = parts.next().unwrap_or_default();
            assert!(name.starts_with("quantshift_"), "{line}");
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
        let name_end = series.find('{').unwrap_or(series.len());
        let name = &series[..name_end];
        assert!(
            name.starts_with("quantshift_")
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{line}"
        );
        if name_end < series.len() {
            assert!(series.ends_with('}'), "{line}");
            let labels = &series[name_end + 1..series.len() - 1];
            for pair in labels.split("\",") {
                let (key, quoted) = pair.split_once('=').unwrap_or_else(|| panic!("{line}"));
                assert!(
                    key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                    "{line}"
                );
                assert!(quoted.starts_with('"'), "{line}");
            }
        }
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("not a number in {line}"));
        samples.insert(series.to_owned(), value);
    }
    assert!(saw_eof, "the exposition ends with # EOF");
    samples
}

async fn scrape(app: &TestApp) -> BTreeMap<String, f64> {
    let response = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    parse_exposition(&response.text().await.unwrap())
}

async fn metrics_want_the_token_and_count_requests_and_purchases(app: &TestApp) {
    for request in [
        app.client.get(app.url("/metrics")),
        app.client
            .get(app.url("/metrics"))
            .bearer_auth("metrics-token-wrong-guess"),
        app.client
            .get(app.url("/metrics"))
            .basic_auth(TOKEN, None::<&str>),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401);
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
    }
    // The separate listener wants no token.
    let open = reqwest::get(format!(
        "http://127.0.0.1:{}/metrics",
        app.metrics_port.expect("metrics_listen is set")
    ))
    .await
    .unwrap();
    assert_eq!(open.status(), 200);
    parse_exposition(&open.text().await.unwrap());

    app.set_market_time("2026-11-30T15:00:00Z").await;
    let (user, _) = signed_up(app, "counted@example.com").await;
    let refused = app
        .client
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": "counted@example.com", "password": "not the password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    for _ in 0..2 {
        let me = user.get(app.url("/api/auth/me")).send().await.unwrap();
        assert_eq!(me.status(), 200);
    }
    let plan = user
        .post(app.url("/api/dca/config"))
        .json(&weekly_plan("Counted"))
        .send()
        .await
        .unwrap();
    assert_eq!(plan.status(), 201);
    let plan_id = json(plan).await["id"].as_str().unwrap().to_owned();
    let before = scrape(app).await;
    let id = user_id(app, &user).await;
    let slot = app
        .queue_slot(&plan_id, &id, app.clock.now().millis())
        .await;
    // The order is recorded as sent a moment before its slot is marked done: wait for both.
    let mut purchases = Vec::new();
    let mut slot_state = String::new();
    for _ in 0..300 {
        purchases = app.db.purchases_of_slot(&slot).await.unwrap();
        slot_state = sqlx::query_scalar("SELECT state FROM slots WHERE id = $1")
            .bind(&slot)
            .fetch_one(app.db.pool())
            .await
            .unwrap();
        if slot_state == "done"
            && purchases
                .first()
                .is_some_and(|p| ["accepted", "filled"].contains(&p.status.as_str()))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!purchases.is_empty(), "the slot sent its order");
    assert_eq!(slot_state, "done");
    let after = scrape(app).await;
    let count =
        |samples: &BTreeMap<String, f64>, key: &str| samples.get(key).copied().unwrap_or(0.0);
    // The order may fill between reading its status and the scrape: one purchase is one
    // more `accepted` or `filled`, whichever it is by then.
    let sent = |samples: &BTreeMap<String, f64>| {
        count(samples, "quantshift_purchases{status=\"accepted\"}")
            + count(samples, "quantshift_purchases{status=\"filled\"}")
    };
    assert_eq!(sent(&after), sent(&before) + 1.0, "{after:#?}");
    assert!(
        count(&after, "quantshift_slots{state=\"done\"}") >= 1.0,
        "{after:#?}"
    );
    assert_eq!(count(&after, "quantshift_sign_in_failures_total"), 1.0);
    assert!(
        count(
            &after,
            "quantshift_http_requests_total{route=\"/api/auth/me\",method=\"GET\",status=\"200\"}"
        ) >= 2.0,
        "{after:#?}"
    );
    assert!(
        after.keys().any(|k| k.starts_with("quantshift_http_requests_total{route=\"/api/dca/config\",method=\"POST\",status=\"201\"")),
        "{after:#?}"
    );
    assert!(
        after.iter().any(|(k, v)| k
            .starts_with("quantshift_broker_request_duration_seconds_count{endpoint=")
            && k.to_lowercase().contains("order")
            && *v >= 1.0),
        "an order was sent: {after:#?}"
    );
    assert!(count(&after, "quantshift_db_pool_connections{state=\"max\"}") >= 1.0);
    // Unknown paths and methods share one label each, whatever they are.
    app.client
        .get(app.url("/no/such/thing/123"))
        .send()
        .await
        .unwrap();
    app.client
        .request(
            reqwest::Method::from_bytes(b"BREW").unwrap(),
            app.url("/api/auth/me"),
        )
        .send()
        .await
        .unwrap();
    let last = scrape(app).await;
    assert!(
        last.keys().any(|k| k.contains("method=\"other\"")),
        "{last:#?}"
    );
    assert!(!last.keys().any(|k| k.contains("BREW")), "{last:#?}");
    assert!(
        last.keys().any(|k| k.contains("route=\"unmatched\"")),
        "{last:#?}"
    );
    assert!(!last.keys().any(|k| k.contains("/no/such")), "{last:#?}");
}

on_both_backends!(config |c: &mut server::config::Config| {
    c.demo_broker = true;
    c.health_probe_ms = 100;
    c.scheduler_workers = 0;
}; the_health_report_grades_the_platform_and_sees_a_failing_broker);

mod metrics {
    use super::*;
    on_both_backends!(config |c: &mut server::config::Config| {
        c.demo_broker = true;
        c.metrics_token = Some(crate::ops::TOKEN.to_owned());
        c.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    }; metrics_want_the_token_and_count_requests_and_purchases);
}

#[tokio::test]
async fn metrics_are_not_served_on_the_main_listener_without_a_token() {
    let Some(app) = TestApp::spawn(crate::helpers::Backend::Sqlite).await else {
        return;
    };
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    app.cleanup().await;
}
