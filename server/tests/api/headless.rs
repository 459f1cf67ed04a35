//! `quantshift bot --config bot.yaml`, the real binary, against the simulated broker on a
//! frozen clock the test moves day by day (the bot reads the broker's clock): it warms up,
//! buys on its first signal, reloads its file on SIGHUP (a bad file is refused and the bot
//! goes on), stops on SIGTERM after the step in hand, and resumes from its state file
//! without sending an order twice. `bot status` reads the state file.

use serde_json::Value;
use sim::{SimConfig, Simulator};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const KEY_ID: &str = "PKHEADLESSTEST";

fn ny(date: jiff::civil::Date, hour: i8, minute: i8) -> jiff::Timestamp {
    app::domain::calendar::new_york()
        .to_timestamp(date.at(hour, minute, 0, 0))
        .unwrap()
}

fn yaml(broker: &str, capital: &str, evaluate_at: &str, extra: &str) -> String {
    format!(
        "symbol: SPY\ncapital: \"{capital}\"\nevaluate_at: \"{evaluate_at}\"\n{extra}\
         broker:\n  url: {broker}\n  data_url: {broker}\n  key_id: {KEY_ID}\n  secret: s3cret\n  clock: broker\n\
         state: state/bot.sqlite\nlog_format: json\npoll_ms: 50\n"
    )
}

fn quantshift(args: &[&str], file: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_quantshift"));
    command
        .env_remove("APCA_API_KEY_ID")
        .env_remove("APCA_API_SECRET_KEY")
        .env("RUST_LOG", "info")
        .arg("bot")
        .args(args)
        .arg("--config")
        .arg(file);
    command
}

fn start(file: &Path, log: &Path) -> Child {
    let out = std::fs::File::create(log).unwrap();
    quantshift(&[], file)
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("the quantshift binary starts")
}

/// `bot status --json`, or its error text.
fn status(file: &Path) -> Result<Value, String> {
    let output = quantshift(&["status", "--json"], file).output().unwrap();
    if output.status.success() {
        Ok(serde_json::from_slice(&output.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

/// Polls `bot status` until `done` holds (the bot works in its own time).
fn wait_for(file: &Path, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let last = status(file);
        if let Ok(state) = &last
            && done(state)
        {
            return state.clone();
        }
        assert!(
            Instant::now() < deadline,
            "waited a minute for {what}; last status: {last:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn signal(child: &Child, name: &str) {
    let sent = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "the bot did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
}

async fn set_time(broker: &str, when: jiff::Timestamp) {
    let response = reqwest::Client::new()
        .post(format!("{broker}/sim/v1/clock"))
        .json(&serde_json::json!({"now": when.to_string()}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
}

/// The orders the simulated account holds (every status).
async fn broker_orders(broker: &str) -> Vec<Value> {
    reqwest::Client::new()
        .get(format!("{broker}/v2/orders?status=all&limit=500"))
        .header("APCA-API-KEY-ID", KEY_ID)
        .header("APCA-API-SECRET-KEY", "s3cret")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn new_york_date(at: &Value) -> jiff::civil::Date {
    let at: jiff::Timestamp = at.as_str().unwrap().parse().unwrap();
    app::domain::calendar::new_york().to_datetime(at).date()
}

/// One trading day: the open (last night's order fills and is reconciled), then the
/// evaluation at `evaluate_at` + 1 minute, waited for in the bot's runs.
async fn trade_day(
    broker: &str,
    file: &Path,
    session: &app::domain::calendar::Session,
    evaluation: (i8, i8),
) -> Value {
    set_time(
        broker,
        session
            .open_at()
            .checked_add(jiff::SignedDuration::from_mins(1))
            .unwrap(),
    )
    .await;
    wait_for(file, "last night's order to be answered", |s| {
        s["waiting"] == 0
    });
    set_time(broker, ny(session.date, evaluation.0, evaluation.1 + 1)).await;
    wait_for(file, "the day's evaluation", |s| {
        s["runs"]
            .as_array()
            .and_then(|runs| runs.first())
            .is_some_and(|run| new_york_date(&run["at"]) == session.date)
    })
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("qs-headless-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_bad_file_is_refused_with_the_keys_path() {
    let dir = temp_dir();
    let file = dir.join("bot.yaml");
    std::fs::write(
        &file,
        "symbol: SPY\ncapital: 100.50\nbroker: {}\nstrategy:\n  fsat: 3\n",
    )
    .unwrap();
    let output = quantshift(&[], &file).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("is not a valid bot configuration"),
        "{stderr}"
    );
    assert!(
        stderr.contains("capital: write amounts with cents in quotes"),
        "{stderr}"
    );
    std::fs::write(
        &file,
        "symbol: SPY\ncapital: \"100\"\nbroker: {}\nstrategy:\n  fsat: 3\n",
    )
    .unwrap();
    let output = quantshift(&["status"], &file).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("strategy.fsat: unknown field `fsat`"),
        "{stderr}"
    );
    std::fs::write(&file, "symbol: SPY\ncapital: \"100\"\nbroker: {}\n").unwrap();
    let output = quantshift(&["status"], &file).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("the bot has not run"), "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_yaml_bot_trades_reloads_stops_and_resumes() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let broker = format!("http://{}", listener.local_addr().unwrap());
    let first_day = jiff::civil::date(2026, 6, 1);
    // The simulator the api tests' bots run on (the same seed, so the same bars).
    let sim = Simulator::new(SimConfig {
        auto_accounts: true,
        rate_limit_per_min: 100_000,
        start_time: Some(ny(first_day, 10, 0)),
        speed: 0.0,
        allow_control_api: true,
        state_file: None,
        ..SimConfig::default()
    });
    tokio::spawn(sim::serve(listener, sim, std::future::pending()));
    let dir = temp_dir();
    let file = dir.join("bot.yaml");
    std::fs::write(&file, yaml(&broker, "10000", "16:10", "")).unwrap();
    let log = dir.join("bot.log");
    let mut bot = start(&file, &log);

    let first = wait_for(&file, "the bot to start", |s| s["status"] == "active");
    assert_eq!(first["symbol"], "SPY");
    assert_eq!(first["capital"], "10000");
    assert_eq!(first["qty"], "0");
    assert_eq!(
        new_york_date(&first["next_evaluation"]),
        first_day,
        "{first}"
    );
    let days: Vec<_> = app::domain::calendar::sessions(first_day, jiff::civil::date(2026, 12, 31))
        .take(8)
        .collect();
    // Warm-up from the broker's history: the first evaluation is informed at once.
    let day_one = trade_day(&broker, &file, &days[0], (16, 10)).await;
    assert_eq!(day_one["informed"], true, "{day_one}");
    assert_eq!(day_one["runs"][0]["state"], "done", "{day_one}");
    // Its first crossover (the api suite's bots see it on 2026-06-08): a buy for the next open.
    let mut state = day_one;
    for day in &days[1..6] {
        state = trade_day(&broker, &file, day, (16, 10)).await;
    }
    assert_eq!(days[5].date, jiff::civil::date(2026, 6, 8));
    assert_eq!(state["waiting"], 1, "a buy waits for the open: {state}");
    state = trade_day(&broker, &file, &days[6], (16, 10)).await;
    let qty: rust_decimal::Decimal = state["qty"].as_str().unwrap().parse().unwrap();
    assert!(qty > rust_decimal::Decimal::ZERO, "{state}");
    assert!(
        state["entry"].is_string() && state["stop"].is_string(),
        "{state}"
    );
    let orders = broker_orders(&broker).await;
    assert_eq!(orders.len(), 1, "{orders:?}");
    assert_eq!(orders[0]["side"], "buy");
    assert_eq!(orders[0]["status"], "filled");

    // SIGHUP: a new capital and evaluation time.
    std::fs::write(&file, yaml(&broker, "12000", "16:30", "")).unwrap();
    signal(&bot, "HUP");
    let reloaded = wait_for(&file, "the reloaded file", |s| s["capital"] == "12000");
    let next: jiff::Timestamp = reloaded["next_evaluation"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // A new time counts from the next trading day: today's evaluation has run, and a plan
    // never runs twice on one day.
    assert_eq!(next, ny(days[7].date, 16, 30), "{reloaded}");
    // A bad file is refused: the bot goes on as it was.
    std::fs::write(
        &file,
        yaml(&broker, "12000", "16:30", "strategy: {fast: 50}\n"),
    )
    .unwrap();
    signal(&bot, "HUP");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&log)
        .unwrap()
        .contains("the configuration was not reloaded")
    {
        assert!(Instant::now() < deadline, "the bad file was not reported");
        std::thread::sleep(Duration::from_millis(50));
    }
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("strategy.fast"), "{logged}");
    assert!(bot.try_wait().unwrap().is_none(), "the bot still runs");

    // SIGTERM: it stops cleanly.
    signal(&bot, "TERM");
    assert!(wait_exit(&mut bot).success());
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("\"bot stopped\""), "{logged}");
    // Its orders and evaluations were logged as JSON lines.
    assert!(
        logged
            .lines()
            .any(|l| l.contains("\"order\"") && l.contains("\"side\":\"buy\"")),
        "{logged}"
    );

    // A restart resumes from the state file: the same bot, its position, no second order.
    std::fs::write(&file, yaml(&broker, "12000", "16:30", "")).unwrap();
    let mut bot = start(&file, &dir.join("bot2.log"));
    let state = trade_day(&broker, &file, &days[7], (16, 30)).await;
    assert_eq!(state["id"], reloaded["id"]);
    assert_eq!(state["runs"][0]["state"], "done", "{state}");
    let held: rust_decimal::Decimal = state["qty"].as_str().unwrap().parse().unwrap();
    let orders = broker_orders(&broker).await;
    let buys = orders.iter().filter(|o| o["side"] == "buy").count();
    assert_eq!(buys, 1, "one buy, never sent twice: {orders:?}");
    if orders.len() == 1 {
        assert_eq!(held, qty);
    }
    signal(&bot, "TERM");
    assert!(wait_exit(&mut bot).success());
    let text = quantshift(&["status"], &file).output().unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.starts_with("SPY MA crossover (active)"), "{text}");
    assert!(text.contains("Next evaluation:"), "{text}");
    // A state file an older QuantShift wrote (its newest migration not applied): `status`
    // never migrates it (a bot may run beside it) and says what to do.
    let state = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        file.parent().unwrap().join("state/bot.sqlite").display()
    ))
    .await
    .unwrap();
    sqlx::query(
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)",
    )
    .execute(&state)
    .await
    .unwrap();
    state.close().await;
    let output = quantshift(&["status"], &file).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("written by an older QuantShift"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
