//! One reader per watched case, however many subscriptions watch it.
//!
//! A subscription to a case registers with [`CaseWatch`] and receives the
//! case's latest document through a `tokio::sync::watch` channel: one task
//! per watched case reads the row when the local projector reports a
//! change to it (one dispatcher task follows the projector's broadcast for
//! all of them) or, for projections committed by another node, when a
//! once-a-second look at the row's version finds it moved. A change costs
//! one read whatever the number of subscribers, and a subscriber that is
//! slow to take it holds only the latest document, never a queue.

use projections::view::CaseView;
use projections::{Projector, ReadDb};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::{broadcast, watch, Notify};
use uuid::Uuid;

/// How often a watched case's row is looked at when no local change was
/// reported (changes projected by another node).
const RECHECK: Duration = Duration::from_secs(1);

type Key = (String, Uuid);

pub(crate) struct CaseWatch {
    read: ReadDb,
    projector: Arc<Projector>,
    cases: Mutex<HashMap<Key, Weak<Watched>>>,
    dispatcher: std::sync::OnceLock<()>,
}

struct Watched {
    latest: watch::Sender<Arc<CaseView>>,
    wake: Notify,
}

/// A subscriber's view of one case; dropping it unregisters.
pub(crate) struct Subscription {
    _watched: Arc<Watched>,
    pub latest: watch::Receiver<Arc<CaseView>>,
}

impl CaseWatch {
    pub fn new(read: ReadDb, projector: Arc<Projector>) -> Arc<CaseWatch> {
        Arc::new(CaseWatch {
            read,
            projector,
            cases: Mutex::new(HashMap::new()),
            dispatcher: std::sync::OnceLock::new(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Weak<Watched>>> {
        self.cases.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Watches a case, starting from `first` (the document the subscriber
    /// was allowed to see).
    pub fn watch(self: &Arc<Self>, tenant: &str, first: CaseView) -> Subscription {
        self.dispatcher.get_or_init(|| {
            tokio::spawn(dispatch(Arc::downgrade(self), self.projector.subscribe()));
        });
        let key = (tenant.to_owned(), first.case_id);
        let mut cases = self.lock();
        if let Some(watched) = cases.get(&key).and_then(Weak::upgrade) {
            if watched.latest.borrow().version < first.version {
                watched.latest.send_replace(Arc::new(first));
            }
            let latest = watched.latest.subscribe();
            return Subscription {
                _watched: watched,
                latest,
            };
        }
        let (tx, latest) = watch::channel(Arc::new(first));
        let watched = Arc::new(Watched {
            latest: tx,
            wake: Notify::new(),
        });
        cases.insert(key.clone(), Arc::downgrade(&watched));
        tokio::spawn(follow(Arc::downgrade(self), key, watched.clone()));
        Subscription {
            _watched: watched,
            latest,
        }
    }
}

/// Routes the projector's change reports to the watched cases.
async fn dispatch(
    watch: Weak<CaseWatch>,
    mut changes: broadcast::Receiver<projections::CaseChanged>,
) {
    loop {
        let change = changes.recv().await;
        let Some(watch) = watch.upgrade() else {
            return;
        };
        match change {
            Ok(c) => {
                let watched = watch
                    .lock()
                    .get(&(c.tenant, c.case_id))
                    .and_then(Weak::upgrade);
                if let Some(w) = watched {
                    w.wake.notify_one();
                }
            }
            // Missed reports: every watched case looks again.
            Err(broadcast::error::RecvError::Lagged(_)) => {
                let all: Vec<_> = watch.lock().values().filter_map(Weak::upgrade).collect();
                for w in all {
                    w.wake.notify_one();
                }
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Keeps one case's latest document while anyone watches it.
async fn follow(watch: Weak<CaseWatch>, key: Key, watched: Arc<Watched>) {
    let Ok(tenant) = domain::TenantId::parse(&key.0) else {
        return;
    };
    loop {
        let reported = tokio::select! {
            _ = watched.wake.notified() => true,
            _ = tokio::time::sleep(RECHECK) => false,
        };
        let Some(hub) = watch.upgrade() else {
            return;
        };
        // Only this task holds it: nobody watches any more. Checked under
        // the map's lock, which `watch` holds while it takes a share.
        let mut cases = hub.lock();
        if Arc::strong_count(&watched) == 1 {
            if cases
                .get(&key)
                .is_some_and(|w| std::ptr::eq(w.as_ptr(), Arc::as_ptr(&watched)))
            {
                cases.remove(&key);
            }
            return;
        }
        drop(cases);
        let known = watched.latest.borrow().version;
        if !reported {
            match hub.read.case_version(&tenant, key.1).await {
                Ok(Some(v)) if v > known => {}
                _ => continue,
            }
        }
        if let Ok(Some(view)) = hub.read.case(&tenant, key.1).await {
            if view.version > known {
                watched.latest.send_replace(Arc::new(view));
            }
        }
    }
}
