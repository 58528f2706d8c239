//! Enrollment tokens as they stand, for lists: what the agents they enroll
//! get, their uses and expiry, never a secret or its hash.

use agentledger_domain::Aggregate;
use agentledger_domain::enrollment::{EnrollmentToken, EnrollmentTokenEvent};
use agentledger_domain::ids::TenantId;
use agentledger_store::{Database, on_database};
use serde::Serialize;

use crate::engine::{Projection, ProjectionError, clamp, decode_event};
use crate::sql_projection;

pub struct EnrollmentTokens;

impl Projection for EnrollmentTokens {
    fn name(&self) -> &'static str {
        "enrollment_tokens"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["rm_enrollment_tokens"]
    }

    fn event_types(&self) -> &'static [&'static str] {
        <EnrollmentTokenEvent as strum::VariantNames>::VARIANTS
    }
}

sql_projection!(EnrollmentTokens, |_this, conn, events| {
    for event in events {
        let Some(id) = EnrollmentToken::CATEGORY.id_in(&event.stream_id) else {
            continue;
        };
        let Some(token) = decode_event::<EnrollmentTokenEvent>(event)? else {
            continue;
        };
        let at = event.occurred_at.timestamp_micros();
        match token {
            EnrollmentTokenEvent::EnrollmentTokenCreated {
                tenant_id,
                label,
                expires_at,
                max_uses,
                kind,
                permissions,
                rate_limit_per_minute,
                preset,
                ..
            } => {
                sqlx::query(
                    "INSERT INTO rm_enrollment_tokens (token_id, tenant_id, label, kind, permissions, \
                     rate_limit_per_minute, preset, max_uses, uses, expires_us, created_us, last_used_us, \
                     revoked_us, seq) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $10, NULL, NULL, $11) \
                     ON CONFLICT (token_id) DO NOTHING",
                )
                .bind(id)
                .bind(tenant_id.to_string())
                .bind(label)
                .bind(kind)
                .bind(
                    serde_json::to_string(&permissions)
                        .map_err(|e| ProjectionError::Row(format!("enrollment token {id}: {e}")))?,
                )
                .bind(i64::from(*rate_limit_per_minute))
                .bind(preset)
                .bind(i64::from(*max_uses))
                .bind(expires_at.timestamp_micros())
                .bind(at)
                .bind(clamp(event.position))
                .execute(&mut *conn)
                .await?;
            }
            EnrollmentTokenEvent::EnrollmentTokenUsed { .. } => {
                sqlx::query(
                    "UPDATE rm_enrollment_tokens SET uses = uses + 1, last_used_us = $1 \
                     WHERE token_id = $2",
                )
                .bind(at)
                .bind(id)
                .execute(&mut *conn)
                .await?;
            }
            EnrollmentTokenEvent::EnrollmentTokenRevoked => {
                sqlx::query("UPDATE rm_enrollment_tokens SET revoked_us = $1 WHERE token_id = $2")
                    .bind(at)
                    .bind(id)
                    .execute(&mut *conn)
                    .await?;
            }
        }
    }
    Ok(())
});

/// An enrollment token in a list: what it gives, how many uses it has left
/// and whether it still enrolls, never its secret.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnrollmentTokenRow {
    #[cfg_attr(feature = "openapi", schema(format = Uuid))]
    pub token_id: String,
    #[cfg_attr(feature = "openapi", schema(format = Uuid))]
    pub tenant_id: String,
    pub label: String,
    /// The kind of every agent it enrolls; absent: each agent names its own.
    pub kind: Option<String>,
    /// What every agent it enrolls may do.
    pub permissions: Vec<String>,
    pub rate_limit_per_minute: i64,
    /// The preset its kind and permissions came from.
    pub preset: Option<String>,
    pub max_uses: i64,
    /// Agents it enrolled.
    pub uses: i64,
    pub uses_left: i64,
    /// `active` while it enrolls; else `revoked`, `expired` or `used_up`,
    /// the first that applies.
    pub status: String,
    #[serde(rename = "expires_at", serialize_with = "crate::wire::instant")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub expires_us: i64,
    #[serde(rename = "created_at", serialize_with = "crate::wire::instant")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_us: i64,
    /// When it last enrolled an agent; absent before the first.
    #[serde(rename = "last_used_at", serialize_with = "crate::wire::maybe_instant")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub last_used_us: Option<i64>,
    /// When it was revoked; absent while it was not.
    #[serde(rename = "revoked_at", serialize_with = "crate::wire::maybe_instant")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub revoked_us: Option<i64>,
    /// The position of its creation: the key the list is paged by.
    pub seq: i64,
}

/// A row of `rm_enrollment_tokens` as stored.
#[derive(sqlx::FromRow)]
struct Stored {
    token_id: String,
    tenant_id: String,
    label: String,
    kind: Option<String>,
    /// A JSON array.
    permissions: String,
    rate_limit_per_minute: i64,
    preset: Option<String>,
    max_uses: i64,
    uses: i64,
    expires_us: i64,
    created_us: i64,
    last_used_us: Option<i64>,
    revoked_us: Option<i64>,
    seq: i64,
}

impl Stored {
    /// As listed at `now_us`: whether it has expired depends on when it is
    /// asked, so it is settled here rather than stored.
    fn listed(self, now_us: i64) -> Result<EnrollmentTokenRow, ProjectionError> {
        // In the order the token itself refuses a use.
        let status = if self.revoked_us.is_some() {
            "revoked"
        } else if now_us >= self.expires_us {
            "expired"
        } else if self.uses >= self.max_uses {
            "used_up"
        } else {
            "active"
        };
        let permissions = serde_json::from_str(&self.permissions).map_err(|e| {
            ProjectionError::Row(format!(
                "enrollment token {}: permissions: {e}",
                self.token_id
            ))
        })?;
        Ok(EnrollmentTokenRow {
            token_id: self.token_id,
            tenant_id: self.tenant_id,
            label: self.label,
            kind: self.kind,
            permissions,
            rate_limit_per_minute: self.rate_limit_per_minute,
            preset: self.preset,
            max_uses: self.max_uses,
            uses: self.uses,
            uses_left: (self.max_uses - self.uses).max(0),
            status: status.to_owned(),
            expires_us: self.expires_us,
            created_us: self.created_us,
            last_used_us: self.last_used_us,
            revoked_us: self.revoked_us,
            seq: self.seq,
        })
    }
}

/// The tenant's enrollment tokens, newest first, before `before` (a `seq`),
/// with their status at `now_us`.
pub async fn list(
    db: &Database,
    tenant: TenantId,
    now_us: i64,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<EnrollmentTokenRow>, ProjectionError> {
    let rows: Vec<Stored> = on_database!(db, p => sqlx::query_as::<_, Stored>(
        "SELECT token_id, tenant_id, label, kind, permissions, rate_limit_per_minute, preset, \
         max_uses, uses, expires_us, created_us, last_used_us, revoked_us, seq \
         FROM rm_enrollment_tokens WHERE tenant_id = $1 \
         AND (CAST($2 AS BIGINT) IS NULL OR seq < $2) ORDER BY seq DESC LIMIT $3"
    )
    .bind(tenant.to_string()).bind(before).bind(limit)
    .fetch_all(p)
    .await?);
    rows.into_iter().map(|row| row.listed(now_us)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(uses: i64, revoked_us: Option<i64>) -> Stored {
        Stored {
            token_id: "t".into(),
            tenant_id: "x".into(),
            label: "l".into(),
            kind: None,
            permissions: r#"["runs:write"]"#.into(),
            rate_limit_per_minute: 60,
            preset: None,
            max_uses: 2,
            uses,
            expires_us: 1_000,
            created_us: 0,
            last_used_us: None,
            revoked_us,
            seq: 1,
        }
    }

    #[test]
    fn a_tokens_status_is_the_first_reason_it_enrolls_no_more() {
        let status = |row: Stored, now| row.listed(now).map(|r| r.status).unwrap_or_default();
        assert_eq!(status(stored(1, None), 999), "active");
        assert_eq!(status(stored(2, None), 999), "used_up");
        assert_eq!(status(stored(2, None), 1_000), "expired");
        assert_eq!(status(stored(2, Some(5)), 1_000), "revoked");
        let row = stored(1, None)
            .listed(0)
            .map(|r| (r.uses_left, r.permissions));
        assert_eq!(row.ok(), Some((1, vec!["runs:write".to_owned()])));
    }
}
