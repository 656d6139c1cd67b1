//! [`InstrumentedConnection`]: any async redis-rs connection (multiplexed connection,
//! `ConnectionManager`) whose commands and pipelines are traced and measured.

use crate::mask::{command_name, write_masked};
use redis::aio::ConnectionLike;
use redis::{Arg, Cmd, Pipeline, RedisError, RedisFuture, Value};
use sdk_core::catalogue::{
    CACHE_REQUESTS, DB_CLIENT_OPERATION_BATCH_SIZE, DB_CLIENT_OPERATION_DURATION,
};
use sdk_core::operation::{OnFinish, Operation, Outcome};
use sdk_core::semconv::{cache, db, error, server};
use sdk_core::spans::{AttrValue, SpanKind};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tracing::field::Empty;

/// Where the connection goes and how keys are grouped in cache metrics.
#[derive(Debug, Clone, Default)]
pub struct RedisConfig {
    address: Option<Arc<str>>,
    port: Option<u16>,
    key_prefixes: Arc<[Arc<str>]>,
    handles: Arc<Handles>,
}

/// Most cached metric handles of each kind; beyond it handles are looked up per command.
const MAX_HANDLES: usize = 512;

/// Command, key prefix and hit (true) or miss of a lookup.
type LookupKey = (Arc<str>, Option<Arc<str>>, bool);

/// Metric handles by label values, registered once (the common path of a command).
#[derive(Debug, Default)]
struct Handles {
    durations: RwLock<HashMap<Arc<str>, metrics::Histogram>>,
    lookups: RwLock<HashMap<LookupKey, metrics::Counter>>,
}

impl Handles {
    fn duration(&self, operation: &Arc<str>) -> metrics::Histogram {
        if let Some(found) = self
            .durations
            .read()
            .ok()
            .and_then(|m| m.get(operation).cloned())
        {
            return found;
        }
        let histogram = DB_CLIENT_OPERATION_DURATION.histogram(&[
            (
                db::SYSTEM_NAME,
                metrics::SharedString::const_str(db::system::REDIS),
            ),
            (
                db::OPERATION_NAME,
                metrics::SharedString::from(Arc::clone(operation)),
            ),
        ]);
        if let Ok(mut map) = self.durations.write()
            && map.len() < MAX_HANDLES
        {
            map.insert(Arc::clone(operation), histogram.clone());
        }
        histogram
    }

    fn lookup(
        &self,
        operation: &Arc<str>,
        prefix: Option<Arc<str>>,
        hit: bool,
    ) -> metrics::Counter {
        let key = (Arc::clone(operation), prefix, hit);
        if let Some(found) = self.lookups.read().ok().and_then(|m| m.get(&key).cloned()) {
            return found;
        }
        let mut labels = vec![
            (
                db::SYSTEM_NAME,
                metrics::SharedString::const_str(db::system::REDIS),
            ),
            (
                db::OPERATION_NAME,
                metrics::SharedString::from(Arc::clone(operation)),
            ),
            (
                cache::RESULT,
                metrics::SharedString::const_str(if hit { cache::HIT } else { cache::MISS }),
            ),
        ];
        if let Some(prefix) = &key.1 {
            labels.push((
                cache::KEY_PREFIX,
                metrics::SharedString::from(Arc::clone(prefix)),
            ));
        }
        let counter = CACHE_REQUESTS.counter(&labels);
        if let Ok(mut map) = self.lookups.write()
            && map.len() < MAX_HANDLES
        {
            map.insert(key, counter.clone());
        }
        counter
    }
}

impl RedisConfig {
    /// Server address and port from a redis-rs client's connection info.
    pub fn from_client(client: &redis::Client) -> Self {
        let (address, port) = match client.get_connection_info().addr() {
            redis::ConnectionAddr::Tcp(host, port) => (Some(host.as_str().into()), Some(*port)),
            redis::ConnectionAddr::TcpTls { host, port, .. } => {
                (Some(host.as_str().into()), Some(*port))
            }
            redis::ConnectionAddr::Unix(path) => (Some(path.to_string_lossy().into()), None),
            _ => (None, None),
        };
        Self {
            address,
            port,
            key_prefixes: Arc::from(Vec::new()),
            handles: Arc::default(),
        }
    }

    /// Key prefixes that label cache metrics (`cache.key_prefix`); a key matching none is
    /// labelled `other`. Without prefixes the label is absent. Raw keys never become labels.
    pub fn key_prefixes<I, S>(mut self, prefixes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.key_prefixes = prefixes
            .into_iter()
            .map(|p| Arc::from(p.as_ref()))
            .collect();
        self
    }

    /// The label value for `key`.
    pub(crate) fn prefix_of(&self, key: &[u8]) -> Option<Arc<str>> {
        if self.key_prefixes.is_empty() {
            return None;
        }
        Some(
            self.key_prefixes
                .iter()
                .find(|p| key.starts_with(p.as_bytes()))
                .cloned()
                .unwrap_or_else(|| Arc::from("other")),
        )
    }
}

/// An async redis-rs connection whose every command and pipeline gets a client span,
/// `db.client.operation.duration`, and hit/miss counts for reads.
#[derive(Clone)]
pub struct InstrumentedConnection<C> {
    inner: C,
    config: Arc<RedisConfig>,
}

impl<C> std::fmt::Debug for InstrumentedConnection<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstrumentedConnection")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<C> InstrumentedConnection<C> {
    /// Wraps `inner`.
    pub fn new(inner: C, config: RedisConfig) -> Self {
        Self {
            inner,
            config: Arc::new(config),
        }
    }

    /// The wrapped connection (commands through it are not instrumented).
    pub fn inner_mut(&mut self) -> &mut C {
        &mut self.inner
    }

    pub(crate) fn config(&self) -> &RedisConfig {
        &self.config
    }
}

/// Arguments of a command as byte slices (cursor arguments show as `0`).
fn args(cmd: &Cmd) -> Vec<&[u8]> {
    cmd.args_iter()
        .map(|arg| match arg {
            Arg::Simple(bytes) => bytes,
            _ => b"0".as_slice(),
        })
        .collect()
}

/// One command or pipeline being measured, in sdk-core's operation lifecycle: finished
/// with its reply, or cancelled when its future is dropped first (a caller's timeout).
struct Run {
    op: Operation<RedisFinish>,
    operation: Arc<str>,
}

/// The `sdk.operation` label of Redis commands and pipelines.
const OPERATION: &str = "db.redis";

/// What a command or pipeline records when it ends.
struct RedisFinish {
    config: Arc<RedisConfig>,
    operation: Arc<str>,
    /// The error prefix (`WRONGTYPE`) or client-side kind of a failure.
    status_code: Option<String>,
}

impl OnFinish for RedisFinish {
    fn on_finish(self, span: &tracing::Span, outcome: &Outcome, elapsed: Duration) {
        let Some(error_type) = outcome.error_type() else {
            self.config
                .handles
                .duration(&self.operation)
                .record(elapsed.as_secs_f64());
            return;
        };
        let mut labels = vec![
            (
                db::SYSTEM_NAME,
                metrics::SharedString::const_str(db::system::REDIS),
            ),
            (
                db::OPERATION_NAME,
                metrics::SharedString::from(Arc::clone(&self.operation)),
            ),
        ];
        if let Some(code) = self.status_code {
            sdk_core::record::with_record(span, |record| {
                record.push(
                    db::RESPONSE_STATUS_CODE,
                    AttrValue::Str(Cow::Owned(code.clone())),
                );
            });
            labels.push((db::RESPONSE_STATUS_CODE, code.into()));
        }
        labels.push((error::TYPE, error_type.to_owned().into()));
        DB_CLIENT_OPERATION_DURATION
            .histogram(&labels)
            .record(elapsed.as_secs_f64());
    }
}

impl Run {
    fn start(
        config: &Arc<RedisConfig>,
        db_index: i64,
        operation: Arc<str>,
        text: String,
        batch: Option<usize>,
    ) -> Self {
        // Declared for subscribers without the SDK's collector (see `sdk_core::record`).
        let span = tracing::info_span!(
            "db.query",
            otel.name = Empty,
            otel.kind = Empty,
            otel.status_code = Empty,
            otel.status_message = Empty,
            db.system.name = Empty,
            db.namespace = Empty,
            db.operation.name = Empty,
            db.query.text = Empty,
            db.operation.batch.size = Empty,
            db.response.status_code = Empty,
            server.address = Empty,
            server.port = Empty,
            error.type = Empty,
        );
        let finish = RedisFinish {
            config: Arc::clone(config),
            operation: Arc::clone(&operation),
            status_code: None,
        };
        let op = Operation::start(span, OPERATION, SpanKind::Client, finish, |record| {
            record.name_shared(Arc::clone(&operation));
            record.push(
                db::SYSTEM_NAME,
                AttrValue::Str(Cow::Borrowed(db::system::REDIS)),
            );
            record.push(
                db::NAMESPACE,
                AttrValue::Str(Cow::Owned(db_index.to_string())),
            );
            record.push(
                db::OPERATION_NAME,
                AttrValue::Shared(Arc::clone(&operation)),
            );
            record.push(db::QUERY_TEXT, AttrValue::Str(Cow::Owned(text)));
            if let Some(size) = batch {
                record.push(
                    db::OPERATION_BATCH_SIZE,
                    AttrValue::I64(i64::try_from(size).unwrap_or(i64::MAX)),
                );
            }
            if let Some(address) = &config.address {
                record.push(server::ADDRESS, AttrValue::Shared(Arc::clone(address)));
            }
            if let Some(port) = config.port {
                record.push(server::PORT, AttrValue::I64(i64::from(port)));
            }
        });
        Self { op, operation }
    }

    /// Ends the span and records the duration; `failure` is `(status code, message)`.
    fn finish(mut self, failure: Option<(String, String)>) {
        let outcome = match failure {
            None => Outcome::Ok,
            Some((code, message)) => {
                let outcome = Outcome::failed_with(code.clone(), message);
                if let Some(state) = self.op.state_mut() {
                    state.status_code = Some(code);
                }
                outcome
            }
        };
        self.op.finish(outcome);
    }
}

/// Status code of a client-side error: the server's prefix (`WRONGTYPE`) or the kind.
fn error_code(err: &RedisError) -> String {
    match err.code() {
        Some(code) => code.to_owned(),
        None if err.is_timeout() => "timeout".to_owned(),
        None if err.is_connection_refusal() || err.is_connection_dropped() || err.is_io_error() => {
            "io".to_owned()
        }
        None => format!("{:?}", err.kind()),
    }
}

/// A server error that arrived as a value (inside a pipeline or as a reply).
fn value_error(value: &Value) -> Option<(String, String)> {
    match value {
        Value::ServerError(err) => Some((err.code().to_owned(), err.to_string())),
        _ => None,
    }
}

/// Counts hits and misses of a read command from its reply.
fn count_cache(config: &RedisConfig, operation: &Arc<str>, args: &[&[u8]], reply: &Value) {
    let keys_and_results: Vec<(&[u8], bool)> = match (&**operation, reply) {
        ("GET" | "GETEX" | "GETDEL" | "HGET", reply) => match args.get(1) {
            Some(key) if !matches!(reply, Value::ServerError(_)) => {
                vec![(*key, !matches!(reply, Value::Nil))]
            }
            _ => return,
        },
        ("MGET", Value::Array(values)) => args
            .iter()
            .skip(1)
            .zip(values)
            .map(|(key, v)| (*key, !matches!(v, Value::Nil)))
            .collect(),
        ("HMGET", Value::Array(values)) => match args.get(1) {
            Some(key) => values
                .iter()
                .map(|v| (*key, !matches!(v, Value::Nil)))
                .collect(),
            None => return,
        },
        ("EXISTS", Value::Int(found)) => {
            // EXISTS counts keys that exist; which ones is unknown, so the prefix is the
            // first key's.
            let keys = args.len().saturating_sub(1);
            let found = usize::try_from(*found).unwrap_or(0).min(keys);
            let key = args.get(1).copied().unwrap_or_default();
            (0..keys).map(|i| (key, i < found)).collect()
        }
        _ => return,
    };
    for (key, hit) in keys_and_results {
        config
            .handles
            .lookup(operation, config.prefix_of(key), hit)
            .increment(1);
    }
}

/// A command being measured, with what is needed to count its reply.
struct CommandRun<'a> {
    run: Run,
    config: Arc<RedisConfig>,
    arguments: Vec<&'a [u8]>,
}

impl<'a> CommandRun<'a> {
    fn start(config: &Arc<RedisConfig>, db_index: i64, arguments: Vec<&'a [u8]>) -> Self {
        let operation: Arc<str> = arguments
            .first()
            .map_or_else(|| "?".to_owned(), |name| command_name(name))
            .into();
        let mut text = String::new();
        write_masked(&mut text, arguments.iter().copied());
        Self {
            run: Run::start(config, db_index, operation, text, None),
            config: Arc::clone(config),
            arguments,
        }
    }

    fn finish(self, result: Result<&Value, &RedisError>) {
        match result {
            Ok(value) => {
                count_cache(&self.config, &self.run.operation, &self.arguments, value);
                self.run.finish(value_error(value));
            }
            Err(err) => self.run.finish(Some((error_code(err), err.to_string()))),
        }
    }
}

/// A pipeline or transaction being measured.
struct PipelineRun<'a> {
    run: Run,
    config: Arc<RedisConfig>,
    commands: Vec<Vec<&'a [u8]>>,
    transaction: bool,
}

impl<'a> PipelineRun<'a> {
    fn start(
        config: &Arc<RedisConfig>,
        db_index: i64,
        commands: Vec<Vec<&'a [u8]>>,
        transaction: bool,
    ) -> Self {
        let operation: Arc<str> = if transaction { "MULTI" } else { "PIPELINE" }.into();
        let mut text = String::new();
        for (i, arguments) in commands.iter().enumerate() {
            if i > 0 {
                text.push_str("; ");
            }
            write_masked(&mut text, arguments.iter().copied());
            if text.len() >= crate::mask::MAX_TEXT_LEN {
                break;
            }
        }
        let size = commands.len();
        DB_CLIENT_OPERATION_BATCH_SIZE
            .histogram(&[
                (
                    db::SYSTEM_NAME,
                    metrics::SharedString::const_str(db::system::REDIS),
                ),
                (
                    db::OPERATION_NAME,
                    metrics::SharedString::from(Arc::clone(&operation)),
                ),
            ])
            .record(size as f64);
        Self {
            run: Run::start(config, db_index, operation, text, Some(size)),
            config: Arc::clone(config),
            commands,
            transaction,
        }
    }

    fn finish(self, result: Result<&[Value], &RedisError>) {
        match result {
            Ok(values) => {
                // A transaction answers with one array (EXEC); a pipeline with one reply
                // per command.
                let per_command: &[Value] = match values {
                    [Value::Array(inner)] if self.transaction => inner,
                    // A transaction aborted by WATCH answers nil: nothing was read.
                    _ if self.transaction => &[],
                    other => other,
                };
                for (arguments, value) in self.commands.iter().zip(per_command) {
                    if let Some(name) = arguments.first() {
                        let operation: Arc<str> = command_name(name).into();
                        count_cache(&self.config, &operation, arguments, value);
                    }
                }
                self.run.finish(per_command.iter().find_map(value_error));
            }
            Err(err) => self.run.finish(Some((error_code(err), err.to_string()))),
        }
    }
}

impl<C: ConnectionLike + Send> ConnectionLike for InstrumentedConnection<C> {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        let run = CommandRun::start(&self.config, self.inner.get_db(), args(cmd));
        let reply = self.inner.req_packed_command(cmd);
        Box::pin(async move {
            let result = reply.await;
            run.finish(result.as_ref());
            result
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        let commands = pipeline.cmd_iter().map(args).collect();
        let run = PipelineRun::start(
            &self.config,
            self.inner.get_db(),
            commands,
            pipeline.is_transaction(),
        );
        let replies = self.inner.req_packed_commands(pipeline, offset, count);
        Box::pin(async move {
            let result = replies.await;
            run.finish(result.as_deref());
            result
        })
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }
}

/// Commands in an encoded request: each an array of bulk strings, as redis-rs packs them.
fn decode_packed(bytes: &[u8]) -> Vec<Vec<Vec<u8>>> {
    let mut reader = std::io::Cursor::new(bytes);
    let mut parser = redis::Parser::new();
    let mut commands = Vec::new();
    // The parser buffers what it has read, so it is asked until it has nothing left.
    while let Ok(Value::Array(items)) = parser.parse_value(&mut reader) {
        commands.push(
            items
                .into_iter()
                .map(|item| match item {
                    Value::BulkString(arg) => arg,
                    Value::SimpleString(arg) => arg.into_bytes(),
                    _ => b"?".to_vec(),
                })
                .collect(),
        );
    }
    commands
}

/// A blocking redis-rs connection (`redis::Connection`) instrumented like
/// [`InstrumentedConnection`]. Pipelines reach a blocking connection encoded, so their
/// commands are read back from the encoding.
pub struct InstrumentedSyncConnection<C> {
    inner: C,
    config: Arc<RedisConfig>,
}

impl<C> std::fmt::Debug for InstrumentedSyncConnection<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstrumentedSyncConnection")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<C> InstrumentedSyncConnection<C> {
    /// Wraps `inner`.
    pub fn new(inner: C, config: RedisConfig) -> Self {
        Self {
            inner,
            config: Arc::new(config),
        }
    }
}

impl<C: redis::ConnectionLike> redis::ConnectionLike for InstrumentedSyncConnection<C> {
    fn req_packed_command(&mut self, cmd: &[u8]) -> redis::RedisResult<Value> {
        let decoded = decode_packed(cmd);
        let arguments = decoded
            .first()
            .map(|c| c.iter().map(Vec::as_slice).collect())
            .unwrap_or_default();
        let run = CommandRun::start(&self.config, self.inner.get_db(), arguments);
        let result = self.inner.req_packed_command(cmd);
        run.finish(result.as_ref());
        result
    }

    fn req_command(&mut self, cmd: &Cmd) -> redis::RedisResult<Value> {
        let run = CommandRun::start(&self.config, self.inner.get_db(), args(cmd));
        let result = self.inner.req_command(cmd);
        run.finish(result.as_ref());
        result
    }

    fn req_packed_commands(
        &mut self,
        cmd: &[u8],
        offset: usize,
        count: usize,
    ) -> redis::RedisResult<Vec<Value>> {
        let decoded = decode_packed(cmd);
        let transaction = decoded
            .first()
            .and_then(|c| c.first())
            .is_some_and(|name| name.eq_ignore_ascii_case(b"MULTI"));
        // A transaction is encoded as MULTI, the commands, EXEC.
        let commands: Vec<Vec<&[u8]>> = decoded
            .iter()
            .filter(|c| {
                !transaction
                    || !c.first().is_some_and(|n| {
                        n.eq_ignore_ascii_case(b"MULTI") || n.eq_ignore_ascii_case(b"EXEC")
                    })
            })
            .map(|c| c.iter().map(Vec::as_slice).collect())
            .collect();
        let run = PipelineRun::start(&self.config, self.inner.get_db(), commands, transaction);
        let result = self.inner.req_packed_commands(cmd, offset, count);
        run.finish(result.as_deref());
        result
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }

    fn check_connection(&mut self) -> bool {
        self.inner.check_connection()
    }

    fn is_open(&self) -> bool {
        self.inner.is_open()
    }
}
