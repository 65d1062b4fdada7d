//! Every error answer in the contract's shape: the JSON [`ApiError`](crate::api::ApiError) body with a stable code, whichever layer made it.
//!
//! Handlers answer with [`ApiFailure`]; what axum, tower-http and the router make on their
//! own (404 of the fallback, 405, 408 of the request timeout, 413 of the body limit, the
//! text of an extractor's rejection) comes out with an empty or plain-text body, and
//! [`contract_body`] turns it into the contract's JSON with the same status. Requests whose
//! head hyper itself cannot parse (a target over 64 KiB, a head over its read buffer) are
//! answered by hyper before any service runs, with an empty body; [`refuse_long_uri`]
//! answers long targets well below that, so a real client meets the JSON one.

use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::ApiFailure;
use crate::api::limits::MAX_URI_BYTES;

/// Longest text of another layer's error body that is kept as the message.
const KEPT_TEXT_BYTES: usize = 1024;

/// The contract's code and message for an error status that came without a body of ours.
fn code_for(status: StatusCode) -> (&'static str, &'static str) {
    match status {
        StatusCode::BAD_REQUEST => ("bad_request", "the request is not well-formed"),
        StatusCode::UNAUTHORIZED => ("unauthorized", "missing or unknown bearer token"),
        StatusCode::NOT_FOUND => ("not_found", "no such endpoint"),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "this endpoint does not take this method (the Allow header lists the ones it takes)",
        ),
        StatusCode::REQUEST_TIMEOUT => (
            "request_timeout",
            "the request did not complete in time; try again",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "body_too_large",
            "request body too large for this endpoint (at most 4 MiB)",
        ),
        StatusCode::URI_TOO_LONG => ("uri_too_long", "request target too long"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "send the body as application/json",
        ),
        StatusCode::UNPROCESSABLE_ENTITY => ("unprocessable", "the request breaks a rule"),
        StatusCode::SERVICE_UNAVAILABLE => ("unavailable", "service unavailable; try again later"),
        s if s.is_server_error() => ("internal", "内部错误 / internal error"),
        _ => ("error", "the request failed"),
    }
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// Gives a 4xx or 5xx answer without a JSON body the contract's body, keeping its status
/// and its `Allow` and `Retry-After` headers; a short plain-text body (an extractor's
/// rejection) becomes the message. JSON answers and successes pass unchanged.
pub(crate) async fn contract_body(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(&response) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let (code, default_message) = code_for(status);
    let text = axum::body::to_bytes(body, KEPT_TEXT_BYTES)
        .await
        .ok()
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .filter(|t| !t.is_empty());
    let message = match text {
        Some(t) => format!("{default_message} ({t})"),
        None => default_message.to_string(),
    };
    let mut out = ApiFailure::new(status, code, message).into_response();
    for name in [header::ALLOW, header::RETRY_AFTER] {
        if let Some(v) = parts.headers.get(&name) {
            out.headers_mut().insert(name, v.clone());
        }
    }
    out
}

/// `414 uri_too_long` for a target over [`MAX_URI_BYTES`], before any other work.
pub(crate) async fn refuse_long_uri(req: Request, next: Next) -> Response {
    let len = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if len > MAX_URI_BYTES {
        return ApiFailure::new(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!("request target is {len} bytes; at most {MAX_URI_BYTES}"),
        )
        .into_response();
    }
    next.run(req).await
}
