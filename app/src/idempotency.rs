//! `Idempotency-Key` on commands: a retry with the same key and request gets
//! the first answer, byte for byte, also after a restart; the same key with
//! another request is refused. Keys are scoped to the caller (its API key,
//! or the agent behind its token), so one caller never sees another's
//! answers. Secrets shown once are never stored: the remembered answer has
//! them withheld. Answers are kept for [`RETENTION`].

use std::sync::Arc;
use std::time::Duration;

use agentledger_commands::auth::{Principal, authenticate_api_key, is_api_key};
use agentledger_commands::secrets::sha256_hex;
use agentledger_store::{Claim, IdempotencyStore, StoredAnswer};
use serde_json::Value;
use tokio::task::JoinHandle;

use crate::app::App;
use crate::error::AppError;

/// How long answers are kept.
pub const RETENTION: Duration = Duration::from_secs(24 * 3600);
const MAX_KEY_CHARS: usize = 255;

/// A request that owns its key: finish it with its answer, or abandon it.
#[must_use]
pub struct Ticket {
    scope: String,
    key: String,
}

/// How a request with a key goes on.
pub enum Begin {
    /// No caller to scope the key to: run it as if it had none (the route
    /// will refuse it, or it is a login, safe to repeat and never stored).
    Untracked,
    /// The first with this key: run it, then [`finish`] or [`abandon`].
    Proceed(Ticket),
    /// Answered before: here is the answer.
    Replay(StoredAnswer),
}

/// Claims `key` for the request `method target body` of the caller whose
/// credentials are `token`.
pub async fn begin(
    app: &App,
    token: Option<&str>,
    key: &str,
    method: &str,
    target: &str,
    body: &[u8],
) -> Result<Begin, AppError> {
    if key.is_empty() || key.len() > MAX_KEY_CHARS {
        return Err(AppError::BadRequest(format!(
            "Idempotency-Key must be 1 to {MAX_KEY_CHARS} visible ASCII characters"
        )));
    }
    let Some(scope) = scope(app, token).await else {
        return Ok(Begin::Untracked);
    };
    let fingerprint = sha256_hex(&format!(
        "{method} {target}\n{}",
        String::from_utf8_lossy(body)
    ));
    let now = chrono::Utc::now().timestamp();
    match app
        .idempotency
        .claim(&scope, key, &fingerprint, now)
        .await?
    {
        Claim::New => Ok(Begin::Proceed(Ticket {
            scope,
            key: key.to_owned(),
        })),
        Claim::Replay(answer) => Ok(Begin::Replay(answer)),
        Claim::InProgress => Err(AppError::IdempotencyKeyInUse),
        Claim::Mismatch => Err(AppError::IdempotencyKeyReused),
    }
}

/// Whose keys these are: the API key or the agent behind the token.
async fn scope(app: &App, token: Option<&str>) -> Option<String> {
    let token = token?;
    if is_api_key(token) {
        match authenticate_api_key(&app.handler, token).await.ok()? {
            Principal::Operator { key_id, .. } => Some(format!("key:{key_id}")),
            Principal::Agent { .. } => None,
        }
    } else {
        let claims = app.tokens.verify(token).ok()?;
        Some(format!("agent:{}", claims.sub))
    }
}

/// What a request was answered.
pub struct Answer<'a> {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: &'a [u8],
    pub correlation_id: Option<String>,
    /// JSON fields of the body holding a secret shown once.
    pub secrets: &'a [&'a str],
}

/// Remembers a final answer; a server error is not final, so the key is
/// freed for a retry instead.
pub async fn finish(app: &App, ticket: Ticket, answer: Answer<'_>) {
    if (500..600).contains(&answer.status) {
        return abandon(app, ticket).await;
    }
    let stored = StoredAnswer {
        status: answer.status,
        content_type: answer.content_type,
        body: if answer.secrets.is_empty() {
            String::from_utf8_lossy(answer.body).into_owned()
        } else {
            withheld(answer.body, answer.secrets)
        },
        correlation_id: answer.correlation_id,
    };
    if let Err(e) = app
        .idempotency
        .complete(&ticket.scope, &ticket.key, &stored)
        .await
    {
        tracing::warn!(error = %e, "cannot remember an idempotent answer");
    }
}

/// Frees the key: the request was not answered, so a retry runs it again.
pub async fn abandon(app: &App, ticket: Ticket) {
    if let Err(e) = app.idempotency.release(&ticket.scope, &ticket.key).await {
        tracing::warn!(error = %e, "cannot free an idempotency key");
    }
}

/// The body with each secret field set to `null` and `"secret_withheld":
/// true` added, so a retry learns what was created without the secret.
fn withheld(body: &[u8], fields: &[&str]) -> String {
    let mut value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    if let Some(object) = value.as_object_mut() {
        for field in fields {
            if let Some(secret) = object.get_mut(*field) {
                *secret = Value::Null;
            }
        }
        object.insert("secret_withheld".into(), Value::Bool(true));
    }
    value.to_string()
}

/// Deletes expired answers every hour.
pub fn spawn_pruner(store: Arc<dyn IdempotencyStore>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut hourly = tokio::time::interval(Duration::from_secs(3600));
        loop {
            hourly.tick().await;
            let before = chrono::Utc::now().timestamp() - RETENTION.as_secs() as i64;
            match store.prune(before).await {
                Ok(n) if n > 0 => tracing::info!(pruned = n, "expired idempotency keys removed"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "cannot prune idempotency keys"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remembered_answer_keeps_no_secret() {
        let body = br#"{"agent_id":"a","secret":"s3cr3t","position":7}"#;
        let stored: Value = serde_json::from_str(&withheld(body, &["secret"])).unwrap();
        assert_eq!(
            stored,
            serde_json::json!({"agent_id":"a","secret":null,"position":7,"secret_withheld":true})
        );
    }
}
