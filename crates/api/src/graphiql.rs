//! GraphiQL at `/`, from files embedded in the binary (pinned releases of
//! graphiql, react and react-dom; see `crates/api/assets/graphiql/README.md`),
//! so the page works on a machine without internet access. The files are
//! stored gzip-compressed (`embedded.rs` sends them).

use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
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
    match ASSETS.iter().find(|a| a.name == name) {
        Some(a) => crate::embedded::gzipped(a.name, a.mime, a.gzip, &headers),
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_file_decompresses_and_the_page_names_each() {
        for a in ASSETS {
            assert!(crate::embedded::plain(a.gzip).len() > 1000, "{}", a.name);
            assert!(PAGE.contains(&format!("/assets/graphiql/{}", a.name)), "{}", a.name);
        }
        assert!(!PAGE.contains("unpkg") && !PAGE.contains("https://"), "the page names no other site");
    }
}
