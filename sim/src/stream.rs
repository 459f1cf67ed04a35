//! The `/stream` trade-updates websocket, as Alpaca's:
//!
//! 1. client `{"action":"auth","key":…,"secret":…}` (or the older
//!    `{"action":"authenticate","data":{"key_id":…,"secret_key":…}}`) → server
//!    `{"stream":"authorization","data":{"action":"authenticate","status":"authorized"}}`
//!    (`"unauthorized"` and the connection closes when the keys are wrong);
//! 2. client `{"action":"listen","data":{"streams":["trade_updates"]}}` → server
//!    `{"stream":"listening","data":{"streams":["trade_updates"]}}`;
//! 3. server `{"stream":"trade_updates","data":{"event":"new"|"fill"|…,"order":{…},…}}`
//!    for every order event of the authenticated account.
//!
//! Messages are sent as text frames (apca reads text and binary alike).

use super::Simulator;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

pub async fn handler(ws: WebSocketUpgrade, State(sim): State<Arc<Simulator>>) -> Response {
    ws.on_upgrade(move |socket| run(socket, sim))
}

fn authorization(status: &str) -> String {
    json!({"stream": "authorization", "data": {"action": "authenticate", "status": status}})
        .to_string()
}

async fn send(socket: &mut WebSocket, text: String) -> bool {
    socket.send(Message::Text(text.into())).await.is_ok()
}

fn str_at<'a>(value: &'a Value, paths: &[&[&str]]) -> &'a str {
    paths
        .iter()
        .find_map(|path| {
            path.iter()
                .try_fold(value, |v, key| v.get(key))
                .and_then(Value::as_str)
        })
        .unwrap_or("")
}

async fn run(mut socket: WebSocket, sim: Arc<Simulator>) {
    let mut closing = sim.closing();
    let mut events = sim.subscribe();
    let mut account: Option<Uuid> = None;
    let mut listening = false;
    if *closing.borrow() {
        return;
    }
    loop {
        tokio::select! {
            _ = closing.changed() => break,
            incoming = socket.recv() => {
                let text = match incoming {
                    Some(Ok(Message::Text(t))) => t.to_string(),
                    Some(Ok(Message::Binary(b))) => String::from_utf8_lossy(&b).into_owned(),
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => continue,
                };
                let Ok(request) = serde_json::from_str::<Value>(&text) else {
                    let error = json!({"stream": "error", "data": {"error_message": "invalid message"}});
                    if !send(&mut socket, error.to_string()).await { break }
                    continue;
                };
                match request.get("action").and_then(Value::as_str) {
                    Some("auth" | "authenticate") => {
                        let key = str_at(&request, &[&["key"], &["data", "key_id"]]);
                        let secret = str_at(&request, &[&["secret"], &["data", "secret_key"]]);
                        let auto = sim.config.auto_accounts;
                        match sim.with_engine(|engine, _, now| engine.authenticate(key, secret, auto, now)) {
                            Ok(id) => {
                                account = Some(id);
                                if !send(&mut socket, authorization("authorized")).await { break }
                            }
                            Err(_) => {
                                let _ = send(&mut socket, authorization("unauthorized")).await;
                                break;
                            }
                        }
                    }
                    Some("listen") => {
                        if account.is_none() {
                            let _ = send(&mut socket, authorization("unauthorized")).await;
                            break;
                        }
                        let streams: Vec<Value> = request
                            .pointer("/data/streams")
                            .and_then(Value::as_array)
                            .map(|s| {
                                s.iter()
                                    .filter(|x| x.as_str() == Some("trade_updates"))
                                    .cloned()
                                    .collect()
                            })
                            .unwrap_or_default();
                        listening = !streams.is_empty();
                        let reply = json!({"stream": "listening", "data": {"streams": streams}});
                        if !send(&mut socket, reply.to_string()).await { break }
                    }
                    _ => {
                        let error = json!({"stream": "error", "data": {"error_message": "unknown action"}});
                        if !send(&mut socket, error.to_string()).await { break }
                    }
                }
            }
            event = events.recv() => match event {
                Ok(out) => {
                    if listening && account == Some(out.account) && !send(&mut socket, out.message).await {
                        break;
                    }
                }
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => break,
            },
        }
    }
    let _ = socket.send(Message::Close(None)).await;
}
