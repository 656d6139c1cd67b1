//! One command or pipeline being measured, in sdk-core's operation lifecycle
//! ([`Operation`]): its client span, `db.client.operation.duration` (with
//! `db.response.status_code` and `error.type` on failure), the batch size of pipelines, and
//! the hit/miss counts of its reads. Dropped before its reply, it is cancelled.

use crate::config::RedisConfig;
use crate::lookups::count_lookups;
use crate::mask::{MAX_TEXT_LEN, write_masked};
use redis::{RedisError, Value};
use sdk_core::catalogue::{DB_CLIENT_OPERATION_BATCH_SIZE, DB_CLIENT_OPERATION_DURATION};
use sdk_core::operation::{Finished, OnFinish, Operation, Outcome};
use sdk_core::semconv::{db, error, server};
use sdk_core::spans::{AttrValue, SpanKind};
use std::borrow::Cow;
use std::sync::Arc;
use tracing::field::Empty;

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
    fn on_finish(&mut self, span: &Finished<'_>, outcome: &Outcome) {
        let elapsed = span.elapsed();
        let Some(error_type) = outcome.error_type() else {
            self.config
                .handles()
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
        if let Some(code) = self.status_code.take() {
            span.record(|record| {
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
        let hook = sdk_core::record::RecordHook::current();
        let span = if hook.needs_fields() {
            // No SDK layer in the subscriber: the attributes become span fields.
            tracing::info_span!(
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
            )
        } else {
            tracing::info_span!(
                "db.query",
                otel.status_code = Empty,
                otel.status_message = Empty,
            )
        };
        let finish = RedisFinish {
            config: Arc::clone(config),
            operation: Arc::clone(&operation),
            status_code: None,
        };
        let op = Operation::start_with(hook, span, OPERATION, SpanKind::Client, finish, |record| {
            record.name_shared(Arc::clone(&operation));
            record.push(
                db::SYSTEM_NAME,
                AttrValue::Str(Cow::Borrowed(db::system::REDIS)),
            );
            record.push(
                db::NAMESPACE,
                AttrValue::Shared(config.handles().namespace(db_index)),
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
            if let Some(address) = config.address() {
                record.push(server::ADDRESS, AttrValue::Shared(Arc::clone(address)));
            }
            if let Some(port) = config.port() {
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
                let outcome = Outcome::failed_with(code.clone(), unquoted(message));
                if let Some(state) = self.op.state_mut() {
                    state.status_code = Some(code);
                }
                outcome
            }
        };
        self.op.finish(outcome);
    }
}

/// An error message without what the server quoted: Redis quotes the arguments it
/// refused (`ERR unknown command 'X', with args beginning with: 'value'`, `… for CONFIG
/// SET - 'param'`), and an argument can be a value or a credential. The message is cut
/// at its first quote, and marked as cut.
pub(crate) fn unquoted(mut message: String) -> String {
    if let Some(at) = message.find(['\'', '"']) {
        message.truncate(at);
        message.truncate(message.trim_end().len());
        message.push_str(" …");
    }
    message
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

/// A command being measured, with what is needed to count its reply.
pub(crate) struct CommandRun<'a> {
    run: Run,
    config: Arc<RedisConfig>,
    arguments: Vec<&'a [u8]>,
}

impl<'a> CommandRun<'a> {
    /// Starts measuring the command made of `arguments` (its name first).
    pub(crate) fn start(
        config: &Arc<RedisConfig>,
        db_index: i64,
        arguments: Vec<&'a [u8]>,
    ) -> Self {
        let operation = config
            .handles()
            .operation_name(arguments.first().copied().unwrap_or_default());
        let mut text = String::new();
        write_masked(&mut text, arguments.iter().copied());
        Self {
            run: Run::start(config, db_index, operation, text, None),
            config: Arc::clone(config),
            arguments,
        }
    }

    /// Ends the command with its reply or error.
    pub(crate) fn finish(self, result: Result<&Value, &RedisError>) {
        match result {
            Ok(value) => {
                count_lookups(&self.config, &self.run.operation, &self.arguments, value);
                self.run.finish(value_error(value));
            }
            Err(err) => self.run.finish(Some((error_code(err), err.to_string()))),
        }
    }
}

/// A pipeline or transaction being measured.
pub(crate) struct PipelineRun<'a> {
    run: Run,
    config: Arc<RedisConfig>,
    commands: Vec<Vec<&'a [u8]>>,
    transaction: bool,
}

impl<'a> PipelineRun<'a> {
    /// Starts measuring a pipeline (or, with `transaction`, a `MULTI`/`EXEC` block) of
    /// `commands`, and records its batch size.
    pub(crate) fn start(
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
            if text.len() >= MAX_TEXT_LEN {
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

    /// Ends the pipeline with its replies or error.
    pub(crate) fn finish(self, result: Result<&[Value], &RedisError>) {
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
                        let operation = self.config.handles().operation_name(name);
                        count_lookups(&self.config, &operation, arguments, value);
                    }
                }
                self.run.finish(per_command.iter().find_map(value_error));
            }
            Err(err) => self.run.finish(Some((error_code(err), err.to_string()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::unquoted;

    #[test]
    fn quoted_arguments_are_cut_from_error_messages() {
        assert_eq!(
            unquoted(
                "ResponseError: unknown command 'NOPE', with args beginning with: 'hunter2'"
                    .to_owned()
            ),
            "ResponseError: unknown command …"
        );
        assert_eq!(
            unquoted("ERR Unknown option or number of arguments for CONFIG SET - \"x\"".to_owned()),
            "ERR Unknown option or number of arguments for CONFIG SET - …"
        );
        let plain = "WRONGTYPE Operation against a key holding the wrong kind of value";
        assert_eq!(unquoted(plain.to_owned()), plain);
    }
}
