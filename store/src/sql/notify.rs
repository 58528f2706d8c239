//! Appends of other servers on the same PostgreSQL log, announced as they
//! commit. Every commit notifies [`CHANNEL`] with its schema and new head
//! (in the commit's own statement, so the notice is sent exactly when the
//! rows become visible); each store listens on a connection of its own and
//! moves its announced head, which wakes its subscribers (projections,
//! reactors, live feeds, waiting agents) at once instead of at their next
//! poll. The poll stays as the safety net: a notice missed while the
//! listening connection was down is made up for by the first poll after.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::event::Position;
use crate::sql::engine::advance_head;

/// One channel for every schema of the database: a notice names its schema,
/// and a store skips those of others (a channel name is limited to 63 bytes,
/// a schema name may use them all).
pub(crate) const CHANNEL: &str = "agentledger_log";

/// The payload of a commit's notice: `<schema> <head>`.
pub(crate) fn parse(payload: &str) -> Option<(&str, Position)> {
    let (schema, head) = payload.rsplit_once(' ')?;
    Some((schema, head.parse().ok()?))
}

/// Listens for the commits of `schema` on the database `url` names, moving
/// `head` to each. Runs until aborted or until no one watches `head` any
/// more (a store dropped without closing); a lost connection is opened again
/// (sqlx's listener does that), and while it is down the subscribers' poll
/// is all there is.
pub(crate) fn spawn(
    url: String,
    schema: String,
    head: Arc<watch::Sender<Position>>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match listen(&url, &schema, &head).await {
                Ok(()) => return,
                Err(error) => {
                    tracing::warn!(%error, "listening for other servers' appends failed; polling until it is back");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    })
}

async fn listen(
    url: &str,
    schema: &str,
    head: &watch::Sender<Position>,
) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen(CHANNEL).await?;
    loop {
        // Done when the store is gone: nothing is left to wake.
        let notice = tokio::select! {
            notice = listener.try_recv() => notice?,
            () = head.closed() => return Ok(()),
        };
        // `None`: the connection was lost; the listener opens a new one and
        // listens again on the next call.
        let Some(notice) = notice else {
            continue;
        };
        match parse(notice.payload()) {
            Some((from, position)) if from == schema => advance_head(head, position),
            Some(_) => {}
            None => tracing::warn!(
                payload = notice.payload(),
                "a notice on {CHANNEL} that is not a commit's"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notice_names_its_schema_and_head() {
        assert_eq!(parse("public 42"), Some(("public", 42)));
        // A schema name may hold spaces; the head is after the last one.
        assert_eq!(parse("my schema 7"), Some(("my schema", 7)));
        assert_eq!(parse("public"), None);
        assert_eq!(parse("public -1"), None);
        assert_eq!(parse("public x"), None);
    }
}
