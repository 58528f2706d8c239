use agentledger_domain::DomainError;
use agentledger_domain::codec::CodecError;
use agentledger_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// Credentials missing, wrong, expired or revoked. Deliberately vague.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    #[error("the stream `{0}` kept changing; the command was not applied")]
    Contention(String),
    #[error("cryptography failed: {0}")]
    Crypto(String),
}
