//! `GET /api/ws`: the signed-in user's live events over a websocket. Only that user's
//! events are sent (from that user's own channel, so another user's burst cannot hold it
//! up); a heartbeat keeps idle connections open; a client too slow to keep up is told to
//! resynchronise, and one that stops reading is dropped.
//!
//! The socket lives only as long as its session: it is closed (code 4401) when the
//! session ends, whether signed out, ended by a password change or "sign out other
//! sessions", or expired; without a session it closes as soon as it opens. When the server
//! stops, sockets close with 1001 and browsers reconnect. Ends are announced on the event bus and checked at once; the
//! expiry is timed; and the session is re-read at least every minute in case an
//! announcement was lost. Messages from the browser are capped at a few kilobytes.

use super::AppState;
use super::middleware::is_cross_site;
use crate::db::Db;
use crate::events::{Delivery, UserEvent};
use app::api::live::LiveEvent;
use app::api::ports::Caller;
use app::api::{AppError, ErrorCode};
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

const HEARTBEAT: Duration = Duration::from_secs(20);
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// The browser only ever sends pongs and closes: anything bigger is refused.
pub const MAX_INCOMING_BYTES: usize = 4 * 1024;
/// Re-read the session at least this often, in case a "sessions changed" was lost.
const SESSION_RECHECK: Duration = Duration::from_secs(60);
/// If the session could not be read (database trouble), try again after this.
const SESSION_RETRY: Duration = Duration::from_secs(5);
use app::api::live::SESSION_ENDED;

pub async fn socket(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Result<Response, AppError> {
    // A websocket handshake carries cookies but no CORS check: refuse other sites.
    if is_cross_site(&headers, &state.public_origin) {
        return Err(AppError::new(
            ErrorCode::CrossSiteRequest,
            "This request came from another site and was refused.",
        ));
    }
    let upgrade = upgrade
        .max_message_size(MAX_INCOMING_BYTES)
        .max_frame_size(MAX_INCOMING_BYTES);
    // No session (never signed in, or it ended while the page was offline): the socket
    // opens and closes at once with the "session ended" code, which a browser can read
    // (a refused handshake is only an anonymous failure it would retry for ever).
    let user = match state.accounts.require_user(&caller).await {
        Ok(user) => user,
        Err(err) if err.code == ErrorCode::Unauthenticated => return Ok(ended(upgrade)),
        Err(err) => return Err(err),
    };
    let Some(session_id) = caller.session.id() else {
        return Ok(ended(upgrade));
    };
    let session = SessionWatch {
        db: state.db.clone(),
        stored_id: crate::db::sessions::stored_id(&session_id.to_string()),
        user_id: user.id.clone(),
    };
    // Subscribed before the first check, so an end announced in between is not missed.
    let events = state.events.subscribe_user(&user.id);
    let Some(first_check) = session.next_check().await else {
        return Ok(ended(upgrade));
    };
    let stopping = state.stopping.clone();
    let metrics = state.ops.metrics().clone();
    Ok(upgrade.on_upgrade(move |socket| async move {
        let _open = metrics.socket_opened();
        serve(socket, session, first_check, events, stopping).await;
    }))
}

fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

/// A socket that closes as soon as it opens: its session has ended.
fn ended(upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(|mut socket| async move {
        let _ = send(&mut socket, close(SESSION_ENDED, "session ended")).await;
    })
}

/// The session a socket belongs to.
struct SessionWatch {
    db: Db,
    /// The session's key in the database (the hash of its id).
    stored_id: String,
    user_id: String,
}

impl SessionWatch {
    /// When to look at the session again, or `None` if it has ended.
    async fn next_check(&self) -> Option<Instant> {
        match self.db.session_expiry(&self.stored_id, &self.user_id).await {
            Ok(Some(expires_at)) => {
                let now =
                    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
                let left = Duration::from_millis(u64::try_from(expires_at - now).unwrap_or(0));
                Some(Instant::now() + left.min(SESSION_RECHECK))
            }
            Ok(None) => None,
            Err(err) => {
                tracing::warn!(error = %err, "could not check a live socket's session");
                Some(Instant::now() + SESSION_RETRY)
            }
        }
    }
}

async fn send(socket: &mut WebSocket, message: Message) -> bool {
    matches!(
        tokio::time::timeout(SEND_TIMEOUT, socket.send(message)).await,
        Ok(Ok(()))
    )
}

fn text(event: &LiveEvent) -> Message {
    Message::Text(serde_json::to_string(event).unwrap_or_default().into())
}

async fn serve(
    mut socket: WebSocket,
    session: SessionWatch,
    first_check: Instant,
    mut events: tokio::sync::broadcast::Receiver<UserEvent>,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    if !send(&mut socket, text(&LiveEvent::Hello)).await {
        return;
    }
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    heartbeat.tick().await;
    let check = tokio::time::sleep_until(first_check);
    tokio::pin!(check);
    let stop = async move {
        let _ = stopping.wait_for(|stopping| *stopping).await;
    };
    tokio::pin!(stop);
    loop {
        let recheck = tokio::select! {
            event = events.recv() => {
                let message = match event {
                    Ok(UserEvent { delivery: Delivery::Live(payload), .. }) => {
                        Message::Text(payload.to_string().into())
                    }
                    Ok(UserEvent { delivery: Delivery::SessionsChanged, .. }) => {
                        check.as_mut().reset(Instant::now());
                        continue;
                    }
                    Err(RecvError::Lagged(missed)) => {
                        tracing::debug!(missed, "a websocket client fell behind");
                        // What was missed may have been the end of its session.
                        check.as_mut().reset(Instant::now());
                        text(&LiveEvent::Resync)
                    }
                    Err(RecvError::Closed) => break,
                };
                if !send(&mut socket, message).await {
                    break;
                }
                false
            }
            () = &mut check => true,
            () = &mut stop => {
                // The browser reconnects (to this server restarted, or another instance).
                let _ = send(&mut socket, close(1001, "server stopping")).await;
                break;
            }
            _ = heartbeat.tick() => {
                if !send(&mut socket, Message::Ping(Vec::new().into())).await {
                    break;
                }
                false
            }
            incoming = socket.recv() => match incoming {
                // Includes messages over the size cap, which end the connection.
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                Some(Ok(_)) => false,
            },
        };
        if recheck {
            match session.next_check().await {
                Some(at) => check.as_mut().reset(at),
                None => {
                    let _ = send(&mut socket, close(SESSION_ENDED, "session ended")).await;
                    break;
                }
            }
        }
    }
}
