//! The page: one HTML file, its scripts (`app.js`; `charts.js`, the plots as plain SVG and the
//! stage times; `labels.js`, painting and applying class labels; `loop.js`, the closed loop's
//! decisions on the plot, the frame and a table) and its style sheet, compiled into the binary so the dashboard works with no
//! internet.
//!
//! A run's page carries the run and its latest result as JSON (`<script id="initial-state"
//! type="application/json">`), which the script draws before the page's first paint: a
//! screenshot of the page, or a browser on a slow link, shows the frame without waiting for
//! the event stream.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use tessera_protocol::RunId;

use crate::error::ApiError;
use crate::routes::{Dashboard, run_id};
use crate::runs::read_latest;

const PAGE: &str = include_str!("../assets/index.html");
const SCRIPT: &str = include_str!("../assets/app.js");
const CHARTS: &str = include_str!("../assets/charts.js");
const LABELS: &str = include_str!("../assets/labels.js");
const LOOP: &str = include_str!("../assets/loop.js");
const STYLE: &str = include_str!("../assets/style.css");
/// Where a run's page carries its initial state (the runs list carries none).
const INITIAL_STATE: &str = r#"<script id="initial-state" type="application/json">null</script>"#;

/// The page for `/`: the script reads the address.
pub(crate) async fn page() -> Response {
    html(PAGE.to_string())
}

/// The page for `/runs/<run>`, with the run and its latest result in it. What cannot be
/// read is left out (and logged): the page then waits for the event stream as before.
pub(crate) async fn run_page(State(dash): State<Dashboard>, Path(run): Path<String>) -> Response {
    let state = match run_id(&run) {
        Ok(run) => initial_state(&dash, &run).await,
        Err(_) => None,
    };
    match state {
        Some(json) => html(PAGE.replacen(
            INITIAL_STATE,
            &format!(r#"<script id="initial-state" type="application/json">{json}</script>"#),
            1,
        )),
        None => html(PAGE.to_string()),
    }
}

/// `{"run": …, "latest": …}` as JSON safe inside a `<script>` element.
async fn initial_state(dash: &Dashboard, run: &RunId) -> Option<String> {
    let summary = dash
        .run(run)
        .await
        .inspect_err(|e| tracing::warn!(run = %run, error = %e, "run page without its run"))
        .ok()?;
    let latest = read_latest(&dash.bus, run)
        .await
        .inspect_err(|e| tracing::warn!(run = %run, error = %e, "run page without its frame"))
        .ok()
        .flatten();
    if let Some(r) = &latest {
        dash.looks.remember(r);
    }
    let json = serde_json::json!({ "run": summary, "latest": latest }).to_string();
    Some(script_safe(&json))
}

/// JSON that cannot end its `<script>` element or open a comment: `<`, `>` and `&` as
/// `\u` escapes (the same JSON to a parser).
fn script_safe(json: &str) -> String {
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

fn html(body: String) -> Response {
    let mut reply = Html(body).into_response();
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
        "charts.js" => (CHARTS, "text/javascript; charset=utf-8"),
        "labels.js" => (LABELS, "text/javascript; charset=utf-8"),
        "loop.js" => (LOOP, "text/javascript; charset=utf-8"),
        "style.css" => (STYLE, "text/css; charset=utf-8"),
        _ => return Err(ApiError::not_found(format!("no asset {name:?}"))),
    };
    Ok((
        [(header::CONTENT_TYPE, HeaderValue::from_static(kind))],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_page_has_one_place_for_the_initial_state() {
        assert_eq!(PAGE.matches(INITIAL_STATE).count(), 1);
    }

    #[test]
    fn embedded_json_cannot_close_its_script_element() {
        let json = serde_json::json!({ "reason": "</script><!-- & -->" }).to_string();
        let safe = script_safe(&json);
        assert!(
            !safe.contains('<') && !safe.contains('>') && !safe.contains('&'),
            "{safe}"
        );
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back["reason"], "</script><!-- & -->");
    }
}
