//! [`PanicSafeExporter`]: the exporter a batch processor drives, its panics caught on the
//! export thread.

use super::{ExportError, SpanExporter};
use crate::callback::{Callback, call_counting};
use crate::spans::FinishedSpan;
use std::time::Instant;

/// Wraps the exporter (the SDK's or the user's own) of a batch processor: a panic in
/// `export` is counted in `sdk.callback.panics{sdk.callback="exporter"}` and becomes
/// [`ExportError::Panicked`] (the worker drops the batch and counts its spans with
/// `sdk.reason="panic"`); a panic in `shutdown` is counted and ignored. The export thread
/// keeps running and later batches are exported as usual.
pub(crate) struct PanicSafeExporter {
    inner: Box<dyn SpanExporter>,
    /// Registered with the caller's recorder: the export thread may have none of its own.
    panics: metrics::Counter,
}

impl PanicSafeExporter {
    pub(crate) fn new(inner: Box<dyn SpanExporter>) -> Self {
        Self {
            inner,
            panics: Callback::Exporter.panics_counter(),
        }
    }
}

impl SpanExporter for PanicSafeExporter {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn export(&mut self, batch: &[FinishedSpan], deadline: Instant) -> Result<(), ExportError> {
        let inner = &mut self.inner;
        call_counting(Callback::Exporter, &self.panics, || {
            inner.export(batch, deadline)
        })
        .unwrap_or(Err(ExportError::Panicked))
    }

    fn shutdown(&mut self) {
        let inner = &mut self.inner;
        let _ = call_counting(Callback::Exporter, &self.panics, || inner.shutdown());
    }
}
