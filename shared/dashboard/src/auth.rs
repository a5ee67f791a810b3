//! The guard in front of every route: the dashboard is read-only, and when a token is set
//! each request must carry it, as `Authorization: Bearer <token>`, as `?token=<token>` (the
//! browser's event streams and download links cannot set headers), or in the cookie that a
//! page opened with `?token=` receives (so that its script, style sheet and images load).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// Paths served without a token: health probes only, which reveal nothing.
const OPEN_PATHS: [&str; 1] = ["/healthz"];

/// Refuses anything but `GET`/`HEAD`, and requests without the token when one is set.
pub(crate) async fn guard(
    State(token): State<Option<Arc<str>>>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "the dashboard is read-only: only GET requests are served",
        )
        .into_response();
    }
    let Some(token) = token else {
        return next.run(request).await;
    };
    if OPEN_PATHS.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let via = carries(&request, &token);
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
