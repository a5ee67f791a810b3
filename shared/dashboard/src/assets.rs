//! The page: one HTML file, its script and its style sheet, compiled into the binary so the
//! dashboard works with no internet. The script draws the plot as plain SVG.

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};

use crate::error::ApiError;

const PAGE: &str = include_str!("../assets/index.html");
const SCRIPT: &str = include_str!("../assets/app.js");
const STYLE: &str = include_str!("../assets/style.css");

/// The page, for `/` and `/runs/<run>` alike: the script reads the address.
pub(crate) async fn page() -> Response {
    let mut reply = Html(PAGE).into_response();
    reply.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' blob:; style-src 'self'; script-src 'self'; \
             connect-src 'self'",
        ),
    );
    reply
}

/// `/assets/<name>`.
pub(crate) async fn asset(Path(name): Path<String>) -> Result<Response, ApiError> {
    let (body, kind) = match name.as_str() {
        "app.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        "style.css" => (STYLE, "text/css; charset=utf-8"),
        _ => return Err(ApiError::not_found(format!("no asset {name:?}"))),
    };
    Ok((
        [(header::CONTENT_TYPE, HeaderValue::from_static(kind))],
        body,
    )
        .into_response())
}
