//! Fault injection for the reference back office: latency, 5xx, dropped connections, lost replies, trickled bodies.
//!
//! Decisions come from one seeded RNG, so a run with the same `--seed` and the same
//! request order injects the same faults. One fault is counted instead of drawn: the
//! first N requests to one path lose their reply ([`FaultSettings::lose_reply_first`]).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use rand::{RngExt, SeedableRng, rngs::StdRng};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

use super::AppState;
use crate::api::ApiError;

/// What to inject; rates are probabilities from 0 to 1, applied to every endpoint.
#[derive(Debug, Clone, Default)]
pub struct FaultSettings {
    pub latency_ms: u64,
    /// Answer 503 without doing the work.
    pub fail_rate: f64,
    /// Close the connection without an answer, without doing the work.
    pub drop_rate: f64,
    /// Do the work (commit), then close the connection without the answer.
    pub lose_reply_rate: f64,
    /// Trickle every answer body slowly (a few bytes at a time).
    pub slow_body: bool,
    pub seed: Option<u64>,
    /// The first this many requests to [`fault_path`](Self::fault_path) do the work
    /// (commit), then lose the reply; later ones are answered. Other paths are untouched.
    pub lose_reply_first: u32,
    /// The path `lose_reply_first` applies to, matched exactly (no query string), e.g.
    /// `/api/v1/residents/me/quick-items/senior-allowance`.
    pub fault_path: Option<String>,
}

impl FaultSettings {
    pub fn any(&self) -> bool {
        self.latency_ms > 0
            || self.fail_rate > 0.0
            || self.drop_rate > 0.0
            || self.lose_reply_rate > 0.0
            || self.slow_body
            || (self.lose_reply_first > 0 && self.fault_path.is_some())
    }
}

pub struct Faults {
    settings: FaultSettings,
    rng: Mutex<StdRng>,
    /// Replies lost so far to `fault_path`.
    lost_on_path: AtomicU32,
}

enum Fault {
    None,
    Fail,
    Drop,
    LoseReply,
}

impl Faults {
    pub fn new(settings: FaultSettings) -> Self {
        let rng = match settings.seed {
            Some(s) => StdRng::seed_from_u64(s),
            None => rand::make_rng::<StdRng>(),
        };
        Self {
            settings,
            rng: Mutex::new(rng),
            lost_on_path: AtomicU32::new(0),
        }
    }

    /// Whether this request to `path` is one of the first `lose_reply_first` to
    /// `fault_path` (counting it if so).
    fn lose_counted(&self, path: &str) -> bool {
        let s = &self.settings;
        s.fault_path.as_deref() == Some(path)
            && self
                .lost_on_path
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                    (n < s.lose_reply_first).then_some(n + 1)
                })
                .is_ok()
    }

    fn decide(&self) -> Fault {
        let s = &self.settings;
        if s.fail_rate <= 0.0 && s.drop_rate <= 0.0 && s.lose_reply_rate <= 0.0 {
            return Fault::None;
        }
        let x: f64 = self.rng.lock().unwrap_or_else(|p| p.into_inner()).random();
        if x < s.fail_rate {
            Fault::Fail
        } else if x < s.fail_rate + s.drop_rate {
            Fault::Drop
        } else if x < s.fail_rate + s.drop_rate + s.lose_reply_rate {
            Fault::LoseReply
        } else {
            Fault::None
        }
    }
}

/// Lets a request close its own connection without an answer.
#[derive(Clone, Default)]
pub struct ConnKill(Arc<Notify>);

impl ConnKill {
    pub fn kill(&self) {
        self.0.notify_one();
    }
    pub async fn killed(&self) {
        self.0.notified().await
    }
}

/// The middleware applying the faults to every request.
pub async fn inject(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let faults = &state.faults;
    if !faults.settings.any() {
        return next.run(req).await;
    }
    if faults.settings.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.settings.latency_ms)).await;
    }
    let kill = req.extensions().get::<ConnKill>().cloned();
    let fault = if faults.lose_counted(req.uri().path()) {
        Fault::LoseReply
    } else {
        faults.decide()
    };
    match fault {
        Fault::Fail => {
            log::debug!("fault: 503 for {}", req.uri().path());
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(ApiError {
                    error: "injected_fault".into(),
                    message: "fault injection: service unavailable".into(),
                    text: None,
                }),
            )
                .into_response();
        }
        Fault::Drop => {
            if let Some(k) = kill {
                log::debug!("fault: drop before work for {}", req.uri().path());
                k.kill();
                return std::future::pending().await;
            }
        }
        Fault::LoseReply => {
            if let Some(k) = kill {
                let path = req.uri().path().to_string();
                let response = next.run(req).await;
                // Read the body fully so any work behind it is done, then lose it.
                let _ = axum::body::to_bytes(response.into_body(), usize::MAX).await;
                log::debug!("fault: reply lost after work for {path}");
                k.kill();
                return std::future::pending().await;
            }
        }
        Fault::None => {}
    }
    let response = next.run(req).await;
    if faults.settings.slow_body {
        trickle(response)
    } else {
        response
    }
}

/// Sends the body 16 bytes every 200 ms.
fn trickle(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    let stream = body.into_data_stream().flat_map(|chunk| {
        let pieces: Vec<Result<bytes::Bytes, axum::Error>> = match chunk {
            Ok(bytes) => (0..bytes.len())
                .step_by(16)
                .map(|i| Ok(bytes.slice(i..(i + 16).min(bytes.len()))))
                .collect(),
            Err(e) => vec![Err(e)],
        };
        futures_util::stream::iter(pieces)
    });
    let slow = stream.then(|piece| async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        piece
    });
    Response::from_parts(parts, Body::from_stream(slow))
}
