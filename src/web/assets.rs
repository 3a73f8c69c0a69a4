//! The stylesheet and other static files, compiled into the binary so that a deployment is one file.

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::web::error::WebError;

const FILES: &[(&str, &str, &[u8])] = &[
    (
        "css/app.css",
        "text/css; charset=utf-8",
        include_bytes!("../../static/css/app.css"),
    ),
    (
        "icons/favicon.svg",
        "image/svg+xml",
        include_bytes!("../../static/icons/favicon.svg"),
    ),
    (
        "js/app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/js/app.js"),
    ),
    (
        "js/compose.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/js/compose.js"),
    ),
];

/// `GET /static/{*path}`
pub async fn get(Path(path): Path<String>) -> Result<Response, WebError> {
    let (_, content_type, bytes) = FILES
        .iter()
        .find(|(p, _, _)| *p == path)
        .ok_or(WebError::NotFound)?;
    let mut resp = bytes.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    Ok(resp)
}
