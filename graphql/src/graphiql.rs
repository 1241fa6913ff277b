//! The GraphiQL page (development only) and its assets, embedded in the
//! binary at build time: no CDN, so the page works on networks without
//! internet access. Versions are pinned in `assets/graphiql/VERSIONS`
//! (`scripts/vendor-graphiql.sh` refreshes them from the npm registry).

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// The page: loads only `/graphql/assets/*`.
pub const PAGE: &str = include_str!("../assets/graphiql.html");

/// `(name, content type, bytes)` of every asset the page loads.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "graphiql.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/graphiql/graphiql.min.js"),
    ),
    (
        "graphiql.min.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/graphiql/graphiql.min.css"),
    ),
    (
        "react.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/graphiql/react.production.min.js"),
    ),
    (
        "react-dom.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/graphiql/react-dom.production.min.js"),
    ),
];

/// One asset, or 404 for any other name.
pub fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, bytes)) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
                // Pinned versions: the bytes under a name never change
                // within one build.
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=86400"),
                ),
            ],
            *bytes,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The asset names the page refers to.
pub fn asset_names() -> impl Iterator<Item = &'static str> {
    ASSETS.iter().map(|(name, _, _)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_nothing_from_elsewhere() {
        assert!(!PAGE.contains("http://") && !PAGE.contains("https://"));
        for name in asset_names() {
            assert!(PAGE.contains(&format!("/graphql/assets/{name}")), "{name}");
        }
        // Every src/href is one of ours.
        for attr in ["src=\"", "href=\""] {
            for part in PAGE.split(attr).skip(1) {
                let url = part.split('"').next().unwrap_or_default();
                let name = url.strip_prefix("/graphql/assets/").unwrap_or_default();
                assert!(asset_names().any(|n| n == name), "{url}");
            }
        }
    }
}
