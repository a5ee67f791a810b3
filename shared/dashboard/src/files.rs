//! Downloads of one frame: the frame itself as an 8-bit PNG (from ingest's preview), its
//! communities as a PNG of the same size (to lay over it at any opacity), the overlay as the
//! publisher drew it (PNG, with its legend), the label map (16-bit TIFF), and the run's
//! fraction table (CSV).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use tessera_protocol::{
    RunId, keys,
    streams::{FRAMES_STORE, OUTPUTS_STORE},
};

use crate::error::ApiError;
use crate::layer::community_layer;
use crate::routes::Dashboard;
use crate::runs::FrameLook;

/// What can be downloaded of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FrameFile {
    /// `overlay.png`.
    Overlay,
    /// `frame.png`.
    Frame,
    /// `communities.png`.
    Communities,
    /// `labels.tiff`.
    Labels,
}

impl FrameFile {
    /// The file named `name`, if it is one.
    pub(crate) fn parse(name: &str) -> Option<FrameFile> {
        match name {
            "overlay.png" => Some(FrameFile::Overlay),
            "frame.png" => Some(FrameFile::Frame),
            "communities.png" => Some(FrameFile::Communities),
            "labels.tiff" => Some(FrameFile::Labels),
            _ => None,
        }
    }
}

/// The file `file` of frame `seq` of `run`.
pub(crate) async fn frame_file(
    dash: &Dashboard,
    run: &RunId,
    seq: u64,
    file: FrameFile,
) -> Result<Response, ApiError> {
    let name = format!("{run}-{seq}");
    match file {
        // Stored by the publisher and clusterer as they are.
        FrameFile::Overlay | FrameFile::Labels => {
            let (object, kind, suffix, inline) = if file == FrameFile::Overlay {
                (
                    keys::overlay_object(run, seq),
                    "image/png",
                    "overlay.png",
                    true,
                )
            } else {
                (
                    keys::labels_object(run, seq),
                    "image/tiff",
                    "labels.tiff",
                    false,
                )
            };
            let bytes = dash.bus.get_object(OUTPUTS_STORE.bucket, &object).await?;
            Ok(download(bytes, kind, &format!("{name}-{suffix}"), inline))
        }
        FrameFile::Frame => {
            let gray = dash
                .bus
                .get_object(FRAMES_STORE.bucket, &keys::normalized_object(run, seq))
                .await?;
            let (w, h) = look(dash, run, seq).await?.size;
            let png = tessera_imaging::encode_png_gray8(w as usize, h as usize, &gray)
                .map_err(|e| unfit("preview", seq, e))?;
            Ok(download(
                png.into(),
                "image/png",
                &format!("{name}-frame.png"),
                true,
            ))
        }
        FrameFile::Communities => {
            let tiff = dash
                .bus
                .get_object(OUTPUTS_STORE.bucket, &keys::labels_object(run, seq))
                .await?;
            let look = look(dash, run, seq).await?;
            let (w, h, labels) = tessera_imaging::decode_labels_tiff(&tiff)
                .map_err(|e| unfit("label map", seq, e))?;
            let rgba = community_layer(&labels, &look.colors);
            let png = tessera_imaging::encode_png_rgba8(w, h, &rgba)
                .map_err(|e| unfit("label map", seq, e))?;
            Ok(download(
                png.into(),
                "image/png",
                &format!("{name}-communities.png"),
                true,
            ))
        }
    }
}

/// A stored object of frame `seq` that cannot be made into an image.
fn unfit(what: &str, seq: u64, e: tessera_imaging::ImagingError) -> ApiError {
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        format!("the stored {what} of frame {seq} cannot be shown: {e}"),
    )
}

/// The run's fraction table as a CSV download.
pub(crate) async fn fractions(dash: &Dashboard, run: &RunId) -> Result<Response, ApiError> {
    let results = dash.frames(run).await?;
    let csv = crate::export::fractions_csv(&results);
    Ok(download(
        Bytes::from(csv),
        "text/csv; charset=utf-8",
        &format!("{run}-fractions.csv"),
        false,
    ))
}

/// How a frame looks: remembered from a result this dashboard has seen, else read back.
async fn look(dash: &Dashboard, run: &RunId, seq: u64) -> Result<FrameLook, ApiError> {
    if let Some(look) = dash.looks.get(run, seq) {
        return Ok(look);
    }
    dash.frames(run).await?;
    dash.looks.get(run, seq).ok_or_else(|| {
        ApiError::not_found(format!(
            "frame {seq} of run {run} has no result yet, so its images cannot be shown"
        ))
    })
}

/// A reply carrying `bytes`, shown in the browser and cached (`inline`), or saved as
/// `filename` and never cached.
fn download(bytes: Bytes, content_type: &'static str, filename: &str, inline: bool) -> Response {
    let disposition = format!(
        "{}; filename=\"{filename}\"",
        if inline { "inline" } else { "attachment" }
    );
    let mut reply = (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CACHE_CONTROL,
                // Images of a frame do not change; downloads may (the table grows).
                HeaderValue::from_static(if inline {
                    "private, max-age=3600"
                } else {
                    "no-store"
                }),
            ),
        ],
        bytes,
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        reply.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    reply
}
