//! The handle every export worker thread is driven through: flush and shutdown requests
//! with acknowledgements and deadlines, and joining the thread.
//!
//! A request carries its deadline to the worker, so the worker bounds its exports by it
//! and gives up (counting what it could not send) instead of running past it. Requests
//! are two-step ([`WorkerHandle::request_flush`], [`WorkerHandle::request_shutdown`], then
//! [`Pending::wait`]) so that a caller stopping several workers asks all of them first
//! and then waits for all of them against one deadline.

use crossbeam_channel::{Receiver, Sender, bounded, unbounded};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A request to a worker; the worker answers `true` when every export it made for the
/// request succeeded before `deadline`.
pub(crate) enum Control {
    /// Export everything queued now.
    Flush {
        /// Where the answer goes.
        ack: Sender<bool>,
        /// When the caller stops waiting.
        deadline: Instant,
    },
    /// Export everything queued, release the exporter and stop.
    Shutdown {
        /// Where the answer goes.
        ack: Sender<bool>,
        /// When the caller stops waiting.
        deadline: Instant,
    },
}

/// Owner side of a worker thread.
#[derive(Debug)]
pub(crate) struct WorkerHandle {
    control: Sender<Control>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// A flush or shutdown request on its way; [`Pending::wait`] collects the answer.
#[derive(Debug)]
#[must_use = "wait for the answer, or the request is fire-and-forget"]
pub(crate) struct Pending<'a> {
    worker: &'a WorkerHandle,
    /// `None` when the worker had already stopped.
    answer: Option<Receiver<bool>>,
    deadline: Instant,
    stop: bool,
}

impl WorkerHandle {
    /// Starts `run` on a named thread with the receiving end of the control channel.
    pub(crate) fn spawn(
        name: String,
        run: impl FnOnce(Receiver<Control>) + Send + 'static,
    ) -> std::io::Result<Self> {
        let (control, requests) = unbounded();
        let thread = std::thread::Builder::new()
            .name(name)
            .spawn(move || run(requests))?;
        Ok(Self {
            control,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Asks the worker to export what is queued, by `deadline`.
    pub(crate) fn request_flush(&self, deadline: Instant) -> Pending<'_> {
        let (ack, answer) = bounded(1);
        let sent = self.control.send(Control::Flush { ack, deadline }).is_ok();
        Pending {
            worker: self,
            answer: sent.then_some(answer),
            deadline,
            stop: false,
        }
    }

    /// Asks the worker to export what is queued by `deadline`, then stop.
    pub(crate) fn request_shutdown(&self, deadline: Instant) -> Pending<'_> {
        let (ack, answer) = bounded(1);
        let sent = self
            .control
            .send(Control::Shutdown { ack, deadline })
            .is_ok();
        Pending {
            worker: self,
            answer: sent.then_some(answer),
            deadline,
            stop: true,
        }
    }

    /// Exports what is queued; `false` if an export failed or `timeout` passed first.
    pub(crate) fn force_flush(&self, timeout: Duration) -> bool {
        self.request_flush(Instant::now() + timeout).wait()
    }

    /// Exports what is queued and stops the worker; `false` if an export failed or
    /// `timeout` passed first.
    pub(crate) fn shutdown(&self, timeout: Duration) -> bool {
        self.request_shutdown(Instant::now() + timeout).wait()
    }
}

impl Pending<'_> {
    /// Waits (until the request's deadline) for the worker's answer: `true` when every
    /// export succeeded. After a shutdown the worker thread is joined when it has ended;
    /// one still releasing its exporter is left to finish on its own, never waited for
    /// past the deadline.
    pub(crate) fn wait(self) -> bool {
        let Some(answer) = self.answer else {
            // The worker had stopped already (an earlier shutdown): nothing is queued.
            return true;
        };
        let ok = answer.recv_deadline(self.deadline).unwrap_or(false);
        if self.stop
            && let Ok(mut slot) = self.worker.thread.lock()
            && slot.as_ref().is_some_and(JoinHandle::is_finished)
            && let Some(thread) = slot.take()
        {
            let _ = thread.join();
        }
        ok
    }
}

/// The deadline of one export that starts now: `OTEL_BSP_EXPORT_TIMEOUT` from now, but
/// never past `limit` (a flush or shutdown request's deadline).
pub(crate) fn export_deadline(timeout: Duration, limit: Option<Instant>) -> Instant {
    let own = Instant::now() + timeout;
    limit.map_or(own, |limit| own.min(limit))
}
