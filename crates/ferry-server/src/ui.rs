//! The web UI: three files embedded in the binary (it works with no internet), served
//! under the root path. `index.html`'s `{{ROOT}}` becomes the root path, so that its
//! relative URLs work under `--root-path`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

const INDEX: &str = include_str!("../ui/index.html");
const APP_JS: &str = include_str!("../ui/app.js");
const APP_CSS: &str = include_str!("../ui/app.css");

fn file(body: String, content_type: &'static str, cache: &'static str) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// `index.html` for the root path `root` (ends with `/`).
pub fn index(root: &str) -> Response {
    file(
        INDEX.replace("{{ROOT}}", root),
        "text/html; charset=utf-8",
        "no-cache",
    )
}

pub fn app_js() -> Response {
    file(
        APP_JS.to_owned(),
        "text/javascript; charset=utf-8",
        "no-cache",
    )
}

pub fn app_css() -> Response {
    file(APP_CSS.to_owned(), "text/css; charset=utf-8", "no-cache")
}
