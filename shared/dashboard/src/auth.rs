//! The guard in front of every route. Reading: when a token is set each request must carry
//! it (or the write token), as `Authorization: Bearer <token>`, as `?token=<token>` (the
//! browser's event streams and download links cannot set headers), or in the cookie that a
//! page opened with `?token=` receives (so that its script, style sheet and images load).
//! Writing (labels only) needs the write token, a separate one, in the header.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// Paths served without a token: health probes only, which reveal nothing.
const OPEN_PATHS: [&str; 1] = ["/healthz"];

/// The tokens a request may carry: the read token (`dashboard.token`) and the write token
/// (`dashboard.write_token`), which reads too.
#[derive(Clone, Default)]
pub(crate) struct Tokens {
    pub(crate) read: Option<Arc<str>>,
    pub(crate) write: Option<Arc<str>>,
}

/// Serves `GET`/`HEAD` to requests with either token (any request when no read token is
/// set), and `POST` of labels (`/api/runs/<run>/classes`) only to requests whose
/// `Authorization` header carries the write token: a cookie or query never writes, so another
/// site cannot make a browser write.
pub(crate) async fn guard(State(tokens): State<Tokens>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    if method == Method::POST {
        return guard_write(&tokens, request, next).await;
    }
    if method != Method::GET && method != Method::HEAD {
        return ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "the dashboard serves GET requests, and POST of labels to /api/runs/<run>/classes",
        )
        .into_response();
    }
    let Some(read) = tokens.read.clone() else {
        return next.run(request).await;
    };
    if OPEN_PATHS.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let mut matched = (carries(&request, &read), read);
    if matched.0 == Via::Nothing
        && let Some(write) = tokens.write.clone()
    {
        matched = (carries(&request, &write), write);
    }
    let (via, token) = matched;
    if via == Via::Nothing {
        let mut reply = ApiError::new(
            StatusCode::UNAUTHORIZED,
            "this dashboard needs its access token: open it as /?token=<token>, or send \
             Authorization: Bearer <token> (the operator set it with dashboard.token)",
        )
        .into_response();
        reply.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer realm=\"tessera\""),
        );
        return reply;
    }
    let mut reply = next.run(request).await;
    if via == Via::Query {
        // Lets the page's own requests (script, images) through without the query.
        let cookie = format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict");
        if let Ok(v) = header::HeaderValue::from_str(&cookie) {
            reply.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    reply
}

/// A write: labels only, with the write token in the `Authorization` header.
async fn guard_write(tokens: &Tokens, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if !(path.starts_with("/api/runs/") && path.ends_with("/classes")) {
        return ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "only labels can be written: POST /api/runs/<run>/classes",
        )
        .into_response();
    }
    let Some(write) = &tokens.write else {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "labelling is off on this dashboard: the operator enables it with \
             dashboard.write_token (TESSERA__DASHBOARD__WRITE_TOKEN)",
        )
        .into_response();
    };
    if carries(&request, write) != Via::Header {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "labelling needs the write token, sent as Authorization: Bearer <write token> \
             (open the dashboard as /?token=<write token>); the read token only reads",
        )
        .into_response();
    }
    next.run(request).await
}

/// The cookie that carries the token for a page opened with `?token=`.
const COOKIE: &str = "tessera_token";

/// How a request carried the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    Header,
    Query,
    Cookie,
    Nothing,
}

/// Where `request` carries `token`: its `Authorization` header, its query or its cookie.
fn carries(request: &Request, token: &str) -> Via {
    let header_text = |name| {
        request
            .headers()
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
    };
    if header_text(header::AUTHORIZATION)
        .filter_map(|v| v.strip_prefix("Bearer "))
        .any(|b| same(b.trim(), token))
    {
        return Via::Header;
    }
    let query = Query::<HashMap<String, String>>::try_from_uri(request.uri());
    if query.is_ok_and(|q| q.0.get("token").is_some_and(|t| same(t, token))) {
        return Via::Query;
    }
    if header_text(header::COOKIE)
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .any(|(name, value)| name == COOKIE && same(value, token))
    {
        return Via::Cookie;
    }
    Via::Nothing
}

/// Compares in time that depends on the lengths only, not on where the texts differ.
fn same(given: &str, token: &str) -> bool {
    let (a, b) = (given.as_bytes(), token.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::same;

    #[test]
    fn same_compares_whole_texts() {
        assert!(same("0123456789abcdef", "0123456789abcdef"));
        assert!(!same("0123456789abcdeX", "0123456789abcdef"));
        assert!(!same("0123456789abcde", "0123456789abcdef"));
        assert!(!same("", "0123456789abcdef"));
    }
}
