//! Files embedded in the binary gzip-compressed (GraphiQL, the console's
//! Mermaid): sent as they are to clients that accept gzip (every browser),
//! decompressed for any other.

use std::io::Read;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Versioned names may be kept by browsers for a year.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The response for one embedded, gzip-compressed file.
pub fn gzipped(name: &str, mime: &'static str, gzip: &'static [u8], headers: &HeaderMap) -> Response {
    let cache = (header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
    let mime = (header::CONTENT_TYPE, HeaderValue::from_static(mime));
    if accepts_gzip(headers) {
        let gz = (header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        let vary = (header::VARY, HeaderValue::from_static("accept-encoding"));
        return ([mime, cache, gz, vary], gzip).into_response();
    }
    let mut plain = Vec::new();
    match flate2::read::GzDecoder::new(gzip).read_to_end(&mut plain) {
        Ok(_) => ([mime, cache], plain).into_response(),
        Err(e) => {
            tracing::error!("embedded file {name} does not decompress: {e}");
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

/// Decompresses an embedded file (tests).
#[cfg(test)]
pub fn plain(gzip: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(gzip).read_to_end(&mut out).unwrap_or_default();
    out
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
}
