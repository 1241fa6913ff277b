//! `/graphql/ws`: the graphql-transport-ws protocol (the `graphql-ws`
//! library's), with every bound a socket needs to be safe to leave open:
//!
//! - `connection_init` within [`INIT_TIMEOUT`] (else close 4408), once
//!   (4429); `subscribe` before the acknowledgement closes with 4401, a
//!   subscription id already in use with 4409, a message that is not one
//!   of the protocol's with 4400;
//! - the token is checked when the socket is initialised and before each
//!   operation, and the socket closes with 4403 the moment it expires;
//! - messages are at most [`MAX_MESSAGE_BYTES`] (the HTTP body limit);
//!   documents pass the same [`crate::limits`] as over HTTP;
//! - every operation counts against its caller's request rate, as an HTTP
//!   request does (`RATE_LIMITED`);
//! - at most [`MAX_OPERATIONS_PER_SOCKET`] operations run on a socket, and
//!   at most [`MAX_SUBSCRIPTIONS_PER_PRINCIPAL`] on all sockets of one
//!   principal on this server;
//! - what the server sends waits in a queue of [`OUTBOUND_QUEUE`]
//!   messages; operations wait for room (a subscription keeps only the
//!   latest state, so waiting costs nothing), and a client that does not
//!   read for [`WRITE_TIMEOUT`] is disconnected, never buffered for.

use crate::Guarded;
use app::auth::Principal;
use app::App;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::mpsc;

pub const PROTOCOL: &str = "graphql-transport-ws";
pub const MAX_MESSAGE_BYTES: usize = crate::MAX_BODY_BYTES;
pub const INIT_TIMEOUT: Duration = Duration::from_secs(3);
pub const MAX_OPERATIONS_PER_SOCKET: usize = 20;
pub const MAX_SUBSCRIPTIONS_PER_PRINCIPAL: usize = 50;
pub const OUTBOUND_QUEUE: usize = 32;
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the server pings an idle socket (a peer that went away
/// without closing is found by the write timeout).
pub const PING_INTERVAL: Duration = Duration::from_secs(30);
const MAX_ID_BYTES: usize = 128;

/// The protocol's close codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Close {
    BadMessage,
    Unauthorized,
    Forbidden,
    Expired,
    InitTimeout,
    DuplicateId,
    TooManyInits,
    SlowConsumer,
}

impl Close {
    fn frame(self, detail: Option<String>) -> Message {
        let (code, reason): (u16, String) = match self {
            Close::BadMessage => (4400, detail.unwrap_or_else(|| "invalid message".into())),
            Close::Unauthorized => (4401, "Unauthorized".into()),
            Close::Forbidden => (4403, "Forbidden".into()),
            Close::Expired => (4403, "Forbidden: the token expired".into()),
            Close::InitTimeout => (4408, "Connection initialisation timeout".into()),
            Close::DuplicateId => (
                4409,
                format!(
                    "Subscriber for {} already exists",
                    detail.unwrap_or_default()
                ),
            ),
            Close::TooManyInits => (4429, "Too many initialisation requests".into()),
            // A policy violation (RFC 6455): the client stopped reading.
            Close::SlowConsumer => (1008, "the client does not read its messages".into()),
        };
        // A close reason is at most 123 bytes.
        let mut reason = reason;
        while reason.len() > 123 {
            reason.pop();
        }
        Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        }))
    }
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientMessage {
    ConnectionInit {
        #[serde(default)]
        payload: Option<Value>,
    },
    Ping {
        #[serde(default)]
        #[allow(dead_code)]
        payload: Option<Value>,
    },
    Pong {
        #[serde(default)]
        #[allow(dead_code)]
        payload: Option<Value>,
    },
    Subscribe {
        id: String,
        payload: Box<async_graphql::Request>,
    },
    Complete {
        id: String,
    },
}

/// Counts operations per principal on this server.
#[derive(Default)]
struct Quota(Mutex<HashMap<(String, String), usize>>);

struct QuotaGuard {
    key: (String, String),
}

impl Quota {
    fn global() -> &'static Quota {
        static QUOTA: OnceLock<Quota> = OnceLock::new();
        QUOTA.get_or_init(Quota::default)
    }

    fn take(&'static self, p: &Principal) -> Option<QuotaGuard> {
        let key = (p.tenant.as_str().to_owned(), p.subject.as_str().to_owned());
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(key.clone()).or_insert(0);
        if *n >= MAX_SUBSCRIPTIONS_PER_PRINCIPAL {
            return None;
        }
        *n += 1;
        Some(QuotaGuard { key })
    }
}

impl Drop for QuotaGuard {
    fn drop(&mut self) {
        let mut map = Quota::global().0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.key);
            }
        }
    }
}

/// What operation tasks hand to the socket's writer.
enum Out {
    Text(String),
    /// An operation's last message (`complete` or `error`): the writer
    /// forgets the operation before sending it, so a client that reuses the
    /// id once it has read the message never finds it taken.
    Last {
        id: String,
        seq: u64,
        text: String,
    },
}

pub(crate) struct Socket {
    pub gql: Guarded,
    pub api: Arc<App>,
    /// The verdict on the upgrade request's Authorization header, if any.
    pub header: Option<Result<Principal, app::auth::AuthError>>,
    /// The client's address, where the server knows it (anonymous
    /// operations count against its rate).
    pub peer: Option<std::net::IpAddr>,
}

fn text(v: Value) -> Message {
    Message::Text(v.to_string().into())
}

/// A coded operation error in the protocol's `error` message.
fn operation_error(id: &str, code: &str, message: &str) -> String {
    json!({"id": id, "type": "error", "payload": [{"message": message, "extensions": {"code": code}}]})
        .to_string()
}

impl Socket {
    pub async fn serve(self, socket: WebSocket) {
        let (mut sink, mut incoming) = socket.split();
        let (out_tx, mut out_rx) = mpsc::channel::<Out>(OUTBOUND_QUEUE);
        // Each operation by id, with a sequence number: an id may be reused
        // once the client completed it, and a late last message of the old
        // operation must not forget the new one.
        let mut operations: HashMap<String, (tokio::task::AbortHandle, u64)> = HashMap::new();
        let mut seq: u64 = 0;
        let mut principal: Option<Principal> = None;
        let mut acknowledged = false;
        let init_deadline = tokio::time::sleep(INIT_TIMEOUT);
        tokio::pin!(init_deadline);
        let expiry = tokio::time::sleep(Duration::from_secs(365 * 24 * 3600));
        tokio::pin!(expiry);
        let mut ping = tokio::time::interval(PING_INTERVAL);
        ping.tick().await;

        let close = loop {
            let outgoing: Message = tokio::select! {
                _ = &mut init_deadline, if !acknowledged => break Some((Close::InitTimeout, None)),
                _ = &mut expiry, if principal.is_some() => break Some((Close::Expired, None)),
                _ = ping.tick() => Message::Ping(Vec::new().into()),
                out = out_rx.recv() => match out {
                    Some(Out::Text(t)) => Message::Text(t.into()),
                    Some(Out::Last { id, seq, text }) => {
                        if operations.get(&id).is_some_and(|(_, s)| *s == seq) {
                            operations.remove(&id);
                        }
                        Message::Text(text.into())
                    }
                    None => break None,
                },
                message = incoming.next() => {
                    let message = match message {
                        Some(Ok(m)) => m,
                        // Gone, or a frame over the size limit.
                        Some(Err(_)) | None => break None,
                    };
                    let raw = match message {
                        Message::Text(t) => t,
                        Message::Binary(_) => {
                            break Some((Close::BadMessage, Some("binary messages are not part of the protocol".into())))
                        }
                        Message::Close(_) => break None,
                        Message::Ping(_) | Message::Pong(_) => continue,
                    };
                    let parsed: ClientMessage = match serde_json::from_str(raw.as_str()) {
                        Ok(m) => m,
                        Err(_) => break Some((Close::BadMessage, Some("not a graphql-transport-ws message".into()))),
                    };
                    match parsed {
                        ClientMessage::ConnectionInit { payload } => {
                            if acknowledged {
                                break Some((Close::TooManyInits, None));
                            }
                            match self.authenticate(payload.as_ref()) {
                                Ok(p) => {
                                    if let Some(p) = &p {
                                        expiry.as_mut().reset(deadline_of(p));
                                    }
                                    principal = p;
                                    acknowledged = true;
                                    text(json!({"type": "connection_ack"}))
                                }
                                Err(close) => break Some((close, None)),
                            }
                        }
                        ClientMessage::Ping { .. } => text(json!({"type": "pong"})),
                        ClientMessage::Pong { .. } => continue,
                        ClientMessage::Complete { id } => {
                            if let Some((op, _)) = operations.remove(&id) {
                                op.abort();
                            }
                            continue;
                        }
                        ClientMessage::Subscribe { id, payload } => {
                            if !acknowledged {
                                break Some((Close::Unauthorized, None));
                            }
                            if id.is_empty() || id.len() > MAX_ID_BYTES {
                                break Some((Close::BadMessage, Some(format!("an operation id is 1 to {MAX_ID_BYTES} bytes"))));
                            }
                            if operations.contains_key(&id) {
                                break Some((Close::DuplicateId, Some(id)));
                            }
                            if principal.as_ref().is_some_and(|p| chrono::Utc::now() >= p.expires_at) {
                                break Some((Close::Expired, None));
                            }
                            // Each operation counts against the same rate as
                            // an HTTP request of its caller.
                            let counted = match (&principal, self.peer) {
                                (Some(p), _) => self.api.rates.check_principal(p),
                                (None, Some(ip)) => self.api.rates.check_address(ip),
                                (None, None) => Ok(()),
                            };
                            if let Err(wait) = counted {
                                let secs = app::rate::retry_after_secs(wait);
                                Message::Text(operation_error(&id, "RATE_LIMITED", &format!("too many requests; try again in {secs} s")).into())
                            } else if operations.len() >= MAX_OPERATIONS_PER_SOCKET {
                                Message::Text(operation_error(&id, "TOO_MANY_SUBSCRIPTIONS", &format!("at most {MAX_OPERATIONS_PER_SOCKET} operations at once on one socket")).into())
                            } else {
                                let quota = match &principal {
                                    Some(p) => match Quota::global().take(p) {
                                        Some(g) => Some(g),
                                        None => {
                                            let refusal = operation_error(&id, "TOO_MANY_SUBSCRIPTIONS", &format!("at most {MAX_SUBSCRIPTIONS_PER_PRINCIPAL} operations at once for one user"));
                                            if !send(&mut sink, Message::Text(refusal.into())).await {
                                                break Some((Close::SlowConsumer, None));
                                            }
                                            continue;
                                        }
                                    },
                                    None => None,
                                };
                                let stream = self.gql.execute_stream(*payload, principal.as_ref());
                                seq += 1;
                                let task = tokio::spawn(run_operation(stream, id.clone(), seq, out_tx.clone(), quota));
                                operations.insert(id, (task.abort_handle(), seq));
                                continue;
                            }
                        }
                    }
                }
            };
            if !send(&mut sink, outgoing).await {
                break Some((Close::SlowConsumer, None));
            }
        };
        for (_, (op, _)) in operations.drain() {
            op.abort();
        }
        if let Some((code, detail)) = close {
            // Best effort: a client that does not read gets no close frame.
            let _ = tokio::time::timeout(WRITE_TIMEOUT, sink.send(code.frame(detail))).await;
        }
        let _ = tokio::time::timeout(WRITE_TIMEOUT, sink.close()).await;
    }

    /// The principal of the socket: the `connection_init` payload's
    /// Authorization, else the upgrade request's header, else anonymous.
    fn authenticate(&self, payload: Option<&Value>) -> Result<Option<Principal>, Close> {
        let from_payload = payload.and_then(|p| {
            p.get("Authorization")
                .or_else(|| p.get("authorization"))
                .and_then(Value::as_str)
        });
        let verdict = match from_payload {
            Some(token) => Some(self.api.auth.authenticate_header(Some(token))),
            None => self.header.clone(),
        };
        match verdict {
            Some(Ok(p)) => Ok(Some(p)),
            Some(Err(_)) => Err(Close::Forbidden),
            None => Ok(None),
        }
    }
}

fn deadline_of(p: &Principal) -> tokio::time::Instant {
    let left = (p.expires_at - chrono::Utc::now())
        .to_std()
        .unwrap_or(Duration::ZERO);
    tokio::time::Instant::now() + left
}

/// Sends within the write timeout; false when the client did not take it.
async fn send(
    sink: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    message: Message,
) -> bool {
    matches!(
        tokio::time::timeout(WRITE_TIMEOUT, sink.send(message)).await,
        Ok(Ok(()))
    )
}

/// One operation: its results as `next` messages, then `complete`; a
/// document refused before execution is one `error` message.
async fn run_operation(
    mut stream: futures_util::stream::BoxStream<'static, async_graphql::Response>,
    id: String,
    seq: u64,
    out: mpsc::Sender<Out>,
    _quota: Option<QuotaGuard>,
) {
    let mut first = true;
    while let Some(response) = stream.next().await {
        // Refused before execution (the document does not parse or is not
        // valid here): the protocol's `error` message, and no `complete`.
        // Errors raised while executing go out as `next`, like data.
        let refused = first
            && response.data == async_graphql::Value::Null
            && response.is_err()
            && response.errors.iter().all(|e| {
                e.extensions
                    .as_ref()
                    .and_then(|x| x.get("code"))
                    .is_some_and(|c| {
                        matches!(c, async_graphql::Value::String(c)
                            if c == "GRAPHQL_PARSE_FAILED" || c == "GRAPHQL_VALIDATION_FAILED")
                    })
            });
        first = false;
        if refused {
            let text = json!({"id": id, "type": "error", "payload": response.errors}).to_string();
            let _ = out.send(Out::Last { id, seq, text }).await;
            return;
        }
        let message = json!({"id": id, "type": "next", "payload": response});
        if out.send(Out::Text(message.to_string())).await.is_err() {
            return;
        }
    }
    let text = json!({"id": id, "type": "complete"}).to_string();
    let _ = out.send(Out::Last { id, seq, text }).await;
}
