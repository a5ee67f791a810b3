//! Downloads of one frame: the frame itself as an 8-bit PNG (from ingest's preview), its
//! communities and (with a run classifier) its classes as PNGs of the same size (to lay over
//! it at any opacity), the overlay as the publisher drew it (PNG, with its legend), the label
//! map and class map (16-bit TIFF), and the run's fraction table (CSV).

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
    /// `classes.png`: the class layer.
    Classes,
    /// `classes.tiff`: the class map.
    ClassMap,
}

impl FrameFile {
    /// The file named `name`, if it is one.
    pub(crate) fn parse(name: &str) -> Option<FrameFile> {
        match name {
            "overlay.png" => Some(FrameFile::Overlay),
            "frame.png" => Some(FrameFile::Frame),
            "communities.png" => Some(FrameFile::Communities),
            "labels.tiff" => Some(FrameFile::Labels),
            "classes.png" => Some(FrameFile::Classes),
            "classes.tiff" => Some(FrameFile::ClassMap),
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
        FrameFile::Overlay | FrameFile::Labels | FrameFile::ClassMap => {
            let (object, kind, suffix, inline) = match file {
                FrameFile::Overlay => (
                    keys::overlay_object(run, seq),
                    "image/png",
                    "overlay.png",
                    true,
                ),
                FrameFile::ClassMap => (
                    keys::classes_object(run, seq),
                    "image/tiff",
                    "classes.tiff",
                    false,
                ),
                _ => (
                    keys::labels_object(run, seq),
                    "image/tiff",
                    "labels.tiff",
                    false,
                ),
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
        FrameFile::Communities | FrameFile::Classes => {
            let look = look(dash, run, seq).await?;
            let (object, colors, what) = if file == FrameFile::Classes {
                (keys::classes_object(run, seq), look.class_colors, "classes")
            } else {
                (keys::labels_object(run, seq), look.colors, "communities")
            };
            let tiff = dash.bus.get_object(OUTPUTS_STORE.bucket, &object).await?;
            let (w, h, labels) = tessera_imaging::decode_labels_tiff(&tiff)
                .map_err(|e| unfit("label map", seq, e))?;
            let rgba = community_layer(&labels, &colors);
            let png = tessera_imaging::encode_png_rgba8(w, h, &rgba)
                .map_err(|e| unfit("label map", seq, e))?;
            Ok(download(
                png.into(),
                "image/png",
                &format!("{name}-{what}.png"),
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
