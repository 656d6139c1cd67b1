//! [`Cache`]: cache-aside over an instrumented connection, with single-flight loads, a
//! fallback to the loader when Redis is unavailable, stale-while-revalidate, tags,
//! invalidation by key, tag or prefix, and optional compression of large values.
//!
//! Modules: [`CacheEntry`] (`entry`: how one value is stored), [`Compression`] and the
//! stored layout (`envelope`), single flight (`flight`), writing (`store`) and
//! invalidation (`invalidation`); this file reads and loads.

mod entry;
mod envelope;
mod flight;
mod invalidation;
mod store;

pub use entry::CacheEntry;
pub use envelope::Compression;
pub use invalidation::{InvalidationError, PREFIX_BATCH, TAG_BATCH};
pub use store::TAG_SET_BOUND;

use crate::connection::InstrumentedConnection;
use entry::now_millis;
use envelope::{Unreadable, decode};
use flight::{Cell, Flights, Landing};
use redis::aio::ConnectionLike;
use sdk_core::callback::{Callback, CallbackPanic, call_future};
use sdk_core::catalogue::{
    CACHE_FALLBACKS, CACHE_LOAD_DURATION, CACHE_STALE_SERVES, CACHE_UNREADABLE,
};
use sdk_core::semconv::{cache, error};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument;
use tracing::instrument::WithSubscriber;

/// Cache-aside: `get_or_load(key, ttl, loader)` answers from Redis when it can, runs the
/// loader once per key however many requests miss together, stores the value (JSON) with
/// its TTL, and never caches a loader error. When Redis does not answer within the
/// timeout, requests are served by the loader and counted in `sdk.cache.fallbacks`: the
/// application keeps answering.
///
/// [`get_or_load_with`](Self::get_or_load_with) stores a value as a [`CacheEntry`] says:
/// with tags, and with stale-while-revalidate (a stale value is served at once while one
/// loader refreshes it in the background). Values leave the cache with
/// [`invalidate`](Self::invalidate), [`invalidate_tag`](Self::invalidate_tag) and
/// [`invalidate_prefix`](Self::invalidate_prefix). [`compression`](Self::compression)
/// turns on LZ4 for large values (off by default).
///
/// Measured: hits and misses by the connection (`sdk.cache.requests` for `GET`); loads in
/// `sdk.cache.load.duration` (a failed refresh with `error.type=loader`); stale values
/// served in `sdk.cache.stale_serves`; invalidations in `sdk.cache.invalidations` and the
/// keys they removed in `sdk.cache.invalidated_keys`; bytes saved by compression in
/// `sdk.cache.compression.saved`; stored values that could not be read (and were treated
/// as misses) in `sdk.cache.unreadable` by `error.type` (`format`, `too_large`,
/// `decompress`, `decode`). Every series is labelled with the bounded `cache.key_prefix`
/// of [`RedisConfig::key_prefixes`](crate::RedisConfig::key_prefixes), never a key.
///
/// Tags: each tag is a Redis set of the keys stored with it. A set larger than
/// [`TAG_SET_BOUND`] drops, at each tagged write, the sampled members that no longer exist,
/// so it stays near its live keys (see [`TAG_SET_BOUND`]). A tag invalidation empties the
/// set in short rounds of [`TAG_BATCH`] keys (atomic each, not as a whole).
///
/// Redis Cluster: tags and tag invalidation use multi-key scripts (one node, or keys and
/// tag sets in one slot); prefix invalidation scans the node the connection talks to.
pub struct Cache<C> {
    connection: InstrumentedConnection<C>,
    timeout: Duration,
    flights: Arc<Flights>,
    compression: Compression,
    tag_namespace: Arc<str>,
}

impl<C> std::fmt::Debug for Cache<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("timeout", &self.timeout)
            .field("compression", &self.compression)
            .field("tag_namespace", &self.tag_namespace)
            .finish_non_exhaustive()
    }
}

impl<C: Clone> Clone for Cache<C> {
    fn clone(&self) -> Self {
        Self {
            connection: self.connection.clone(),
            timeout: self.timeout,
            flights: Arc::clone(&self.flights),
            compression: self.compression,
            tag_namespace: Arc::clone(&self.tag_namespace),
        }
    }
}

/// What a read found.
enum Lookup<T> {
    Fresh(T),
    Stale(T),
    Miss,
    Unavailable,
}

/// The `cache.key_prefix` label, when prefixes are configured.
fn prefix_labels(prefix: Option<&Arc<str>>) -> Vec<(&'static str, metrics::SharedString)> {
    prefix
        .map(|p| {
            (
                cache::KEY_PREFIX,
                metrics::SharedString::from(Arc::clone(p)),
            )
        })
        .into_iter()
        .collect()
}

impl<C> Cache<C>
where
    C: ConnectionLike + Clone + Send + Sync + 'static,
{
    /// Tag sets live under this namespace unless [`tag_namespace`](Self::tag_namespace)
    /// says otherwise: tag `t` is the set `sdk-cache-tag:t`.
    pub const DEFAULT_TAG_NAMESPACE: &'static str = "sdk-cache-tag";

    /// A cache over `connection`; each Redis call gives up after `timeout`. No
    /// compression, tag sets under [`DEFAULT_TAG_NAMESPACE`](Self::DEFAULT_TAG_NAMESPACE).
    pub fn new(connection: InstrumentedConnection<C>, timeout: Duration) -> Self {
        Self {
            connection,
            timeout,
            flights: Arc::default(),
            compression: Compression::off(),
            tag_namespace: Arc::from(Self::DEFAULT_TAG_NAMESPACE),
        }
    }

    /// Compresses the values it writes as `compression` says, and reads compressed values
    /// up to its limit (see [`Compression`]).
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// Keeps tag sets under `namespace` (the set of tag `t` is `<namespace>:t`, the tag
    /// percent-encoded so that it cannot leave the namespace).
    pub fn tag_namespace(mut self, namespace: impl AsRef<str>) -> Self {
        self.tag_namespace = Arc::from(namespace.as_ref());
        self
    }

    /// Loads in progress (keys whose loader is running, including background refreshes).
    pub fn loads_in_progress(&self) -> usize {
        self.flights.len()
    }

    /// The instrumented connection the cache uses.
    pub fn connection(&self) -> &InstrumentedConnection<C> {
        &self.connection
    }

    /// The value of `key`: from Redis, else from `loader` (stored for `ttl`; zero: no
    /// expiry).
    ///
    /// Concurrent misses of one key share one loader run; its error reaches each of them
    /// and is not stored. A stale value (written by
    /// [`get_or_load_with`](Self::get_or_load_with)) is a miss here: this loader is not
    /// `'static`, so it cannot refresh in the background.
    ///
    /// # Panics
    ///
    /// When `loader` panics (your code, so your panic): the cache cleans up first (the
    /// load ends, nothing is stored, the key has no load in progress any more), the load is
    /// recorded in `sdk.cache.load.duration` with `error.type="panic"` and counted in
    /// `sdk.callback.panics{sdk.callback="cache_loader"}`, then the panic continues in this
    /// call, with its payload, as it would without the cache. It is not turned into an
    /// `Err`: the error type is the loader's own `E`, which cannot hold it. A request that
    /// was waiting on that load is not failed by it: it runs its own loader. The cache stays
    /// usable, and the next miss of the key loads again.
    pub async fn get_or_load<T, E, F, Fut>(
        &self,
        key: &str,
        ttl: Duration,
        loader: F,
    ) -> Result<T, Arc<E>>
    where
        T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
        E: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let prefix = self.connection.config().prefix_of(key.as_bytes());
        let store = match self.read::<T>(key, prefix.as_ref()).await {
            Lookup::Fresh(value) => return Ok(value),
            Lookup::Stale(_) | Lookup::Miss => true,
            Lookup::Unavailable => false,
        };
        self.load(key, prefix, store.then(|| CacheEntry::ttl(ttl)), loader)
            .await
    }

    /// The value of `key`: from Redis, else from `loader`, stored as `entry` says (TTL,
    /// stale-while-revalidate, tags).
    ///
    /// A fresh value is returned as is. A stale value (past its fresh time, within its
    /// stale window) is returned at once and counted in `sdk.cache.stale_serves`; unless a
    /// load of the key is already in progress, `loader` then refreshes it in the background
    /// (a Tokio task; without a Tokio runtime, no refresh). Concurrent readers of a stale
    /// key all get the stale value and start no second load. A refresh that fails stores
    /// nothing: the stale value is served (and the next stale read tries again) until its
    /// window ends, then the key is a normal miss. A miss loads as
    /// [`get_or_load`](Self::get_or_load) does, panics included; a loader that panics in a
    /// background refresh is counted, recorded and dropped there.
    pub async fn get_or_load_with<T, E, F, Fut>(
        &self,
        key: &str,
        entry: &CacheEntry,
        loader: F,
    ) -> Result<T, Arc<E>>
    where
        T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
        E: Send + Sync + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        let prefix = self.connection.config().prefix_of(key.as_bytes());
        let store = match self.read::<T>(key, prefix.as_ref()).await {
            Lookup::Fresh(value) => return Ok(value),
            Lookup::Stale(value) => {
                CACHE_STALE_SERVES
                    .counter(&prefix_labels(prefix.as_ref()))
                    .increment(1);
                self.refresh(key, prefix, entry, loader);
                return Ok(value);
            }
            Lookup::Miss => true,
            Lookup::Unavailable => false,
        };
        self.load(key, prefix, store.then(|| entry.clone()), loader)
            .await
    }

    /// Reads `key`: a value (fresh or stale), a miss (also for a value that cannot be read,
    /// counted), or Redis unavailable (counted as a fallback).
    async fn read<T: DeserializeOwned>(&self, key: &str, prefix: Option<&Arc<str>>) -> Lookup<T> {
        let bytes = match self.get(key).await {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Lookup::Miss,
            Err(()) => {
                CACHE_FALLBACKS.counter(&prefix_labels(prefix)).increment(1);
                return Lookup::Unavailable;
            }
        };
        let read = decode(bytes, self.compression.max_decompressed_size()).and_then(|decoded| {
            match serde_json::from_slice::<T>(&decoded.json) {
                Ok(value) => Ok((value, decoded.fresh_until)),
                Err(err) => {
                    // serde_json's message quotes the value: only its category is logged.
                    let category = format!("{:?}", err.classify());
                    tracing::debug!(target: "sdk_redis", category = %category, "cached value does not decode");
                    Err(Unreadable::Decode)
                }
            }
        });
        match read {
            Ok((value, Some(fresh_until))) if now_millis() >= fresh_until => Lookup::Stale(value),
            Ok((value, _)) => Lookup::Fresh(value),
            Err(why) => {
                tracing::debug!(target: "sdk_redis", reason = why.as_str(), "cached value unreadable; reloading");
                let mut labels = prefix_labels(prefix);
                labels.push((error::TYPE, metrics::SharedString::const_str(why.as_str())));
                CACHE_UNREADABLE.counter(&labels).increment(1);
                Lookup::Miss
            }
        }
    }

    /// Loads `key` in its single flight, storing the value as `store` says (nothing when
    /// Redis was unavailable); a loader panic continues here.
    async fn load<T, E, F, Fut>(
        &self,
        key: &str,
        prefix: Option<Arc<str>>,
        store: Option<CacheEntry>,
        loader: F,
    ) -> Result<T, Arc<E>>
    where
        T: Serialize + Clone + Send + Sync + 'static,
        E: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let cell = self.flights.join::<T, E>(key);
        match self
            .fly(&cell, key, prefix.as_ref(), store.as_ref(), loader)
            .await
        {
            Ok(result) => result,
            // The flight has ended and the cell stayed empty: whoever waits on it loads.
            Err(panic) => panic.resume(),
        }
    }

    /// Starts the background refresh of stale `key`, unless a load of it is in progress.
    fn refresh<T, E, F, Fut>(
        &self,
        key: &str,
        prefix: Option<Arc<str>>,
        entry: &CacheEntry,
        loader: F,
    ) where
        T: Serialize + Clone + Send + Sync + 'static,
        E: Send + Sync + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::debug!(target: "sdk_redis", "stale value served without a refresh: no Tokio runtime");
            return;
        };
        let Some(cell) = self.flights.start::<T, E>(key) else {
            return;
        };
        // Ends the flight if the task is dropped before it runs (its runtime shutting down).
        let landing = Landing::new(&self.flights, key, &cell);
        let cache = self.clone();
        let entry = entry.clone();
        let key = key.to_owned();
        let refresh = async move {
            let _landing = landing;
            let outcome = cache
                .fly(&cell, &key, prefix.as_ref(), Some(&entry), loader)
                .await;
            match outcome {
                Ok(Ok(_)) => {}
                Ok(Err(_)) => {
                    tracing::warn!(target: "sdk_redis", key_prefix = prefix.as_deref(), "stale value kept: its refresh failed");
                }
                Err(_) => {
                    tracing::warn!(target: "sdk_redis", key_prefix = prefix.as_deref(), "stale value kept: its refresh panicked");
                }
            }
        };
        runtime.spawn(refresh.in_current_span().with_current_subscriber());
    }

    /// Runs the load of `cell` (or waits for the one running): times it, stores its value
    /// before the flight ends (so that a miss arriving then finds it), and hands a loader
    /// panic back to the caller.
    async fn fly<T, E, F, Fut>(
        &self,
        cell: &Cell<T, E>,
        key: &str,
        prefix: Option<&Arc<str>>,
        store: Option<&CacheEntry>,
        loader: F,
    ) -> Result<Result<T, Arc<E>>, CallbackPanic>
    where
        T: Serialize + Clone + Send + Sync + 'static,
        E: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        cell.get_or_try_init(|| async {
            let _landing = Landing::new(&self.flights, key, cell);
            let started = Instant::now();
            let loaded = call_future(Callback::CacheLoader, async { loader().await }).await;
            let mut labels = prefix_labels(prefix);
            let failure = match &loaded {
                Ok(Ok(_)) => None,
                Ok(Err(_)) => Some("loader"),
                Err(_) => Some("panic"),
            };
            if let Some(failure) = failure {
                labels.push((error::TYPE, metrics::SharedString::const_str(failure)));
            }
            CACHE_LOAD_DURATION
                .histogram(&labels)
                .record(started.elapsed().as_secs_f64());
            match loaded {
                Ok(Ok(value)) => {
                    if let Some(entry) = store {
                        self.store(key, &value, entry, prefix).await;
                    }
                    Ok(Ok(value))
                }
                Ok(Err(err)) => Ok(Err(Arc::new(err))),
                Err(panic) => Err(panic),
            }
        })
        .await
        .cloned()
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, ()> {
        let mut connection = self.connection.clone();
        let mut command = redis::cmd("GET");
        command.arg(key);
        let get = command.query_async::<Option<Vec<u8>>>(&mut connection);
        match tokio::time::timeout(self.timeout, get).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => {
                tracing::debug!(target: "sdk_redis", error = %crate::run::unquoted(err.to_string()), "cache unavailable");
                Err(())
            }
            Err(_) => Err(()),
        }
    }
}
