//! On a grid: where this node stands in the ledger's numbered restart and stop requests
//! (`dyno_actions`), which every node carries out on its own dynos, whichever node's API took
//! them.
//!
//! The cursor is read once, when the node starts serving (older requests were for dynos that
//! have restarted since), never later: a cursor first read at some later sweep would skip the
//! requests made in between. Taking requests holds no lock across an await: the cursor moves by
//! compare-and-swap, so each request goes to exactly one taker, in order, and none is skipped
//! when the follower of API changes and the 2 s sweep take at the same moment.

use std::sync::atomic::{AtomicI64, Ordering};

use paas_platform::Ledger;
use paas_platform::grid::DynoAction;
use paas_platform::ledger::LedgerError;

/// The number of the last restart or stop request this node took.
#[derive(Debug)]
pub(super) struct ActionCursor(AtomicI64);

impl ActionCursor {
    /// A cursor after the newest request recorded now.
    pub(super) async fn start(ledger: &dyn Ledger) -> Result<ActionCursor, LedgerError> {
        Ok(ActionCursor(AtomicI64::new(ledger.last_dyno_action().await?)))
    }

    /// The requests recorded after the last one taken, oldest first; the cursor moves past them.
    /// A request is given to one caller only: a caller that raced another reads again from where
    /// the other stopped.
    pub(super) async fn take(&self, ledger: &dyn Ledger) -> Result<Vec<DynoAction>, LedgerError> {
        loop {
            let after = self.0.load(Ordering::Acquire);
            let actions = ledger.dyno_actions_after(after).await?;
            let Some(last) = actions.last().map(|action| action.seq) else { return Ok(actions) };
            if self.0.compare_exchange(after, last, Ordering::AcqRel, Ordering::Acquire).is_ok() {
                return Ok(actions);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    async fn ledger() -> (tempfile::TempDir, Arc<dyn Ledger>, uuid::Uuid, uuid::Uuid) {
        let dir = tempfile::tempdir().unwrap();
        let ledger = paas_platform::ledger::open(&paas_platform::ledger::sqlite_url(dir.path())).await.unwrap();
        let (owner, _) = ledger.create_user("owner@example.com", None, false).await.unwrap();
        let app = ledger.create_app("restarts", owner.id).await.unwrap();
        (dir, ledger, app.id, owner.id)
    }

    /// The e2e restart through another node was suspected of this: a cursor first read lazily,
    /// at the first catch-up after start, skips every request recorded before that read.
    #[tokio::test]
    async fn a_request_made_between_start_and_the_first_take_is_not_skipped() {
        let (_dir, ledger, app, owner) = ledger().await;
        ledger.record_dyno_action(app, owner, "restart", Some("web.1")).await.unwrap();
        let cursor = ActionCursor::start(ledger.as_ref()).await.unwrap();
        ledger.record_dyno_action(app, owner, "restart", Some("worker.2")).await.unwrap();
        let taken = cursor.take(ledger.as_ref()).await.unwrap();
        let targets: Vec<_> = taken.iter().map(|a| a.target.as_deref()).collect();
        assert_eq!(targets, [Some("worker.2")], "only what came after start, and that");
        assert!(cursor.take(ledger.as_ref()).await.unwrap().is_empty(), "nothing twice");
    }

    #[tokio::test]
    async fn concurrent_takers_get_every_request_once_and_in_order() {
        let (_dir, ledger, app, owner) = ledger().await;
        let cursor = Arc::new(ActionCursor::start(ledger.as_ref()).await.unwrap());
        let mut takers = Vec::new();
        for _ in 0..4 {
            let (cursor, ledger) = (cursor.clone(), ledger.clone());
            takers.push(tokio::spawn(async move {
                let mut got = Vec::new();
                for _ in 0..20 {
                    got.extend(cursor.take(ledger.as_ref()).await.unwrap().into_iter().map(|a| a.seq));
                    tokio::task::yield_now().await;
                }
                got
            }));
        }
        for n in 0..30 {
            ledger.record_dyno_action(app, owner, "restart", Some(&format!("web.{n}"))).await.unwrap();
            tokio::task::yield_now().await;
        }
        let mut all = Vec::new();
        for taker in takers {
            let got = taker.await.unwrap();
            assert!(got.windows(2).all(|w| w[0] < w[1]), "each taker's requests in order: {got:?}");
            all.extend(got);
        }
        all.extend(cursor.take(ledger.as_ref()).await.unwrap().into_iter().map(|a| a.seq));
        all.sort();
        let expected: Vec<i64> = (1..=30).collect();
        assert_eq!(all, expected, "every request once");
    }
}
