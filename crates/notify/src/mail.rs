//! A message as queued (one recipient), and delivering it: over SMTP with
//! lettre, or as `.eml` files in a folder when no SMTP server is configured.
//!
//! Delivery is at least once: a crash between sending and recording the
//! send sends the message again, with the same `Message-ID` (derived from
//! its outbox key), so mail clients show it once.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

type Smtp = AsyncSmtpTransport<Tokio1Executor>;

/// How long one SMTP send may take before it counts as failed.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// A rendered message to one recipient: the payload of a `mail` outbox row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mail {
    pub to: String,
    #[serde(default)]
    pub to_name: Option<String>,
    /// The recipient's login, when they have an account.
    #[serde(default)]
    pub login: Option<String>,
    /// What caused it (`task.created`, `notify`, `digest`...).
    pub event: String,
    pub subject: String,
    pub text: String,
    #[serde(default)]
    pub html: Option<String>,
}

/// Why a delivery failed, and whether trying again can help.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    pub message: String,
    /// The server refused for good (5xx: no such mailbox...): do not retry.
    pub permanent: bool,
}

impl SendError {
    fn transient(message: impl Into<String>) -> SendError {
        SendError { message: message.into(), permanent: false }
    }
    fn permanent(message: impl Into<String>) -> SendError {
        SendError { message: message.into(), permanent: true }
    }
}

/// The `Message-ID` of the message queued under `key`: the same key always
/// gives the same id.
pub fn message_id(key: &str, from: &Mailbox) -> String {
    let hash = hex::encode(Sha256::digest(key.as_bytes()));
    format!("<{}@{}>", &hash[..40], from.email.domain())
}

/// A display name or subject as one header line: control characters
/// (CR and LF above all, which would start a new header) become spaces,
/// runs of white space one space, and it is cut at 200 characters.
pub fn header_text(s: &str) -> String {
    let line: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(200) {
        Some((i, _)) => line[..i].to_string(),
        None => line,
    }
}

/// Builds the RFC 5322 message. Names and the subject pass through
/// [`header_text`], so no stored value can inject a header; and lettre's
/// header encoding panics on a line break, which a stored name written
/// before names were checked could otherwise still carry.
pub fn build(mail: &Mail, key: &str, from: &Mailbox) -> Result<Message, SendError> {
    let name = mail.to_name.as_deref().map(header_text).filter(|n| !n.is_empty());
    let to = Mailbox::new(
        name,
        mail.to.parse().map_err(|e| SendError::permanent(format!("`{}` is not an e-mail address: {e}", mail.to)))?,
    );
    let b = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(header_text(&mail.subject))
        .message_id(Some(message_id(key, from)))
        .date(SystemTime::now())
        .header(AutoSubmitted);
    let built = match &mail.html {
        Some(h) => b.multipart(MultiPart::alternative_plain_html(mail.text.clone(), h.clone())),
        None => b.header(ContentType::TEXT_PLAIN).body(mail.text.clone()),
    };
    built.map_err(|e| SendError::permanent(format!("cannot build the message: {e}")))
}

/// `Auto-Submitted: auto-generated` (RFC 3834): out-of-office replies stay away.
#[derive(Clone)]
struct AutoSubmitted;

impl lettre::message::header::Header for AutoSubmitted {
    fn name() -> lettre::message::header::HeaderName {
        lettre::message::header::HeaderName::new_from_ascii_str("Auto-Submitted")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }
    fn display(&self) -> lettre::message::header::HeaderValue {
        lettre::message::header::HeaderValue::new(Self::name(), "auto-generated".into())
    }
}

/// Where mail goes.
#[derive(Clone)]
pub enum Transport {
    Smtp(Box<Smtp>),
    /// `.eml` files in this folder, one per message, named by its key's hash.
    Files(PathBuf),
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::Smtp(_) => f.write_str("Transport::Smtp"),
            Transport::Files(p) => write!(f, "Transport::Files({})", p.display()),
        }
    }
}

impl Transport {
    /// From `SMMFLOW_SMTP_URL`: `smtp://host:port` (plain), `smtp://user:pass@host:587?tls=starttls`
    /// (STARTTLS required; `tls=required` too, `tls=opportunistic` if offered), `smtps://host:465`.
    pub fn smtp(raw: &str) -> crate::Result<Transport> {
        Self::smtp_inner(raw).map_err(crate::Error::Setup)
    }

    fn smtp_inner(raw: &str) -> Result<Transport, String> {
        let u = url::Url::parse(raw).map_err(|e| format!("`{raw}` is not a URL: {e}"))?;
        let host = u.host_str().filter(|h| !h.is_empty()).ok_or_else(|| format!("`{raw}` names no host"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        let tls = u.query_pairs().find(|(k, _)| k == "tls").map(|(_, v)| v.to_ascii_lowercase());
        let bad_tls = |e: lettre::transport::smtp::Error| format!("TLS set-up for `{host}`: {e}");
        let mut b = match (u.scheme(), tls.as_deref()) {
            ("smtp", None | Some("none")) => Smtp::builder_dangerous(&host).port(u.port().unwrap_or(25)),
            ("smtp", Some("starttls" | "required")) => {
                Smtp::starttls_relay(&host).map_err(bad_tls)?.port(u.port().unwrap_or(587))
            }
            ("smtp", Some("opportunistic")) => {
                let params = lettre::transport::smtp::client::TlsParameters::new(host.clone()).map_err(bad_tls)?;
                Smtp::builder_dangerous(&host)
                    .port(u.port().unwrap_or(587))
                    .tls(lettre::transport::smtp::client::Tls::Opportunistic(params))
            }
            ("smtps", _) => Smtp::relay(&host).map_err(bad_tls)?.port(u.port().unwrap_or(465)),
            ("smtp", Some(t)) => {
                return Err(format!("unknown `tls={t}` in the SMTP URL: use starttls, opportunistic or none"));
            }
            (s, _) => return Err(format!("unknown scheme `{s}` in the SMTP URL: use smtp:// or smtps://")),
        };
        if !u.username().is_empty() {
            let dec = |s: &str| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8()
                    .map(|c| c.into_owned())
                    .map_err(|_| "the SMTP credentials are not UTF-8".to_string())
            };
            b = b.credentials(Credentials::new(dec(u.username())?, dec(u.password().unwrap_or(""))?));
        }
        let pool = PoolConfig::new().max_size(4).idle_timeout(Duration::from_secs(30));
        Ok(Transport::Smtp(Box::new(b.timeout(Some(Duration::from_secs(10))).pool_config(pool).build())))
    }

    /// Delivers one message (queued under `key`).
    pub async fn send(&self, mail: &Mail, key: &str, from: &Mailbox) -> Result<(), SendError> {
        // A message lettre cannot build (it panics on some header values)
        // is dead, not a stopped mail service.
        let message = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| build(mail, key, from)))
            .map_err(|_| SendError::permanent("the message cannot be built (a header value lettre refuses)"))??;
        match self {
            Transport::Smtp(smtp) => match tokio::time::timeout(SEND_TIMEOUT, smtp.send(message)).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) if e.is_permanent() => Err(SendError::permanent(format!("the SMTP server refused: {e}"))),
                Ok(Err(e)) => Err(SendError::transient(format!("SMTP: {e}"))),
                Err(_) => Err(SendError::transient(format!("SMTP: no answer within {}s", SEND_TIMEOUT.as_secs()))),
            },
            Transport::Files(dir) => write_eml(dir, key, &message.formatted()).await,
        }
    }
}

/// Writes the message atomically (a temporary file, then a rename), so a
/// second delivery of the same key replaces the file instead of adding one.
async fn write_eml(dir: &std::path::Path, key: &str, bytes: &[u8]) -> Result<(), SendError> {
    let name = hex::encode(Sha256::digest(key.as_bytes()));
    let io = |e: std::io::Error| SendError::transient(format!("writing to {}: {e}", dir.display()));
    tokio::fs::create_dir_all(dir).await.map_err(io)?;
    let tmp = dir.join(format!(".{name}.tmp"));
    tokio::fs::write(&tmp, bytes).await.map_err(io)?;
    tokio::fs::rename(&tmp, dir.join(format!("{name}.eml"))).await.map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from() -> Mailbox {
        "smmflow <noreply@agency.example>".parse().unwrap()
    }

    fn mail(html: Option<&str>) -> Mail {
        Mail {
            to: "anna@agency.example".into(),
            to_name: Some("Anna".into()),
            login: Some("anna".into()),
            event: "task.created".into(),
            subject: "New task: Copy for VK".into(),
            text: "Write it".into(),
            html: html.map(str::to_string),
        }
    }

    #[test]
    fn the_message_id_is_stable_per_key() {
        assert_eq!(message_id("k1", &from()), message_id("k1", &from()));
        assert_ne!(message_id("k1", &from()), message_id("k2", &from()));
        assert!(message_id("k1", &from()).ends_with("@agency.example>"));
        let text = String::from_utf8(build(&mail(None), "k1", &from()).unwrap().formatted()).unwrap();
        assert!(text.contains(&format!("Message-ID: {}", message_id("k1", &from()))), "{text}");
        assert!(text.contains("Auto-Submitted: auto-generated"), "{text}");
    }

    #[test]
    fn html_makes_a_multipart_alternative() {
        let text = String::from_utf8(build(&mail(Some("<p>Write it</p>")), "k", &from()).unwrap().formatted()).unwrap();
        assert!(text.contains("multipart/alternative"), "{text}");
        assert!(text.contains("text/html"), "{text}");
    }

    #[test]
    fn names_and_subjects_cannot_break_a_header() {
        let mut m = mail(None);
        m.to_name = Some("Eve\r\nBcc: v@evil.test".into());
        m.subject = "Hi\r\nBcc: v@evil.test\u{0}".into();
        let text = String::from_utf8(build(&m, "k", &from()).unwrap().formatted()).unwrap();
        assert!(!text.lines().any(|l| l.starts_with("Bcc:")), "{text}");
        assert!(text.contains("Subject: Hi Bcc: v@evil.test\r\n"), "{text}");
        let to = text.lines().find(|l| l.starts_with("To: ")).unwrap();
        assert!(to.ends_with("<anna@agency.example>"), "{to}");
    }

    #[test]
    fn a_bad_address_is_a_permanent_failure() {
        let mut m = mail(None);
        m.to = "not an address".into();
        assert!(build(&m, "k", &from()).unwrap_err().permanent);
    }

    #[tokio::test]
    async fn smtp_urls_are_understood_and_bad_ones_explained() {
        for ok in [
            "smtp://127.0.0.1:2525",
            "smtp://user:p%40ss@mail.example:587?tls=starttls",
            "smtp://mail.example?tls=opportunistic",
            "smtps://mail.example:465",
        ] {
            assert!(Transport::smtp(ok).is_ok(), "{ok}");
        }
        assert!(Transport::smtp("http://mail.example").unwrap_err().to_string().contains("scheme"));
        assert!(Transport::smtp("smtp://mail.example?tls=maybe").unwrap_err().to_string().contains("tls=maybe"));
        assert!(Transport::smtp("not a url").is_err());
    }

    #[tokio::test]
    async fn files_are_replaced_not_duplicated() {
        let dir = tempfile::tempdir().unwrap();
        let t = Transport::Files(dir.path().to_path_buf());
        t.send(&mail(None), "key-1", &from()).await.unwrap();
        t.send(&mail(None), "key-1", &from()).await.unwrap();
        t.send(&mail(None), "key-2", &from()).await.unwrap();
        let n = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "eml"))
            .count();
        assert_eq!(n, 2);
    }
}
