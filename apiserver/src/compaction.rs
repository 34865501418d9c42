//! Periodic compaction, as upstream's compactor: every interval, forget
//! history older than the revision seen one interval ago, so watchers and
//! paged lists always have at least one interval to resume in.

use std::sync::Arc;
use std::time::Duration;

use crate::storage::Store;

/// Upstream compacts every five minutes.
const INTERVAL: Duration = Duration::from_secs(300);

pub fn spawn(store: Arc<dyn Store>) {
    tokio::spawn(async move {
        let mut previous = None;
        let mut tick = tokio::time::interval(INTERVAL);
        loop {
            tick.tick().await;
            if let Some(revision) = previous {
                if let Err(e) = store.compact(revision).await {
                    tracing::warn!(error = %e, revision, "compaction failed");
                }
            }
            previous = store.current_revision().await.ok();
        }
    });
}
