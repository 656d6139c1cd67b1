//! [`LossCountingOutput`]: where the log writer thread puts lines (stdout), losses counted.

use crate::catalogue::EXPORTER_DROPPED;
use crate::semconv::sdk;
use std::io::Write;

/// The output of the log writer thread. A line it cannot write (a full disk behind a
/// redirected stdout, a closed pipe) is lost and counted in
/// `sdk.exporter.dropped{sdk.signal="logs",sdk.exporter="console",sdk.reason="write_error"}`;
/// the thread goes on with the next line at once, never retrying, waiting or panicking,
/// and the application never sees the error.
///
/// The writer thread writes each line with one `write_all`, so one failed call is one
/// lost line.
pub(crate) struct LossCountingOutput<W> {
    inner: W,
    /// Registered with the caller's recorder: the writer thread may have none of its own.
    lost: metrics::Counter,
}

impl<W: Write> LossCountingOutput<W> {
    /// Wraps `inner` (stdout), counting lines lost for the `console` logs exporter.
    pub(crate) fn new(inner: W) -> Self {
        Self {
            inner,
            lost: EXPORTER_DROPPED.counter(&[
                (sdk::SIGNAL, "logs".into()),
                (sdk::EXPORTER, "console".into()),
                (sdk::REASON, "write_error".into()),
            ]),
        }
    }
}

impl<W: Write> Write for LossCountingOutput<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if self.inner.write_all(buf).is_err() {
            self.lost.increment(1);
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        // What a failed flush leaves behind was counted with its line.
        let _ = self.inner.flush();
        Ok(())
    }
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use super::*;
    use crate::config::ServiceInfo;
    use crate::logs::JsonLogLayer;
    use crate::testing::{RecordedValue, capture_metrics};
    use std::time::{Duration, Instant};
    use tracing_appender::non_blocking::NonBlockingBuilder;
    use tracing_subscriber::layer::SubscriberExt;

    fn lost(recorded: &[crate::testing::RecordedMetric]) -> u64 {
        recorded
            .iter()
            .filter(|m| m.name == "sdk.exporter.dropped")
            .filter(|m| {
                m.labels
                    .contains(&("sdk.reason".to_owned(), "write_error".to_owned()))
                    && m.labels
                        .contains(&("sdk.signal".to_owned(), "logs".to_owned()))
            })
            .map(|m| match m.value {
                RecordedValue::Counter(n) => n,
                _ => 0,
            })
            .sum()
    }

    /// `/dev/full` fails every write with ENOSPC, as a full disk does.
    fn full_device() -> std::fs::File {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full exists on Linux")
    }

    #[test]
    fn lines_to_a_full_device_are_counted_and_never_fail_the_caller() {
        let recorded = capture_metrics(|| {
            let mut output = LossCountingOutput::new(full_device());
            for _ in 0..3 {
                output.write_all(b"{\"message\":\"x\"}\n").unwrap();
            }
            output.flush().unwrap();
        });
        assert_eq!(lost(&recorded), 3, "{recorded:?}");
    }

    #[test]
    fn the_sdk_log_path_to_a_full_device_neither_blocks_nor_panics_and_counts_each_line() {
        const LINES: u64 = 200;
        let recorded = capture_metrics(|| {
            // The same path `init` builds: JSON layer → lossy non-blocking queue → writer
            // thread → this output, with a queue large enough to keep every line.
            let (writer, guard) = NonBlockingBuilder::default()
                .lossy(true)
                .buffered_lines_limit(LINES as usize)
                .finish(LossCountingOutput::new(full_device()));
            let subscriber = tracing_subscriber::registry()
                .with(JsonLogLayer::new(writer, &ServiceInfo::default()));
            let started = Instant::now();
            tracing::subscriber::with_default(subscriber, || {
                for n in 0..LINES {
                    tracing::info!(n, "a line the disk has no room for");
                }
            });
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "logging to a full disk blocked the application"
            );
            // Dropping the guard waits for the writer thread to take every queued line.
            drop(guard);
        });
        assert_eq!(lost(&recorded), LINES, "{recorded:?}");
    }
}
