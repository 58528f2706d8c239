//! The console's own script and style and the vendored front-end libraries,
//! embedded in the binary: nothing to build or install to serve them.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::Embed;

#[derive(Embed)]
#[folder = "assets/"]
struct Assets;

/// An embedded file, cached by browsers for an hour (the names of vendored
/// files carry their versions; the console's own change with a release).
pub async fn serve(Path(path): Path<String>) -> Response {
    let Some(file) = Assets::get(&path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let kind = match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    };
    let mut response = file.data.into_owned().into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}

/// The size of every script the console loads, in bytes.
pub fn script_bytes() -> usize {
    Assets::iter()
        .filter(|name| name.ends_with(".js"))
        .filter_map(|name| Assets::get(&name))
        .map(|file| file.data.len())
        .sum()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_console_loads_less_than_150_kb_of_script() {
        let bytes = super::script_bytes();
        assert!(
            bytes > 100_000,
            "the vendored libraries are embedded ({bytes} bytes)"
        );
        assert!(bytes < 150 * 1024, "{bytes} bytes of JavaScript");
    }
}
