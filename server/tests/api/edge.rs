//! The public edge: request size and time limits, security headers, unknown API paths,
//! and live sockets that end with their sessions.

use crate::helpers::{
    Backend, PASSWORD, Socket, TestApp, json, live, next_json, session_cookie, signed_up, user_id,
};
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::json;
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

/// Opens a raw connection to the app, for requests no well-behaved client would send.
async fn raw(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// Reads what the server sends until it closes the connection or `within` passes.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (String, bool) {
    let mut received = Vec::new();
    let mut buffer = [0u8; 8192];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&received).into(), true),
            Ok(Ok(n)) => received.extend_from_slice(&buffer[..n]),
            Err(_) => return (String::from_utf8_lossy(&received).into(), false),
        }
    }
}

fn error_code(response: &str) -> serde_json::Value {
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or("");
    serde_json::from_str::<serde_json::Value>(body).unwrap_or_default()["error"]["code"].clone()
}

#[tokio::test]
async fn oversized_bodies_are_refused_before_they_are_read() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    // A declared length over the limit: refused at once, on a server function anyone
    // may call and on a REST route alike, without the body ever being sent.
    for (path, content_type) in [
        ("/api/fn/sign_in", "application/x-www-form-urlencoded"),
        ("/api/auth/signup", "application/json"),
    ] {
        let mut stream = raw(&app).await;
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {content_type}\r\n\
             Content-Length: 10000000\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let (response, closed) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
        assert!(response.starts_with("HTTP/1.1 413"), "{path}: {response}");
        assert_eq!(error_code(&response), "payload_too_large", "{response}");
        assert!(
            closed,
            "{path}: the connection is closed, the rest never read"
        );
    }

    // A chunked body is cut off as soon as it passes the limit.
    let mut stream = raw(&app).await;
    let size = server::http::limits::MAX_BODY_BYTES + 1;
    let mut request = format!(
        "POST /api/fn/sign_in HTTP/1.1\r\nHost: localhost\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n\
         {size:x}\r\n"
    )
    .into_bytes();
    request.extend(std::iter::repeat_n(b'a', size));
    stream.write_all(&request).await.unwrap();
    let (response, _) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert_eq!(error_code(&response), "payload_too_large");

    // Just under the limit is read and judged on its merits.
    let padding = "x".repeat(server::http::limits::MAX_BODY_BYTES - 200);
    let response = app
        .post_json(
            "/api/auth/signup",
            json!({"email": "pad@example.com", "password": PASSWORD, "padding": padding}),
        )
        .await;
    assert_ne!(response.status(), 413);
    app.cleanup().await;
}

#[tokio::test]
async fn slow_clients_are_cut_off() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.client_timeout_ms = 500;
        c.keep_alive_timeout_ms = 500;
    })
    .await
    .unwrap();

    // A body that never finishes: 408 in the JSON envelope, and the connection closed.
    let mut stream = raw(&app).await;
    stream
        .write_all(
            b"POST /api/auth/login HTTP/1.1\r\nHost: localhost\r\n\
              Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"email\"",
        )
        .await
        .unwrap();
    let (response, closed) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert_eq!(error_code(&response), "request_timeout");
    assert!(closed);

    // Headers that never finish: the connection is closed.
    let mut stream = raw(&app).await;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: loc")
        .await
        .unwrap();
    let (_, closed) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(closed, "a request head trickled in too slowly is dropped");

    // A connection that sends nothing, and one left idle after a request, are closed too.
    let mut silent = raw(&app).await;
    let (_, closed) = read_until_closed(&mut silent, Duration::from_secs(5)).await;
    assert!(closed, "a silent connection is dropped");
    let mut idle = raw(&app).await;
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let (response, closed) = read_until_closed(&mut idle, Duration::from_secs(5)).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(closed, "an idle kept-alive connection is dropped");

    // A prompt client is unaffected (a fresh one: no pooled connection about to close).
    let prompt = app.other_client();
    assert_eq!(
        prompt
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    app.cleanup().await;
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let page = app
        .client
        .get(app.url("/"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    let policy = headers["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let html = page.text().await.unwrap();
    let nonce = policy
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap_or_else(|| panic!("the page policy has a nonce: {policy}"))
        .to_owned();
    assert!(policy.contains("'wasm-unsafe-eval'"), "{policy}");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    // Every script on the page carries the nonce (none would run otherwise).
    let scripts = html.matches("<script").count();
    assert!(scripts > 0, "the page has its hydration script");
    for (i, _) in html.match_indices("<script") {
        let tag = html[i..].split('>').next().unwrap();
        assert!(tag.contains(&format!("nonce=\"{nonce}\"")), "{tag}");
    }
    // A fresh nonce for every page.
    let again = app.get("/").await;
    assert_ne!(
        again.headers()["content-security-policy"].to_str().unwrap(),
        policy
    );

    for response in [
        headers,
        app.get("/api/auth/me").await.headers().clone(),
        app.get("/healthz").await.headers().clone(),
    ] {
        assert_eq!(response["x-content-type-options"], "nosniff");
        assert_eq!(response["referrer-policy"], "same-origin");
        assert_eq!(response["x-frame-options"], "DENY");
        assert!(response.contains_key("content-security-policy"));
        // Served over http: no HSTS (it would be ignored, or stick to a wrong host).
        assert!(!response.contains_key("strict-transport-security"));
    }
    let api = app.get("/api/auth/me").await;
    assert!(
        api.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("default-src 'none'")
    );
    assert_eq!(api.headers()["cache-control"], "no-store");

    // Signed in, every page (lazy ones too) brings its nonce policy, many times over; a
    // server function's answer brings the default.
    app.sign_up("pages@example.com", "correct horse battery")
        .await;
    for round in 0..3 {
        for path in ["/history", "/settings", "/plans", "/admin"] {
            let page = app
                .client
                .get(app.url(path))
                .header("accept", "text/html")
                .send()
                .await
                .unwrap();
            let policy = page.headers()["content-security-policy"].to_str().unwrap();
            assert!(
                policy.contains("'nonce-"),
                "{path} (round {round}): {policy}"
            );
        }
    }
    let server_fn = app
        .client
        .post(app.url("/api/fn/load_plans"))
        .send()
        .await
        .unwrap();
    assert!(
        server_fn.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("default-src 'none'")
    );

    // Unknown API paths answer in the JSON envelope, REST and server functions alike.
    for response in [
        app.client
            .post(app.url("/api/fn/no_such_function"))
            .send()
            .await
            .unwrap(),
        app.get("/api/no/such/route").await,
    ] {
        assert_eq!(response.status(), 404);
        assert_eq!(json(response).await["error"]["code"], "not_found");
    }
    app.cleanup().await;
}

#[tokio::test]
async fn https_deployments_send_hsts() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.public_url = Some("https://invest.example.com".into())
    })
    .await
    .unwrap();
    let response = app.get("/healthz").await;
    assert_eq!(
        response.headers()["strict-transport-security"],
        "max-age=31536000; includeSubDomains"
    );
    app.cleanup().await;
}

/// Waits for the server to close `socket` and returns the close code it gave.
async fn closed_with(socket: &mut Socket, within: Duration) -> Option<u16> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, socket.next()).await {
            Err(_) => panic!("the socket is still open after {within:?}"),
            Ok(None) | Ok(Some(Err(_))) => return None,
            Ok(Some(Ok(Message::Close(frame)))) => return frame.map(|f| u16::from(f.code)),
            Ok(Some(Ok(_))) => {}
        }
    }
}

async fn still_open(socket: &mut Socket) {
    socket.send(Message::Ping(Vec::new().into())).await.unwrap();
    loop {
        match tokio::time::timeout(Duration::from_secs(2), socket.next()).await {
            Ok(Some(Ok(Message::Pong(_)))) => return,
            Ok(Some(Ok(Message::Text(_)))) => {}
            other => panic!("the socket should be open: {other:?}"),
        }
    }
}

/// A second session of the same user, with its own client.
async fn signed_in(app: &TestApp, email: &str) -> (reqwest::Client, String) {
    let client = app.other_client();
    let response = client
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let cookie = session_cookie(&response);
    (client, cookie)
}

const SESSION_ENDED: Option<u16> = Some(4401);
const PROMPTLY: Duration = Duration::from_secs(5);

async fn sockets_end_with_their_sessions(app: &TestApp) {
    let email = "sockets@example.com";
    let (me, my_cookie) = signed_up(app, email).await;
    let mut mine = live(app, &my_cookie).await;

    // "Sign out other sessions" closes the other session's socket, not this one.
    let (_laptop, laptop_cookie) = signed_in(app, email).await;
    let mut laptop = live(app, &laptop_cookie).await;
    let ended = me
        .post(app.url("/api/fn/sign_out_others"))
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), 200);
    assert_eq!(closed_with(&mut laptop, PROMPTLY).await, SESSION_ENDED);
    still_open(&mut mine).await;

    // So does a password change.
    let (_phone, phone_cookie) = signed_in(app, email).await;
    let mut phone = live(app, &phone_cookie).await;
    let changed = me
        .post(app.url("/api/fn/change_password"))
        .form(&[
            ("current_password", PASSWORD),
            ("new_password", "an even better password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    assert_eq!(closed_with(&mut phone, PROMPTLY).await, SESSION_ENDED);
    still_open(&mut mine).await;

    // Signing out closes the socket of the session signed out.
    let out = me
        .post(app.url("/api/auth/logout"))
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert!(out.status().is_success());
    assert_eq!(closed_with(&mut mine, PROMPTLY).await, SESSION_ENDED);

    // A session that expires takes its socket with it, on time.
    let client = app.other_client();
    let response = client
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": email, "password": "an even better password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let cookie = session_cookie(&response);
    let soon = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64 + 3000;
    sqlx::query("UPDATE sessions SET expires_at = $1 WHERE user_id IS NOT NULL")
        .bind(soon)
        .execute(app.db.pool())
        .await
        .unwrap();
    let mut expiring = live(app, &cookie).await;
    assert_eq!(closed_with(&mut expiring, PROMPTLY).await, SESSION_ENDED);

    // A socket opened without a session closes at once, saying why (the browser then
    // goes to the sign-in page instead of retrying).
    let (mut anonymous, _) =
        tokio_tungstenite::connect_async(app.url("/api/ws").replacen("http", "ws", 1))
            .await
            .unwrap();
    assert_eq!(closed_with(&mut anonymous, PROMPTLY).await, SESSION_ENDED);
}

/// A session that ended stays ended, even if a request it had in flight saves it after.
async fn an_ended_session_is_never_written_back(app: &TestApp) {
    use tower_sessions::SessionStore as _;
    use tower_sessions::session::{Id, Record};
    let store = server::db::sessions::DbSessionStore::new(app.db.clone());
    let mut record = Record {
        id: Id::default(),
        data: Default::default(),
        expiry_date: time::OffsetDateTime::now_utc() + time::Duration::days(1),
    };
    store.create(&mut record).await.unwrap();
    assert!(store.load(&record.id).await.unwrap().is_some());
    store.delete(&record.id).await.unwrap();
    store.save(&record).await.unwrap();
    assert!(store.load(&record.id).await.unwrap().is_none());
}

#[tokio::test]
async fn stopping_the_server_closes_live_sockets() {
    let mut app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let (_client, cookie) = signed_up(&app, "restart@example.com").await;
    let mut socket = live(&app, &cookie).await;
    app.restart().await;
    assert_eq!(closed_with(&mut socket, PROMPTLY).await, Some(1001));
    app.cleanup().await;
}

async fn incoming_messages_are_capped(app: &TestApp) {
    let (_client, cookie) = signed_up(app, "chatty@example.com").await;
    let mut socket = live(app, &cookie).await;
    socket
        .send(Message::Text("small talk".into()))
        .await
        .unwrap();
    still_open(&mut socket).await;
    let _ = socket
        .send(Message::Text("x".repeat(64 * 1024).into()))
        .await;
    closed_with(&mut socket, PROMPTLY).await;
}

async fn one_users_burst_does_not_hold_up_another(app: &TestApp) {
    let (noisy_client, noisy_cookie) = signed_up(app, "noisy@example.com").await;
    let (quiet_client, quiet_cookie) = signed_up(app, "quiet@example.com").await;
    let noisy_id = user_id(app, &noisy_client).await;
    let quiet_id = user_id(app, &quiet_client).await;
    // The noisy user's socket is open but not read while thousands of its events go by.
    let _noisy = live(app, &noisy_cookie).await;
    let mut quiet = live(app, &quiet_cookie).await;
    let events = app.events();
    for _ in 0..5000 {
        events
            .publish(&noisy_id, &app::api::live::LiveEvent::Resync)
            .await;
    }
    events
        .publish(&quiet_id, &app::api::live::LiveEvent::Hello)
        .await;
    let first = next_json(&mut quiet, PROMPTLY).await.unwrap();
    assert_eq!(
        first["type"], "hello",
        "no resync for the quiet user: {first}"
    );
}

on_both_backends!(
    sockets_end_with_their_sessions,
    an_ended_session_is_never_written_back,
    incoming_messages_are_capped,
    one_users_burst_does_not_hold_up_another
);
