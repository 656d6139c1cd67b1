//! [`InstrumentedSyncConnection`]: a blocking redis-rs connection instrumented like the
//! async [`InstrumentedConnection`](crate::InstrumentedConnection).

use crate::arguments::{cmd_arguments, decode_packed};
use crate::config::RedisConfig;
use crate::run::{CommandRun, PipelineRun};
use redis::{Cmd, Value};
use std::sync::Arc;

/// A blocking redis-rs connection (`redis::Connection`) instrumented like
/// [`InstrumentedConnection`](crate::InstrumentedConnection). Pipelines reach a blocking
/// connection encoded, so their commands are read back from the encoding.
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
        let run = CommandRun::start(&self.config, self.inner.get_db(), cmd_arguments(cmd));
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
