//! The browser dashboard: a read-only HTTP gateway over NATS, built on `tessera-bus`.
//!
//! It serves one page (HTML, JavaScript and CSS compiled into the binary; nothing comes from
//! a CDN) and a small JSON API. A run page comes with the run and its latest result in it,
//! then reads everything the run has produced so far (KV `tessera_runs`, the RESULTS and
//! REJECTS streams, the object stores) and follows it live: results arrive by server-sent
//! events fed from a NATS subscription.
//!
//! It serves `GET`, and one write: labels painted on a run's frame (`POST
//! /api/runs/<run>/classes`), passed to the clusterer as a NATS request, only with
//! `dashboard.write_token` in the `Authorization` header. With `dashboard.token` set, every
//! request but `/healthz` must carry it or the write token (`Authorization: Bearer …` or
//! `?token=…`); settings refuse a bind beyond loopback without one.
//!
//! # Layout
//! - `routes`: the router and [`serve`]; `auth`: the read and write tokens' guard.
//! - `labels`: labels painted in the page, sent to the clusterer, and its answer.
//! - `runs`: runs, their state and their frames, read from KV and the RESULTS stream;
//!   `rejects`: what services refused, from the REJECTS stream, by run and frame.
//! - `events`: the live event stream of a run.
//! - `decisions`: the closed loop's decisions on a run's frames and the instrument's answers,
//!   from the DECISIONS stream.
//! - `files`: images, label maps and the fraction table (`export`) as downloads; `layer`:
//!   the communities as an image to lay over the frame.
//! - `assets`: the page itself (a run's page carries the run and its latest result, so it
//!   shows the frame at its first paint); `error`: [`DashboardError`] and HTTP error replies.

mod assets;
mod auth;
mod decisions;
mod error;
mod events;
mod export;
mod files;
mod labels;
mod layer;
mod rejects;
mod routes;
mod runs;

pub use error::DashboardError;
pub use export::fractions_csv;
pub use routes::{Dashboard, serve, serve_on};
