//! `GET /api/ws`: the signed-in user's live events over a websocket. Only that user's
//! events are sent; a heartbeat keeps idle connections open; a client too slow to keep up
//! is told to resynchronise, and one that stops reading is dropped.

use super::AppState;
use super::middleware::is_cross_site;
use crate::events::UserEvent;
use app::api::live::LiveEvent;
use app::api::ports::Caller;
use app::api::{AppError, ErrorCode};
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

const HEARTBEAT: Duration = Duration::from_secs(20);
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

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
    let user = state.accounts.require_user(&caller).await?;
    let events = state.events.subscribe();
    Ok(upgrade.on_upgrade(move |socket| serve(socket, user.id, events)))
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
    user_id: String,
    mut events: tokio::sync::broadcast::Receiver<UserEvent>,
) {
    if !send(&mut socket, text(&LiveEvent::Hello)).await {
        return;
    }
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    heartbeat.tick().await;
    loop {
        tokio::select! {
            event = events.recv() => {
                let message = match event {
                    Ok(event) if event.user_id == user_id => Message::Text(event.payload.to_string().into()),
                    Ok(_) => continue,
                    Err(RecvError::Lagged(missed)) => {
                        tracing::debug!(missed, "a websocket client fell behind");
                        text(&LiveEvent::Resync)
                    }
                    Err(RecvError::Closed) => break,
                };
                if !send(&mut socket, message).await {
                    break;
                }
            }
            _ = heartbeat.tick() => {
                if !send(&mut socket, Message::Ping(Vec::new().into())).await {
                    break;
                }
            }
            incoming = socket.recv() => match incoming {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                Some(Ok(_)) => {}
            },
        }
    }
}
