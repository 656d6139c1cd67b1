//! [`MetricHandles`]: the metric handles of commands and cache lookups, kept per label
//! values in sdk-core's one bounded [`HandleCache`], so a command records without
//! registering.

use crate::mask::{NAME_LEN, upper_name};
use metrics::{Counter, Histogram, SharedString};
use sdk_core::catalogue::{CACHE_REQUESTS, DB_CLIENT_OPERATION_DURATION};
use sdk_core::handles::HandleCache;
use sdk_core::semconv::{cache, db};
use std::sync::{Arc, OnceLock};

/// Most cached metric handles of each kind; beyond it handles are looked up per command.
const MAX_HANDLES: usize = 512;

/// Command, key prefix and hit (true) or miss of a lookup.
type LookupKey = (Arc<str>, Option<Arc<str>>, bool);

/// Database indexes whose `db.namespace` text is kept.
const NAMESPACES_KEPT: usize = 16;

/// Metric handles by label values, registered once (the common path of a command), and the
/// shared strings a command's span and labels use.
#[derive(Debug)]
pub(crate) struct MetricHandles {
    /// `db.client.operation.duration` of successful commands, by command name.
    durations: HandleCache<Arc<str>, Histogram>,
    /// `sdk.cache.requests` by command, key prefix and result.
    lookups: HandleCache<LookupKey, Counter>,
    /// Command names (`GET`), one shared copy each.
    names: HandleCache<String, Arc<str>>,
    /// `db.namespace` of the first database indexes.
    namespaces: [OnceLock<Arc<str>>; NAMESPACES_KEPT],
    /// The `cache.key_prefix` of keys matching no configured prefix.
    other_prefix: Arc<str>,
}

impl Default for MetricHandles {
    fn default() -> Self {
        Self {
            durations: HandleCache::new(MAX_HANDLES),
            lookups: HandleCache::new(MAX_HANDLES),
            names: HandleCache::new(MAX_HANDLES),
            namespaces: Default::default(),
            other_prefix: Arc::from("other"),
        }
    }
}

impl MetricHandles {
    /// The shared upper-case name of the command whose first argument is `first`.
    pub(crate) fn operation_name(&self, first: &[u8]) -> Arc<str> {
        let mut buffer = [0; NAME_LEN];
        let name = upper_name(first, &mut buffer);
        self.names.get_or_insert_with(name, || Arc::from(name))
    }

    /// `db.namespace` of database `index`.
    pub(crate) fn namespace(&self, index: i64) -> Arc<str> {
        match usize::try_from(index)
            .ok()
            .and_then(|i| self.namespaces.get(i))
        {
            Some(slot) => Arc::clone(slot.get_or_init(|| Arc::from(index.to_string()))),
            None => Arc::from(index.to_string()),
        }
    }

    /// The `cache.key_prefix` of keys matching no configured prefix.
    pub(crate) fn other_prefix(&self) -> Arc<str> {
        Arc::clone(&self.other_prefix)
    }

    /// The duration histogram of a successful `operation`.
    pub(crate) fn duration(&self, operation: &Arc<str>) -> Histogram {
        self.durations.get_or_insert_with(operation, || {
            DB_CLIENT_OPERATION_DURATION.histogram(&[
                (db::SYSTEM_NAME, SharedString::const_str(db::system::REDIS)),
                (
                    db::OPERATION_NAME,
                    SharedString::from(Arc::clone(operation)),
                ),
            ])
        })
    }

    /// The counter of hits (`hit`) or misses of `operation` on keys labelled `prefix`.
    pub(crate) fn lookup(
        &self,
        operation: &Arc<str>,
        prefix: Option<Arc<str>>,
        hit: bool,
    ) -> Counter {
        let key = (Arc::clone(operation), prefix, hit);
        self.lookups.get_or_insert_with(&key, || {
            let mut labels = vec![
                (db::SYSTEM_NAME, SharedString::const_str(db::system::REDIS)),
                (
                    db::OPERATION_NAME,
                    SharedString::from(Arc::clone(operation)),
                ),
                (
                    cache::RESULT,
                    SharedString::const_str(if hit { cache::HIT } else { cache::MISS }),
                ),
            ];
            if let Some(prefix) = &key.1 {
                labels.push((cache::KEY_PREFIX, SharedString::from(Arc::clone(prefix))));
            }
            CACHE_REQUESTS.counter(&labels)
        })
    }
}
