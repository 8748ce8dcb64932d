//! The web app, built by `npm run build` into `web/dist` and embedded in
//! release binaries (debug builds read the folder at run time).

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "web/dist/"]
struct Dist;

/// The single page, for `/` and `/r/<room>`: the page reads the room from
/// its own URL.
pub async fn app() -> Response {
    serve("index.html")
}

pub async fn file(Path(file): Path<String>) -> Response {
    serve(&file)
}

fn serve(path: &str) -> Response {
    let Some(asset) = Dist::get(path) else {
        let hint = if path == "index.html" {
            "the web app is not built: run `npm run build`"
        } else {
            "not found"
        };
        return (StatusCode::NOT_FOUND, hint).into_response();
    };
    let mime = asset.metadata.mimetype().to_owned();
    let headers = [(header::CONTENT_TYPE, mime), (header::CACHE_CONTROL, "no-cache".into())];
    (headers, asset.data).into_response()
}
