//! GraphiQL at `/`, from files embedded in the binary (pinned releases of
//! graphiql, react and react-dom; see `crates/api/assets/graphiql/README.md`),
//! so the page works on a machine without internet access. The files are
//! stored gzip-compressed and sent as they are to browsers that accept gzip
//! (all of them); anything else gets them decompressed.

use std::io::Read;

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

/// One embedded file: its name under `/assets/graphiql/`, its type, its
/// gzip-compressed bytes.
struct Asset {
    name: &'static str,
    mime: &'static str,
    gzip: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $mime:literal) => {
        Asset { name: $name, mime: $mime, gzip: include_bytes!(concat!("../assets/graphiql/", $name, ".gz")) }
    };
}

/// Versioned names: a new release is a new name, so browsers may keep them.
const ASSETS: &[Asset] = &[
    asset!("react-18.3.1.production.min.js", "text/javascript; charset=utf-8"),
    asset!("react-dom-18.3.1.production.min.js", "text/javascript; charset=utf-8"),
    asset!("graphiql-3.8.3.min.js", "text/javascript; charset=utf-8"),
    asset!("graphiql-3.8.3.min.css", "text/css; charset=utf-8"),
];

/// The page. GraphiQL itself sends the headers typed into its headers pane
/// (`{"Authorization": "Bearer ..."}`) as the `connection_init` payload of a
/// subscription, so one header serves both transports.
const PAGE: &str = r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="robots" content="noindex">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>smmflow GraphiQL</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/graphiql/graphiql-3.8.3.min.css">
<style>body{margin:0;height:100%;overflow:hidden}#graphiql{height:100vh}</style>
<script src="/assets/graphiql/react-18.3.1.production.min.js"></script>
<script src="/assets/graphiql/react-dom-18.3.1.production.min.js"></script>
<script src="/assets/graphiql/graphiql-3.8.3.min.js"></script>
</head>
<body>
<div id="graphiql">Loading...</div>
<script>
(function () {
  var here = window.location;
  var ws = (here.protocol === "https:" ? "wss://" : "ws://") + here.host + "/graphql/ws";
  var fetcher = GraphiQL.createFetcher({
    url: here.origin + "/graphql",
    subscriptionUrl: ws,
  });
  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultEditorToolsVisibility: true,
      defaultHeaders: '{"Authorization": "Bearer <your token>"}',
    })
  );
})();
</script>
</body>
</html>
"#;

pub async fn page() -> Html<&'static str> {
    Html(PAGE)
}

pub async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    let Some(a) = ASSETS.iter().find(|a| a.name == name) else {
        return (StatusCode::NOT_FOUND, "no such file").into_response();
    };
    let cache = (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    let mime = (header::CONTENT_TYPE, HeaderValue::from_static(a.mime));
    if accepts_gzip(&headers) {
        let gzip = (header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        let vary = (header::VARY, HeaderValue::from_static("accept-encoding"));
        return ([mime, cache, gzip, vary], a.gzip).into_response();
    }
    let mut plain = Vec::new();
    match flate2::read::GzDecoder::new(a.gzip).read_to_end(&mut plain) {
        Ok(_) => ([mime, cache], plain).into_response(),
        Err(e) => {
            tracing::error!("embedded asset {} does not decompress: {e}", a.name);
            (StatusCode::INTERNAL_SERVER_ERROR, "the file is damaged").into_response()
        }
    }
}

/// Whether `Accept-Encoding` lists gzip (or `*`) without `q=0`.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(
        |part| {
            let mut bits = part.split(';').map(str::trim);
            let coding = bits.next().unwrap_or("").to_ascii_lowercase();
            let refused = bits.any(|b| b.strip_prefix("q=").and_then(|q| q.trim().parse::<f32>().ok()) == Some(0.0));
            (coding == "gzip" || coding == "*") && !refused
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap_or(HeaderValue::from_static("")));
        h
    }

    #[test]
    fn gzip_is_sent_only_to_who_takes_it() {
        assert!(accepts_gzip(&with("gzip, deflate, br")));
        assert!(accepts_gzip(&with("br;q=1.0, GZIP;q=0.5")));
        assert!(accepts_gzip(&with("*")));
        assert!(!accepts_gzip(&with("gzip;q=0, br")));
        assert!(!accepts_gzip(&with("gzip; q=0.000")));
        assert!(!accepts_gzip(&with("identity")));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn every_embedded_file_decompresses_and_the_page_names_each() {
        for a in ASSETS {
            let mut plain = Vec::new();
            flate2::read::GzDecoder::new(a.gzip).read_to_end(&mut plain).unwrap();
            assert!(plain.len() > 1000, "{}", a.name);
            assert!(PAGE.contains(&format!("/assets/graphiql/{}", a.name)), "{}", a.name);
        }
        assert!(!PAGE.contains("unpkg") && !PAGE.contains("https://"), "the page names no other site");
    }
}
