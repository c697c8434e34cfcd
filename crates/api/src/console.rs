//! The team's console at `/app`: a web client of the public GraphQL API,
//! served from files embedded in the binary (`crates/api/assets/console/`,
//! plain JavaScript, no build step). This module holds what the console
//! needs from the server beyond the API every client has:
//!
//! - `requestSignInLink` (a mutation anyone may call: the same answer for
//!   every address);
//! - `GET /app/sign-in?token=` (a page with a button: mail scanners that open
//!   links do not use them up) and `POST /app/sign-in`, which redeems the
//!   link and sets the session cookie ([`COOKIE`]: HttpOnly, SameSite=Strict,
//!   Secure when the public URL is https);
//! - `POST /app/sign-out`, which ends the session.
//!
//! A request that signs in with the cookie must carry the header
//! [`CSRF_HEADER`] (server.rs checks it): a page of another site cannot add a
//! custom header without a CORS preflight, which this server never grants.
//! Form posts to `/app/sign-in` must come from this server's own origin.

use std::sync::Arc;

use async_graphql::{Context, InputObject, Object, SimpleObject};
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use smmflow_runtime::Runtime;
use smmflow_runtime::sessions::{LinkRefusal, SESSION_TTL};

use crate::error::{ApiResult as Result, UserError, user_errors};
use crate::{PublicUrl, runtime_of};

/// The session cookie's name.
pub const COOKIE: &str = "smmflow_session";
/// The header every cookie-authenticated request carries (any value).
pub const CSRF_HEADER: &str = "x-smmflow-csrf";

#[derive(Default)]
pub struct ConsoleMutation;

/// Who asks for a sign-in link.
#[derive(InputObject)]
pub struct RequestSignInLinkInput {
    /// The e-mail address of the account.
    pub email: String,
}

/// The answer to `requestSignInLink`: the same for every address.
#[derive(SimpleObject)]
pub struct RequestSignInLinkPayload {
    /// True once the request was taken: a link goes out if the address has an account.
    pub sent: bool,
    /// Problems with the input (an empty or malformed address).
    pub user_errors: Vec<UserError>,
}

#[Object]
impl ConsoleMutation {
    /// Mails a single-use sign-in link for the console (valid 15 minutes) to the account with this address.
    async fn request_sign_in_link(
        &self,
        ctx: &Context<'_>,
        input: RequestSignInLinkInput,
    ) -> Result<RequestSignInLinkPayload> {
        let rt = runtime_of(ctx)?;
        let base = ctx.data::<PublicUrl>().map(|p| p.0.clone()).unwrap_or_default();
        match rt.request_sign_in_link(&input.email, &base).await {
            Ok(()) => Ok(RequestSignInLinkPayload { sent: true, user_errors: Vec::new() }),
            Err(e) => Ok(RequestSignInLinkPayload { sent: false, user_errors: user_errors(e, "input")? }),
        }
    }
}

/// The session token of a request's cookie, if it has one.
pub fn session_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim().to_string())
        .filter(|v| !v.is_empty() && v.len() <= 200)
}

/// Whether a request comes from a page of this server: its `Origin` (or
/// else its `Referer`) names the `Host` it was sent to, or the origin of
/// the public URL (behind a proxy that rewrites `Host`).
pub fn same_origin(headers: &HeaderMap, public_url: &str) -> bool {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let from = headers.get(header::ORIGIN).or_else(|| headers.get(header::REFERER)).and_then(|h| h.to_str().ok());
    let Some((scheme, authority)) = from.and_then(origin_of) else { return false };
    Some(authority) == host || origin_of(public_url) == Some((scheme, authority))
}

/// `(scheme, host[:port])` of a URL.
fn origin_of(url: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    Some((scheme, rest.split('/').next()?)).filter(|(_, a)| !a.is_empty())
}

#[derive(Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

/// The console's pages: not framed by other sites (its buttons cannot be
/// clicked under a disguise), a referrer only to this server (the sign-in
/// link's token goes nowhere else; `no-referrer` would make browsers send
/// `Origin: null` with the sign-in form, which the same-origin check
/// refuses), and only this server's own scripts and connections (styles
/// may also be inline: Mermaid's diagrams carry their own).
fn guarded(resp: Response) -> Response {
    crate::approval_page::protected(
        resp,
        "same-origin",
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    )
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title} · smmflow</title><link rel=\"stylesheet\" href=\"/app/assets/console.css\"></head><body><main class=\"narrow\"><h1>{title}</h1>{body}</main></body></html>"
    );
    guarded((status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response())
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// `GET /app/sign-in?token=`: a button, so that opening the link signs nobody in.
pub async fn sign_in_page(Query(q): Query<TokenQuery>) -> Response {
    if q.token.is_empty() || q.token.len() > 2048 {
        return page(
            StatusCode::BAD_REQUEST,
            "Sign in",
            "<p>This page needs the link from your e-mail.</p><p><a href=\"/app\">Ask for a new link</a></p>",
        );
    }
    let body = format!(
        "<p>Sign in to the smmflow console on this device.</p><form method=\"post\" action=\"/app/sign-in\"><input type=\"hidden\" name=\"token\" value=\"{}\"><button type=\"submit\" id=\"sign-in\">Sign in</button></form>",
        escape(&q.token)
    );
    page(StatusCode::OK, "Sign in", &body)
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    token: String,
}

/// `POST /app/sign-in`: redeems the link and sets the session cookie.
pub async fn sign_in(
    State(rt): State<Arc<Runtime>>,
    State(public): State<PublicBase>,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Response {
    if !same_origin(&headers, &public.0) {
        return page(StatusCode::FORBIDDEN, "Sign in", "<p>Sign in from the link in your e-mail.</p>");
    }
    match rt.redeem_sign_in_link(&form.token).await {
        Ok(Ok(session)) => {
            let secure = if public.0.starts_with("https://") { "; Secure" } else { "" };
            let cookie = format!(
                "{COOKIE}={session}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
                SESSION_TTL.num_seconds()
            );
            let mut r = Redirect::to("/app").into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Ok(Err(refusal)) => page(
            if refusal == LinkRefusal::Invalid { StatusCode::BAD_REQUEST } else { StatusCode::GONE },
            "Sign in",
            &format!("<p>{}</p><p><a href=\"/app\">Ask for a new link</a></p>", refusal.message()),
        ),
        Err(e) => {
            tracing::error!("redeeming a sign-in link: {e}");
            page(StatusCode::SERVICE_UNAVAILABLE, "Sign in", "<p>Something went wrong; try again in a moment.</p>")
        }
    }
}

/// `POST /app/sign-out`: ends the session and clears the cookie.
pub async fn sign_out(State(rt): State<Arc<Runtime>>, headers: HeaderMap) -> Response {
    if headers.get(CSRF_HEADER).is_none() {
        return (StatusCode::FORBIDDEN, "send the x-smmflow-csrf header").into_response();
    }
    if let Some(session) = session_of(&headers)
        && let Err(e) = rt.end_session(&session).await
    {
        tracing::error!("ending a session: {e}");
        return (StatusCode::SERVICE_UNAVAILABLE, "the database is not reachable").into_response();
    }
    let clear = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    (StatusCode::NO_CONTENT, [(header::SET_COOKIE, clear)]).into_response()
}

/// The public base URL, as router state (the `Secure` flag follows it).
#[derive(Clone)]
pub struct PublicBase(pub String);

/// One embedded file of the console.
struct Asset {
    name: &'static str,
    mime: &'static str,
    body: &'static str,
}

/// A script of the console, by file name.
macro_rules! script {
    ($name:literal) => {
        Asset {
            name: $name,
            mime: "text/javascript; charset=utf-8",
            body: include_str!(concat!("../assets/console/", $name)),
        }
    };
}

/// The console's files; index.html loads the scripts in this order (one
/// global scope: core, then forms, then the pages, then the frame).
const ASSETS: &[Asset] = &[
    script!("core.js"),
    script!("forms.js"),
    script!("work.js"),
    script!("calendar.js"),
    script!("instance.js"),
    script!("board.js"),
    script!("clients.js"),
    script!("app.js"),
    Asset { name: "console.css", mime: "text/css; charset=utf-8", body: include_str!("../assets/console/console.css") },
];

/// `GET /app` (and every page under it): the console's one HTML page.
pub async fn app() -> Response {
    let html = include_str!("../assets/console/index.html");
    guarded(([(header::CACHE_CONTROL, "no-cache")], Html(html)).into_response())
}

/// Mermaid, for the instance and workflow pages (gzip-compressed; see
/// `assets/console/vendor/README.md`).
const MERMAID: &str = "mermaid-11.17.2.min.js";
const MERMAID_GZ: &[u8] = include_bytes!("../assets/console/vendor/mermaid-11.17.2.min.js.gz");

/// `GET /app/assets/{name}`.
pub async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    if name == MERMAID {
        return crate::embedded::gzipped(MERMAID, "text/javascript; charset=utf-8", MERMAID_GZ, &headers);
    }
    match ASSETS.iter().find(|a| a.name == name) {
        Some(a) => ([(header::CONTENT_TYPE, a.mime), (header::CACHE_CONTROL, "no-cache")], a.body).into_response(),
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap_or(HeaderValue::from_static("")));
        }
        h
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        assert_eq!(session_of(&headers(&[("cookie", "a=1; smmflow_session=smf_x ; b=2")])), Some("smf_x".into()));
        assert_eq!(session_of(&headers(&[("cookie", "a=1"), ("cookie", "smmflow_session=t")])), Some("t".into()));
        assert_eq!(session_of(&headers(&[("cookie", "smmflow_session=")])), None);
        assert_eq!(session_of(&headers(&[("cookie", "other_smmflow_session=t")])), None);
    }

    #[test]
    fn only_this_server_s_pages_are_the_same_origin() {
        let ok = headers(&[("host", "127.0.0.1:8080"), ("origin", "http://127.0.0.1:8080")]);
        assert!(same_origin(&ok, ""));
        let referer = headers(&[("host", "a.example"), ("referer", "https://a.example/app/sign-in?token=x")]);
        assert!(same_origin(&referer, ""));
        // Behind a proxy that sends its own Host, the public URL names the origin.
        let proxied = headers(&[("host", "127.0.0.1:8080"), ("origin", "https://smm.agency.example")]);
        assert!(same_origin(&proxied, "https://smm.agency.example"));
        assert!(!same_origin(&proxied, "https://smm.agency.example:8443"));
        assert!(!same_origin(
            &headers(&[("host", "a.example"), ("origin", "https://evil.example")]),
            "https://a.example"
        ));
        assert!(!same_origin(&headers(&[("host", "a.example"), ("origin", "https://a.example.evil.example")]), ""));
        assert!(!same_origin(&headers(&[("host", "a.example")]), "https://a.example"));
        assert!(!same_origin(&headers(&[("host", "a.example"), ("origin", "null")]), ""));
    }
}
