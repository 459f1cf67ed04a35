//! Test harness: a fresh database per test, the real application on port 0, an HTTP
//! client with a cookie jar, and a clock the test controls.

use app::domain::time::{Clock, Timestamp};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use server::config::Config;
use server::db::Db;
use server::startup::Application;
use sqlx::Connection as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use tokio::sync::oneshot;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A clock that stands still until the test moves it.
#[derive(Debug)]
pub struct TestClock(AtomicI64);

impl TestClock {
    pub fn advance_minutes(&self, minutes: i64) {
        self.0.fetch_add(minutes * 60_000, Ordering::SeqCst);
    }

    /// Sets the clock to this instant.
    pub fn set(&self, to: Timestamp) {
        self.0.store(to.millis(), Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.0.load(Ordering::SeqCst))
    }
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub db: Db,
    pub clock: Arc<TestClock>,
    pub config: Config,
    data_dir: PathBuf,
    pg_database: Option<(String, String)>,
    shutdown: Option<(oneshot::Sender<()>, tokio::task::JoinHandle<()>)>,
    demo_broker_url: Option<String>,
    brokers: Option<Arc<server::broker::directory::BrokerDirectory>>,
    portfolio: Option<Arc<server::dca::portfolio::PortfolioService>>,
    events: Option<server::events::EventBus>,
    /// The in-process Stripe stand-in (billing on in demo mode without a Stripe key).
    pub stripe: Option<Arc<sim::stripe::StripeStandin>>,
    /// The `metrics_listen` port, when the config asks for one.
    pub metrics_port: Option<u16>,
    mail: Option<Arc<server::mail::MailService>>,
}

const PG_DEFAULT: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A fresh PostgreSQL database, or `None` when PostgreSQL is not reachable and not required
/// (`QS_REQUIRE_POSTGRES=1`, which CI sets, turns its absence into a failure).
async fn fresh_postgres(name: &str) -> Option<(String, String)> {
    let admin_url = std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| PG_DEFAULT.to_owned());
    let required = std::env::var("QS_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
    let mut conn = match sqlx::PgConnection::connect(&admin_url).await {
        Ok(conn) => conn,
        Err(err) if required => {
            panic!("PostgreSQL is required but unreachable at {admin_url}: {err}")
        }
        Err(err) => {
            eprintln!("skipping: PostgreSQL unreachable at {admin_url}: {err}");
            return None;
        }
    };
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.ok();
    let (base, _) = admin_url
        .rsplit_once('/')
        .expect("TEST_DATABASE_URL ends in /<database>");
    Some((admin_url.clone(), format!("{base}/{name}")))
}

impl TestApp {
    /// The default test configuration for `backend`, or `None` to skip (no PostgreSQL).
    pub async fn config(backend: Backend) -> Option<(Config, PathBuf, Option<(String, String)>)> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let data_dir = std::env::temp_dir().join(format!("qs-test-{id}"));
        let mut config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: data_dir.clone(),
            admin_email: Some("admin@example.com".into()),
            sign_in_max_failures: 3,
            // Tests that need the demo broker turn it on.
            demo_broker: false,
            scheduler_poll_ms: 20,
            // Tests press "buy now" more often than a person; the limit has its own test.
            run_now_per_hour: 1000,
            // Tests create many accounts from one address; the limit has its own test.
            sign_ups_per_hour: 1000,
            ..Config::default()
        };
        let mut pg = None;
        if backend == Backend::Postgres {
            let name = format!("qs_test_{}", &id[..16]);
            let (admin_url, url) = fresh_postgres(&name).await?;
            config.database_url = Some(url);
            pg = Some((admin_url, name));
        }
        Some((config, data_dir, pg))
    }

    pub async fn spawn(backend: Backend) -> Option<Self> {
        Self::spawn_with(backend, |_| {}).await
    }

    /// An app on the in-process demo broker whose scheduler the test drives by hand (no
    /// background workers), or `None` to skip.
    pub async fn spawn_hand_driven(backend: Backend) -> Option<Self> {
        Self::spawn_with(backend, |c| {
            c.demo_broker = true;
            c.scheduler_workers = 0;
        })
        .await
    }

    /// [`Self::spawn_hand_driven`] with the broker's allowance raised (the server's and the
    /// demo broker's): for months of simulated trading days in seconds, which the 200
    /// requests a minute of a real account would spread over months.
    pub async fn spawn_hand_driven_unthrottled(backend: Backend) -> Option<Self> {
        Self::spawn_with(backend, |c| {
            c.demo_broker = true;
            c.scheduler_workers = 0;
            c.broker_rate_limit_per_min = 100_000;
        })
        .await
    }

    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Option<Self> {
        let (mut config, data_dir, pg_database) = Self::config(backend).await?;
        adjust(&mut config);
        let clock = Arc::new(TestClock(AtomicI64::new(1_795_824_000_000)));
        let mut app = TestApp {
            base: String::new(),
            client: client(),
            db: Db::connect(&config.database_url()).await.unwrap(),
            clock,
            config,
            data_dir,
            pg_database,
            shutdown: None,
            demo_broker_url: None,
            brokers: None,
            portfolio: None,
            events: None,
            stripe: None,
            metrics_port: None,
            mail: None,
        };
        app.start().await;
        Some(app)
    }

    async fn start(&mut self) {
        let application = Application::build_with_clock(&self.config, self.clock.clone())
            .await
            .unwrap();
        self.base = format!("http://127.0.0.1:{}", application.port());
        self.demo_broker_url = application.demo_broker_url().map(str::to_owned);
        self.metrics_port = application.metrics_port();
        self.brokers = Some(application.brokers());
        self.portfolio = Some(application.portfolio());
        self.events = Some(application.events());
        self.stripe = application.stripe_standin();
        self.mail = Some(application.mail());
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(async move {
            application
                .run_until(async { rx.await.unwrap_or(()) })
                .await
                .unwrap();
        });
        self.shutdown = Some((tx, handle));
    }

    async fn stop(&mut self) {
        if let Some((tx, handle)) = self.shutdown.take() {
            let _ = tx.send(());
            handle.await.unwrap();
        }
    }

    /// Stops the server and starts a new one on the same database, keeping the cookie jar.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.start().await;
    }

    /// Stops the server and removes the database.
    pub async fn cleanup(mut self) {
        self.stop().await;
        self.db.close().await;
        let _ = std::fs::remove_dir_all(&self.data_dir);
        if let Some((admin_url, name)) = self.pg_database.take()
            && let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url).await
        {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut conn)
                .await;
        }
    }

    /// A scheduler worker the test drives itself (`tick`, `reconcile_once`): a one-minute
    /// lease and a 30-second slot budget, then `adjust`.
    pub fn worker(
        &self,
        adjust: impl FnOnce(&mut server::dca::scheduler::SchedulerConfig),
    ) -> Arc<server::dca::scheduler::Scheduler> {
        let mut config = server::dca::scheduler::SchedulerConfig {
            workers: 1,
            lease: std::time::Duration::from_secs(60),
            slot_budget: std::time::Duration::from_secs(30),
            ..Default::default()
        };
        adjust(&mut config);
        server::dca::scheduler::Scheduler::new(
            self.db.clone(),
            self.clock.clone(),
            self.brokers(),
            self.events(),
            self.portfolio.clone().expect("the app is running"),
            config,
        )
    }

    /// Puts a due scheduled slot of `plan_id` for `user_id` at `slot_at` straight into the
    /// queue (any user id: claims are fair per user). Returns its id.
    pub async fn queue_slot(&self, plan_id: &str, user_id: &str, slot_at: i64) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        sqlx::query(
            "INSERT INTO slots (id, plan_id, user_id, slot_at, kind, state, not_before, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'scheduled', 'due', $4, $4, $4)",
        )
        .bind(&id)
        .bind(plan_id)
        .bind(user_id)
        .bind(slot_at)
        .execute(self.db.pool())
        .await
        .unwrap();
        id
    }

    /// The running instance's e-mail service.
    pub fn mail(&self) -> Arc<server::mail::MailService> {
        self.mail.clone().expect("the app is running")
    }

    pub fn events(&self) -> server::events::EventBus {
        self.events.clone().expect("the app is running")
    }

    /// Where the app finds each user's broker.
    pub fn brokers(&self) -> Arc<server::broker::directory::BrokerDirectory> {
        self.brokers.clone().expect("the app is running")
    }

    /// Sets the demo broker's clock (its control API), e.g. to a time the market is open.
    pub async fn set_market_time(&self, now: &str) {
        let url = self.demo_broker_url.clone().expect("the demo broker runs");
        let response = reqwest::Client::new()
            .post(format!("{url}/sim/v1/clock"))
            .json(&serde_json::json!({"now": now}))
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{}",
            response.text().await.unwrap_or_default()
        );
    }

    pub fn demo_broker_url(&self) -> Option<String> {
        self.demo_broker_url.clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn post_json(&self, path: &str, body: serde_json::Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn sign_up(&self, email: &str, password: &str) -> reqwest::Response {
        self.post_json(
            "/api/auth/signup",
            serde_json::json!({"email": email, "password": password}),
        )
        .await
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> reqwest::Response {
        self.post_json(
            "/api/auth/login",
            serde_json::json!({"email": email, "password": password}),
        )
        .await
    }

    pub async fn sign_out(&self) -> reqwest::Response {
        self.client
            .post(self.url("/api/auth/logout"))
            .header(CONTENT_TYPE, "application/json")
            .send()
            .await
            .unwrap()
    }

    /// A second client with its own (empty) cookie jar against the same server.
    pub fn other_client(&self) -> reqwest::Client {
        client()
    }

    pub async fn audit_actions(&self) -> Vec<String> {
        let mut rows = self.db.recent_audit(1000).await.unwrap();
        rows.reverse();
        rows.into_iter().map(|r| r.action).collect()
    }
}

fn client() -> reqwest::Client {
    let mut headers = HeaderMap::new();
    headers.insert("accept", HeaderValue::from_static("application/json"));
    reqwest::Client::builder()
        .cookie_store(true)
        // A request that never finishes fails its test instead of hanging the suite.
        .timeout(std::time::Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .unwrap()
}

/// The password every test account uses unless it says otherwise.
pub const PASSWORD: &str = "correct horse battery";

/// Signs up with a fresh client and returns it with its session cookie.
pub async fn signed_up(app: &TestApp, email: &str) -> (reqwest::Client, String) {
    let client = app.other_client();
    let response = client
        .post(app.url("/api/auth/signup"))
        .json(&serde_json::json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let cookie = session_cookie(&response);
    (client, cookie)
}

/// A fresh client signed in as a new admin (`email`): signed up, then promoted as an
/// operator would (`quantshift user promote`); signing up never makes an admin.
pub async fn signed_in_admin(app: &TestApp, email: &str) -> reqwest::Client {
    let (client, _) = signed_up(app, email).await;
    let promoted = app
        .db
        .set_user_role(
            &app::domain::account::Email::parse(email).unwrap(),
            app::domain::account::Role::Admin,
            app::domain::time::Clock::now(&*app.clock),
        )
        .await
        .unwrap();
    assert!(promoted);
    client
}

/// Marks `email`'s address verified, as its link would (for tests about something else:
/// `email.rs` verifies through the e-mail itself).
pub async fn mark_verified(app: &TestApp, email: &str) {
    let done = sqlx::query("UPDATE users SET email_verified_at = 1 WHERE email = $1")
        .bind(email)
        .execute(app.db.pool())
        .await
        .unwrap();
    assert_eq!(done.rows_affected(), 1, "no user {email}");
}

/// The id of the user `client` is signed in as.
pub async fn user_id(app: &TestApp, client: &reqwest::Client) -> String {
    let me = client.get(app.url("/api/auth/me")).send().await.unwrap();
    json(me).await["user"]["id"].as_str().unwrap().to_owned()
}

/// The `qs_session=…` pair a response set, to send as a cookie header.
pub fn session_cookie(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("qs_session="))
        .expect("a session cookie")
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub async fn live(app: &TestApp, cookie: &str) -> Socket {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let mut request = app
        .url("/api/ws")
        .replacen("http", "ws", 1)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("cookie", cookie.parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(
        next_json(&mut socket, std::time::Duration::from_secs(2))
            .await
            .unwrap()["type"],
        "hello"
    );
    socket
}

pub async fn next_json(
    socket: &mut Socket,
    within: std::time::Duration,
) -> Option<serde_json::Value> {
    use futures_util::StreamExt as _;
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let message = tokio::time::timeout_at(deadline, socket.next())
            .await
            .ok()??
            .ok()?;
        if let tokio_tungstenite::tungstenite::Message::Text(text) = message {
            return serde_json::from_str(&text).ok();
        }
    }
}

pub async fn json(response: reqwest::Response) -> serde_json::Value {
    response.json().await.unwrap()
}

/// Runs each named test on SQLite and on PostgreSQL, in modules `sqlite` and `postgres`:
/// - `on_both_backends!(a, b)`: each `async fn(&TestApp)` against a fresh app;
/// - `on_both_backends!(demo_broker: a, b)`: the same, the apps running the in-process
///   simulated broker;
/// - `on_both_backends!(config |c: &mut Config| ...; a, b)`: the same, with the apps'
///   configuration adjusted first;
/// - `on_both_backends!(backend: a, b)`: each `async fn(Backend)` that starts what it
///   needs itself (restarts, several instances, an external broker), in modules
///   `on_sqlite` and `on_postgres` (a file may use this form besides one of the others).
///
/// On PostgreSQL a test is skipped when the server is not reachable, unless
/// `QS_REQUIRE_POSTGRES=1` (CI) makes that a failure.
macro_rules! on_both_backends {
    (demo_broker: $($name:ident),* $(,)?) => {
        on_both_backends!(config |c: &mut server::config::Config| c.demo_broker = true; $($name),*);
    };
    (backend: $($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(crate::helpers::Backend::Sqlite).await;
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(crate::helpers::Backend::Postgres).await;
                }
            )*
        }
    };
    (config $adjust:expr; $($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let app = crate::helpers::TestApp::spawn_with(crate::helpers::Backend::Sqlite, $adjust).await.unwrap();
                    super::$name(&app).await;
                    app.cleanup().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    if let Some(app) = crate::helpers::TestApp::spawn_with(crate::helpers::Backend::Postgres, $adjust).await {
                        super::$name(&app).await;
                        app.cleanup().await;
                    }
                }
            )*
        }
    };
    ($($name:ident),* $(,)?) => {
        on_both_backends!(config |_: &mut server::config::Config| {}; $($name),*);
    };
}

/// Sells `qty` of `symbol` in the demo account of the signed-in user straight at the
/// simulated broker (as the user could in Alpaca's own app); returns the fill price.
pub async fn sell_at_the_broker(app: &TestApp, symbol: &str, qty: &str) -> rust_decimal::Decimal {
    trade_at_the_broker(app, "sell", symbol, qty).await
}

/// Buys (`side` "buy") or sells `qty` of `symbol` straight at the simulated broker, like
/// [`sell_at_the_broker`]; returns the fill price.
pub async fn trade_at_the_broker(
    app: &TestApp,
    side: &str,
    symbol: &str,
    qty: &str,
) -> rust_decimal::Decimal {
    let id = user_id(app, &app.client).await;
    let sim = app.demo_broker_url().unwrap();
    let client = reqwest::Client::new();
    let keyed = |request: reqwest::RequestBuilder| {
        request
            .header(
                "APCA-API-KEY-ID",
                format!("QSDEMO{}", id.replace('-', "").to_uppercase()),
            )
            .header("APCA-API-SECRET-KEY", format!("demo-{id}"))
    };
    let order = keyed(client.post(format!("{sim}/v2/orders")))
        .json(
            &serde_json::json!({"symbol": symbol, "qty": qty, "side": side, "type": "market",
                      "time_in_force": "day"}),
        )
        .send()
        .await
        .unwrap();
    assert!(
        order.status().is_success(),
        "{}",
        order.text().await.unwrap()
    );
    let order_id = json(order).await["id"].as_str().unwrap().to_owned();
    for _ in 0..100 {
        let order = json(
            keyed(client.get(format!("{sim}/v2/orders/{order_id}")))
                .send()
                .await
                .unwrap(),
        )
        .await;
        if order["status"] == "filled" {
            return order["filled_avg_price"].as_str().unwrap().parse().unwrap();
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the {side} order did not fill");
}
