//! Lifecycle commands: start, stop, restart or upgrade an agent, or replace
//! its certificate. They are commands to the agent like any other (one
//! queue, one poll, stream `command-<id>`), typed and checked here before
//! they are issued; the agent reports how far it got as it goes.

use rustls_pki_types::pem::{PemObject, SectionKind};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use url::Url;

use crate::error::DomainError;
use crate::text::{check_name, check_text};

pub const MAX_VERSION_BYTES: usize = 64;
pub const MAX_PACKAGE_URL_BYTES: usize = 2048;
pub const MAX_CERTIFICATE_BYTES: usize = 64 * 1024;
/// The longest stage name a progress report carries.
pub const MAX_STAGE_BYTES: usize = 100;

const BEGIN_CERTIFICATE: &str = "-----BEGIN CERTIFICATE-----";
const END_CERTIFICATE: &str = "-----END CERTIFICATE-----";

/// What an operator asks of an agent's lifecycle. Issued, it is the
/// command's `action`; its name is the command and its fields the `args`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(tag = "action", rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum LifecycleAction {
    Start,
    Stop,
    Restart,
    /// Install `version`: the agent downloads `package_url` (the server never
    /// fetches it) and installs it only if its SHA-256 is `checksum`.
    Upgrade {
        /// 1 to 64 characters, no control character.
        version: String,
        /// An absolute `https` or `http` URL of at most 2048 bytes, without
        /// credentials.
        package_url: String,
        /// `sha256:` and 64 hexadecimal digits.
        checksum: String,
    },
    /// Replace the agent's certificate (and chain) with these PEM
    /// `CERTIFICATE` blocks, at most 64 KiB. Never a private key: the log
    /// keeps every event for good.
    UpdateCertificate {
        certificate_pem: String,
    },
}

impl LifecycleAction {
    /// The command's name: `start`, `stop`, `restart`, `upgrade` or
    /// `update_certificate`, the word serde tags the action with.
    pub fn name(&self) -> &'static str {
        self.into()
    }

    /// Checks the action and gives the command's arguments, as the poll
    /// hands them over and the history shows them: the action's fields, but
    /// for a certificate (whose PEM the action carries) how many it holds
    /// and the SHA-256 fingerprint of the first (the agent's own), so an
    /// operator can tell which one went.
    pub fn args(&self) -> Result<Value, DomainError> {
        match self {
            Self::Start | Self::Stop | Self::Restart => Ok(json!({})),
            Self::Upgrade {
                version,
                package_url,
                checksum,
            } => {
                check_name("version", version, MAX_VERSION_BYTES)?;
                check_package_url(package_url)?;
                check_checksum(checksum)?;
                Ok(json!({
                    "version": version,
                    "package_url": package_url,
                    "checksum": checksum
                }))
            }
            Self::UpdateCertificate { certificate_pem } => {
                let read = certificates(certificate_pem)?;
                // The PEM itself is the action's; once in the event is enough.
                Ok(json!({
                    "certificates": read.count,
                    "fingerprint": read.fingerprint
                }))
            }
        }
    }
}

fn check_package_url(text: &str) -> Result<(), DomainError> {
    check_name("package_url", text, MAX_PACKAGE_URL_BYTES)?;
    // The agent is handed the URL as written: one the parser would have to
    // repair (a space escaped) is not the one it would fetch.
    if text.chars().any(char::is_whitespace) {
        return Err(DomainError::invalid(
            "package_url must not hold whitespace (escape it: %20)",
        ));
    }
    let url = Url::parse(text)
        .map_err(|e| DomainError::invalid(format!("package_url is not an absolute URL: {e}")))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(DomainError::invalid(format!(
            "package_url must be an https or http URL, not {}",
            url.scheme()
        )));
    }
    if url.host().is_none() {
        return Err(DomainError::invalid("package_url names no host"));
    }
    // The URL is stored in the log for good and shown to every operator.
    if !url.username().is_empty() || url.password().is_some() {
        return Err(DomainError::invalid(
            "package_url must not carry credentials: the log keeps every event for good",
        ));
    }
    Ok(())
}

fn check_checksum(text: &str) -> Result<(), DomainError> {
    let hex = text.strip_prefix("sha256:").unwrap_or_default();
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(DomainError::invalid(
            "checksum must be `sha256:` followed by 64 hexadecimal digits",
        ))
    }
}

/// What a certificate update holds.
struct Certificates {
    count: usize,
    /// `sha256:` and the hex SHA-256 of the first certificate's DER.
    fingerprint: String,
}

/// Reads PEM that must hold CERTIFICATE blocks and nothing else. A private
/// key is looked for before anything else, on the raw text: it must not get
/// into the log under any label, well-formed or not.
fn certificates(text: &str) -> Result<Certificates, DomainError> {
    if text.len() > MAX_CERTIFICATE_BYTES {
        return Err(DomainError::invalid(format!(
            "certificate_pem exceeds {MAX_CERTIFICATE_BYTES} bytes"
        )));
    }
    if text.contains("PRIVATE KEY") {
        return Err(DomainError::invalid(
            "certificate_pem must not hold a private key: the log keeps every event for good, so no secret may enter it",
        ));
    }
    check_text("certificate_pem", Some(text), MAX_CERTIFICATE_BYTES)?;
    let count = certificate_blocks(text)?;
    // The PEM reader passes over blocks of labels it does not know and text
    // between blocks; `certificate_blocks` has refused both, so every block
    // it counted must come back from the reader as a certificate.
    let mut ders = Vec::with_capacity(count);
    for section in <(SectionKind, Vec<u8>) as PemObject>::pem_slice_iter(text.as_bytes()) {
        let (kind, der) = section.map_err(|e| {
            DomainError::invalid(format!(
                "certificate_pem: a CERTIFICATE block does not decode ({e})"
            ))
        })?;
        if kind != SectionKind::Certificate || !is_certificate(&der) {
            return Err(DomainError::invalid(
                "certificate_pem: a CERTIFICATE block does not hold an X.509 certificate",
            ));
        }
        ders.push(der);
    }
    match ders.first() {
        Some(first) if ders.len() == count => Ok(Certificates {
            count,
            fingerprint: fingerprint(first),
        }),
        _ => Err(DomainError::invalid(
            "certificate_pem is not PEM that can be read",
        )),
    }
}

/// Counts the CERTIFICATE blocks of `text`, refusing anything else: other
/// labels, lines between blocks that are not blank, a block left open.
fn certificate_blocks(text: &str) -> Result<usize, DomainError> {
    let mut inside = false;
    let mut count = 0;
    for (index, line) in text.lines().enumerate() {
        match (inside, line.trim_end()) {
            (false, "") => {}
            (false, BEGIN_CERTIFICATE) => inside = true,
            (true, END_CERTIFICATE) => {
                inside = false;
                count += 1;
            }
            (true, body) if !body.starts_with("-----") => {}
            _ => {
                return Err(DomainError::invalid(format!(
                    "certificate_pem holds PEM CERTIFICATE blocks only; line {} is not part of one",
                    index + 1
                )));
            }
        }
    }
    if inside {
        return Err(DomainError::invalid(
            "certificate_pem: a CERTIFICATE block has no END line",
        ));
    }
    if count == 0 {
        return Err(DomainError::invalid(
            "certificate_pem holds no CERTIFICATE block",
        ));
    }
    Ok(count)
}

/// Whether `der` is shaped like an X.509 certificate: a SEQUENCE whose
/// first element is a SEQUENCE (the part that is signed). Every private key
/// format (PKCS #1, PKCS #8, SEC1) has an INTEGER there, so a key's body
/// put under a CERTIFICATE label is refused too.
fn is_certificate(der: &[u8]) -> bool {
    let Some((&0x30, rest)) = der.split_first() else {
        return false;
    };
    let Some((&length, rest)) = rest.split_first() else {
        return false;
    };
    // A long-form length is that many more bytes before the content.
    let skip = if length < 0x80 {
        0
    } else {
        usize::from(length & 0x7f)
    };
    rest.get(skip) == Some(&0x30)
}

fn fingerprint(der: &[u8]) -> String {
    let hex: String = Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

/// One progress report's rules: a stage name (no control character, at most
/// [`MAX_STAGE_BYTES`]) and a percent from 0 to 100.
pub fn check_progress(stage: &str, percent: u8) -> Result<(), DomainError> {
    check_name("stage", stage, MAX_STAGE_BYTES)?;
    if percent > 100 {
        return Err(DomainError::invalid("percent must be 0 to 100"));
    }
    Ok(())
}

/// A self-signed P-256 certificate for `agent.example.com`, for tests.
#[cfg(test)]
pub(crate) const TEST_CERTIFICATE: &str = "-----BEGIN CERTIFICATE-----
MIIBjjCCATWgAwIBAgIUXdGSv+T6OWtAOVaBbBh4Fj14Q0cwCgYIKoZIzj0EAwIw
HDEaMBgGA1UEAwwRYWdlbnQuZXhhbXBsZS5jb20wIBcNMjYxMjA3MDYzNjQ5WhgP
MjEyNjExMTMwNjM2NDlaMBwxGjAYBgNVBAMMEWFnZW50LmV4YW1wbGUuY29tMFkw
EwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEsd8/+9qovXaFnwg76Zceu/Kwhzr0X8f9
e1ASVmoyQ+tAe3T/8I5Ca2Wzuj2P/+9xona5BqyOSlIrF18OF58QbKNTMFEwHQYD
VR0OBBYEFCCz7hBKSpPDYbxfuz8JqAK7Kf0CMB8GA1UdIwQYMBaAFCCz7hBKSpPD
Ybxfuz8JqAK7Kf0CMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDRwAwRAIg
X6zT3/wihD9N5oDMxvTdEfrcgPFCY8xevsTVs1i03+wCIFt7Yw2L+WNJpFQn8kpA
rLwTzwmazPssILkhQOj/JEd9
-----END CERTIFICATE-----
";

/// Its fingerprint, as `openssl x509 -noout -fingerprint -sha256` gives it
/// (lower case, without colons).
#[cfg(test)]
pub(crate) const TEST_FINGERPRINT: &str =
    "sha256:5a16d2a37ff5c4028344953dbdb298624f7b1dde79f8b695e132a9ad70f61012";

#[cfg(test)]
mod tests {
    use super::*;

    fn upgrade(version: &str, package_url: &str, checksum: &str) -> LifecycleAction {
        LifecycleAction::Upgrade {
            version: version.into(),
            package_url: package_url.into(),
            checksum: checksum.into(),
        }
    }

    fn good_checksum() -> String {
        format!("sha256:{}", "0f".repeat(32))
    }

    fn refused(action: &LifecycleAction, needle: &str) {
        match action.args() {
            Err(DomainError::Invalid(message)) => {
                assert!(message.contains(needle), "{message} (wanted `{needle}`)");
            }
            other => panic!("{action:?} was not refused: {other:?}"),
        }
    }

    fn certificate(pem: &str) -> LifecycleAction {
        LifecycleAction::UpdateCertificate {
            certificate_pem: pem.into(),
        }
    }

    #[test]
    fn names_are_the_tags_serde_writes() {
        for action in [
            LifecycleAction::Start,
            LifecycleAction::Stop,
            LifecycleAction::Restart,
            upgrade("1", "https://x.example", &good_checksum()),
            certificate(TEST_CERTIFICATE),
        ] {
            let written = serde_json::to_value(&action).unwrap_or_default();
            assert_eq!(written["action"], json!(action.name()));
        }
        assert_eq!(
            serde_json::from_value::<LifecycleAction>(json!({ "action": "restart" })).ok(),
            Some(LifecycleAction::Restart)
        );
    }

    #[test]
    fn an_upgrade_carries_its_fields_as_args() {
        let url = "https://downloads.example.com/agent/2.4.1/agent.tar.gz";
        let action = upgrade("2.4.1-rc.1+build 7", url, &good_checksum());
        assert_eq!(
            action.args(),
            Ok(
                json!({ "version": "2.4.1-rc.1+build 7", "package_url": url, "checksum": good_checksum() })
            )
        );
        assert_eq!(LifecycleAction::Stop.args(), Ok(json!({})));
        let upper = format!("sha256:{}", "AB".repeat(32));
        assert!(
            upgrade("1", "http://mirror.internal/a.deb", &upper)
                .args()
                .is_ok()
        );
    }

    #[test]
    fn an_upgrade_is_refused_a_bad_version() {
        let url = "https://x.example/p";
        refused(&upgrade("", url, &good_checksum()), "version");
        refused(&upgrade(" ", url, &good_checksum()), "version");
        refused(&upgrade(&"9".repeat(65), url, &good_checksum()), "version");
        refused(&upgrade("1.0\u{0}", url, &good_checksum()), "control");
        refused(&upgrade("1.0\n", url, &good_checksum()), "control");
        assert!(
            upgrade(&"9".repeat(64), url, &good_checksum())
                .args()
                .is_ok()
        );
    }

    #[test]
    fn an_upgrade_is_refused_a_url_other_than_absolute_http() {
        let checksum = good_checksum();
        refused(
            &upgrade("1", "ftp://x.example/p", &checksum),
            "https or http",
        );
        refused(
            &upgrade("1", "file:///etc/passwd", &checksum),
            "https or http",
        );
        refused(&upgrade("1", "/relative/p.tar", &checksum), "absolute");
        refused(
            &upgrade("1", "https://x.example/ p.tar", &checksum),
            "whitespace",
        );
        refused(&upgrade("1", "", &checksum), "package_url");
        refused(
            &upgrade("1", "https://user:secret@x.example/p", &checksum),
            "credentials",
        );
        refused(
            &upgrade("1", "https://x.example/\u{0}", &checksum),
            "control",
        );
        let long = format!("https://x.example/{}", "a".repeat(MAX_PACKAGE_URL_BYTES));
        refused(&upgrade("1", &long, &checksum), "package_url");
    }

    #[test]
    fn an_upgrade_is_refused_a_checksum_that_is_not_sha256_hex() {
        let url = "https://x.example/p";
        for bad in [
            String::new(),
            "0f".repeat(32),
            format!("md5:{}", "0f".repeat(32)),
            format!("sha256:{}", "0f".repeat(31)),
            format!("sha256:{}", "0f".repeat(33)),
            format!("sha256:{}g", "0f".repeat(31) + "0"),
            format!("SHA256:{}", "0f".repeat(32)),
        ] {
            refused(&upgrade("1", url, &bad), "checksum");
        }
    }

    #[test]
    fn a_certificate_is_counted_and_fingerprinted() {
        let chain = format!("{TEST_CERTIFICATE}\n{TEST_CERTIFICATE}");
        assert_eq!(
            certificate(&chain).args(),
            Ok(json!({
                "certificates": 2,
                "fingerprint": TEST_FINGERPRINT
            }))
        );
        let crlf = TEST_CERTIFICATE.replace('\n', "\r\n");
        assert!(certificate(&crlf).args().is_ok());
    }

    #[test]
    fn a_certificate_update_never_carries_a_private_key() {
        for label in [
            "PRIVATE KEY",
            "RSA PRIVATE KEY",
            "EC PRIVATE KEY",
            "ENCRYPTED PRIVATE KEY",
            "OPENSSH PRIVATE KEY",
        ] {
            let pem = format!(
                "{TEST_CERTIFICATE}-----BEGIN {label}-----\nMAMCAQE=\n-----END {label}-----\n"
            );
            refused(&certificate(&pem), "private key");
        }
        // A key's body (an INTEGER first, not a SEQUENCE) under a certificate's label.
        refused(
            &certificate("-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n"),
            "X.509",
        );
    }

    #[test]
    fn a_certificate_update_holds_certificate_blocks_only() {
        refused(&certificate(""), "no CERTIFICATE block");
        refused(&certificate("\n\n"), "no CERTIFICATE block");
        refused(&certificate("hello"), "line 1");
        let public_key = "-----BEGIN PUBLIC KEY-----\nMAMCAQE=\n-----END PUBLIC KEY-----\n";
        refused(
            &certificate(&format!("{TEST_CERTIFICATE}{public_key}")),
            "line 12",
        );
        refused(
            &certificate(&format!("subject=CN=agent\n{TEST_CERTIFICATE}")),
            "line 1",
        );
        refused(
            &certificate(
                TEST_CERTIFICATE
                    .trim_end()
                    .trim_end_matches(END_CERTIFICATE),
            ),
            "no END line",
        );
        let indented = TEST_CERTIFICATE.replace(BEGIN_CERTIFICATE, "  -----BEGIN CERTIFICATE-----");
        refused(&certificate(&indented), "line 1");
        let broken = TEST_CERTIFICATE.replace("MIIBjjCC", "MIIBjj!!");
        refused(&certificate(&broken), "does not decode");
        refused(&certificate(&format!("{TEST_CERTIFICATE}\u{0}")), "U+0000");
        let large = format!("{TEST_CERTIFICATE}{}", "\n".repeat(MAX_CERTIFICATE_BYTES));
        refused(&certificate(&large), "exceeds");
    }

    #[test]
    fn progress_has_a_named_stage_and_a_percent_up_to_100() {
        assert!(check_progress("download", 0).is_ok());
        assert!(check_progress("install", 100).is_ok());
        assert!(check_progress(&"s".repeat(MAX_STAGE_BYTES), 50).is_ok());
        for (stage, percent) in [
            ("download", 101),
            ("", 10),
            ("  ", 10),
            ("down\u{0}load", 10),
            ("a\tb", 10),
        ] {
            assert!(
                matches!(check_progress(stage, percent), Err(DomainError::Invalid(_))),
                "{stage:?} {percent}"
            );
        }
        assert!(check_progress(&"s".repeat(MAX_STAGE_BYTES + 1), 1).is_err());
    }
}
