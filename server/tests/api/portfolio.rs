//! The portfolio reads the pages use besides the account: historical bars from the
//! user's broker (for backtests in the browser), and how bad queries are named.

use crate::helpers::{PASSWORD, TestApp, json};

async fn bars_come_from_the_broker_and_bad_queries_are_named(app: &TestApp) {
    let anonymous = app
        .get("/api/bars?symbol=SPY&from=2024-01-02&to=2024-01-31")
        .await;
    assert_eq!(anonymous.status(), 401);
    app.sign_up("bars@example.com", PASSWORD).await;
    let response = app
        .get("/api/bars?symbol=SPY&from=2024-01-02&to=2024-01-31&timeframe=1Day")
        .await;
    assert_eq!(response.status(), 200);
    let bars = json(response).await;
    let bars = bars.as_array().unwrap();
    // January 2024 had 21 sessions from the 2nd (the 15th was a holiday).
    assert_eq!(bars.len(), 21, "{bars:?}");
    assert!(bars[0]["close"].is_string(), "prices are decimal strings");
    let times: Vec<&str> = bars.iter().map(|b| b["time"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "oldest first");

    let hourly = app
        .get("/api/bars?symbol=SPY&from=2024-01-02&to=2024-01-03&timeframe=1Hour")
        .await;
    assert_eq!(hourly.status(), 200);
    let hourly = json(hourly).await;
    let hours: Vec<&str> = hourly
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["time"].as_str().unwrap())
        .collect();
    // Two sessions of regular hours (09:30–16:00 New York, 14:30–21:00 UTC in January);
    // a bar is labelled with the start of its hour, so 14:00 (14:30–15:00) to 20:00 UTC.
    assert_eq!(hours.len(), 14, "{hours:?}");
    assert!(hours.windows(2).all(|w| w[0] < w[1]), "oldest first");
    assert!(
        hours.iter().all(|t| {
            let hour = &t[11..13];
            (t.starts_with("2024-01-02") || t.starts_with("2024-01-03"))
                && ("14"..="20").contains(&hour)
        }),
        "only market hours: {hours:?}"
    );

    let bad = app
        .get("/api/bars?symbol=SPY&from=2024-02-01&to=2024-01-01")
        .await;
    assert_eq!(bad.status(), 422);
    let body = json(bad).await;
    assert!(
        body["error"]["fields"]["to"]
            .as_str()
            .unwrap()
            .contains("before the start"),
        "{body}"
    );
    let unknown = app
        .get("/api/bars?symbol=SPY&from=2024-01-02&to=2024-01-31&timeframe=5Min")
        .await;
    assert_eq!(unknown.status(), 422);
}

on_both_backends!(demo_broker: bars_come_from_the_broker_and_bad_queries_are_named);
