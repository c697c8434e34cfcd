//! The console at `/app`, over a real server on SQLite with a real SMTP
//! server: signing in by a mailed link (single use, expiring, the same
//! answer for unknown addresses, limited per address), the session cookie
//! and its CSRF header, sign-out, and the console itself in headless
//! Chromium (`console_browser.py`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../support/mod.rs"]
mod support;

mod browser;
mod forms;

use std::time::Duration;

use serde_json::{Value, json};
use support::Server;
use support::smtp::SmtpSink;

/// A server that mails through the sink.
fn server(sink: &SmtpSink) -> Server {
    let args = ["--smtp-url".to_string(), sink.url(), "--mail-from".into(), "SMM <smm@agency.example>".into()];
    Server::start_with("sqlite", &args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// Asks for a sign-in link; the answer's `sent`.
async fn ask(s: &Server, email: &str) -> Value {
    let q = "mutation($e: String!) { requestSignInLink(input: {email: $e}) { sent userErrors { field message } } }";
    s.gql("", q, json!({"e": email})).await
}

/// The sign-in links mailed to `login` so far.
fn links(sink: &SmtpSink, s: &Server, login: &str) -> Vec<String> {
    let prefix = format!("{}/app/sign-in?token=", s.url);
    sink.messages()
        .into_iter()
        .filter(|m| m["rcpt"][0].as_str().is_some_and(|r| r.starts_with(&format!("{login}@"))))
        .filter_map(|m| {
            m["text"].as_str().and_then(|t| t.split_whitespace().find(|w| w.starts_with(&prefix)).map(String::from))
        })
        .collect()
}

async fn wait_links(sink: &SmtpSink, s: &Server, login: &str, n: usize) -> Vec<String> {
    for _ in 0..100 {
        let l = links(sink, s, login);
        if l.len() >= n {
            return l;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no sign-in mail for {login}");
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// POSTs the link's form as the browser would (from the server's own page).
async fn redeem(s: &Server, link: &str) -> reqwest::Response {
    let token = link.split("token=").nth(1).unwrap();
    client()
        .post(format!("{}/app/sign-in", s.url))
        .header("origin", &s.url)
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
}

/// The session token of a Set-Cookie answer.
fn cookie_of(r: &reqwest::Response) -> String {
    let set = r.headers()["set-cookie"].to_str().unwrap().to_string();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(attr), "{set}");
    }
    set.split(';').next().unwrap().to_string()
}

async fn as_cookie(s: &Server, cookie: &str, csrf: bool, query: &str) -> (u16, Value) {
    let mut req = client().post(format!("{}/graphql", s.url)).header("cookie", cookie).json(&json!({"query": query}));
    if csrf {
        req = req.header("x-smmflow-csrf", "1");
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn a_mailed_link_signs_in_once_and_the_cookie_needs_its_header() {
    let Some(sink) = SmtpSink::start() else { return };
    let s = server(&sink);
    s.team("acme", &[("wanda", "writer")]).await;

    // The same answer for an unknown address; a malformed one is a userError.
    assert_eq!(ask(&s, "nobody@agency.example").await["data"]["requestSignInLink"]["sent"], true);
    let bad = ask(&s, "not an address").await;
    assert_eq!(bad["data"]["requestSignInLink"]["sent"], false, "{bad}");
    assert_eq!(bad["data"]["requestSignInLink"]["userErrors"][0]["field"], json!(["email"]), "{bad}");
    assert_eq!(ask(&s, "WANDA@agency.example").await["data"]["requestSignInLink"]["sent"], true);
    let link = wait_links(&sink, &s, "wanda", 1).await.remove(0);
    assert!(links(&sink, &s, "nobody").is_empty());

    // Opening the link signs nobody in (mail scanners open links): a button.
    let page = client().get(&link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers().get("set-cookie").is_none());
    // Not to be framed by another site (a disguised button), no referrer elsewhere for the token.
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    assert_eq!(page.headers()["referrer-policy"], "same-origin");
    assert!(page.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    assert!(page.text().await.unwrap().contains("<form method=\"post\" action=\"/app/sign-in\">"));
    // A post from another site is refused (no signing a victim in to an attacker's account).
    let token = link.split("token=").nth(1).unwrap();
    let foreign = client()
        .post(format!("{}/app/sign-in", s.url))
        .header("origin", "https://evil.example")
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);
    let r = redeem(&s, &link).await;
    assert_eq!((r.status().as_u16(), r.headers()["location"].to_str().unwrap()), (303, "/app"));
    let cookie = cookie_of(&r);
    // Used once only.
    assert_eq!(redeem(&s, &link).await.status(), 410);
    // A made-up token, or an approval-style token changed by hand.
    let forged = client()
        .post(format!("{}/app/sign-in", s.url))
        .header("origin", &s.url)
        .form(&[("token", "eyJpIjoiMCJ9.AAAA")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 400);

    // The cookie signs GraphQL requests in only with the CSRF header.
    let (status, body) = as_cookie(&s, &cookie, false, "{ viewer { login } }").await;
    assert_eq!((status, &body["errors"][0]["extensions"]["code"]), (403, &json!("FORBIDDEN")), "{body}");
    let (status, body) = as_cookie(&s, &cookie, true, "{ viewer { login apiTokens { name } } }").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["viewer"]["login"], "wanda");
    assert_eq!(body["data"]["viewer"]["apiTokens"], json!([{"name": "e2e"}]), "sessions are not API tokens");

    // Sign-out ends the session: the cookie no longer signs in.
    let out = client().post(format!("{}/app/sign-out", s.url)).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(out.status(), 403, "sign-out also needs the header");
    let out = client()
        .post(format!("{}/app/sign-out", s.url))
        .header("cookie", &cookie)
        .header("x-smmflow-csrf", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    assert!(out.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    let (_, body) = as_cookie(&s, &cookie, true, "{ viewer { login } }").await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{body}");
}

#[tokio::test]
async fn links_expire_and_an_address_gets_few_of_them() {
    let Some(sink) = SmtpSink::start() else { return };
    let s = server(&sink);
    s.team("acme", &[("wanda", "writer")]).await;
    for _ in 0..5 {
        assert_eq!(ask(&s, "wanda@agency.example").await["data"]["requestSignInLink"]["sent"], true);
    }
    let sent = wait_links(&sink, &s, "wanda", 3).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(links(&sink, &s, "wanda").len(), 3, "three links per address per 15 minutes");
    // Sixteen minutes on (the server's manual clock), a link has expired.
    let now = s.ok(&s.admin, "{ serverTime }", json!({})).await["serverTime"].as_str().unwrap().to_string();
    let later = (chrono::DateTime::parse_from_rfc3339(&now).unwrap() + chrono::Duration::minutes(16)).to_rfc3339();
    s.ok(&s.admin, "mutation($to: DateTime!) { advanceClock(input: {to: $to}) { fired } }", json!({"to": later})).await;
    let r = redeem(&s, &sent[0]).await;
    assert_eq!(r.status(), 410);
    assert!(r.text().await.unwrap().contains("expired"));
    // And the window has passed: a new link may be sent.
    ask(&s, "wanda@agency.example").await;
    wait_links(&sink, &s, "wanda", 4).await;
}

#[tokio::test]
async fn the_cookie_opens_a_socket_only_from_the_console_s_own_pages() {
    let Some(sink) = SmtpSink::start() else { return };
    let s = server(&sink);
    s.team("acme", &[("wanda", "writer")]).await;
    ask(&s, "wanda@agency.example").await;
    let link = wait_links(&sink, &s, "wanda", 1).await.remove(0);
    let cookie = cookie_of(&redeem(&s, &link).await);
    let init = |origin: &str| {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut req = (s.url.replace("http://", "ws://") + "/graphql/ws").into_client_request().unwrap();
        let h = req.headers_mut();
        h.insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse().unwrap());
        h.insert("cookie", cookie.parse().unwrap());
        h.insert("origin", origin.parse().unwrap());
        req
    };
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    for (origin, ack) in [(s.url.clone(), true), ("https://evil.example".to_string(), false)] {
        let (mut ws, _) = tokio_tungstenite::connect_async(init(&origin)).await.unwrap();
        ws.send(Message::Text(json!({"type": "connection_init", "payload": {}}).to_string().into())).await.unwrap();
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next()).await.unwrap().unwrap().unwrap();
        match msg {
            Message::Text(t) => assert!(ack && t.contains("connection_ack"), "{origin}: {t}"),
            Message::Close(Some(f)) => assert!(!ack && u16::from(f.code) == 4403, "{origin}: {f:?}"),
            other => panic!("{origin}: {other:?}"),
        }
    }
}
