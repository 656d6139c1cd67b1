//! The handle every export worker thread is driven through: flush and shutdown requests
//! with acknowledgements, and joining the thread.

use crossbeam_channel::{Receiver, Sender, bounded, unbounded};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::Duration;

/// A request to a worker; the worker answers `true` when every export it made for the
/// request succeeded.
pub(crate) enum Control {
    /// Export everything queued now.
    Flush(Sender<bool>),
    /// Export everything queued, release the exporter and stop.
    Shutdown(Sender<bool>),
}

/// Owner side of a worker thread.
#[derive(Debug)]
pub(crate) struct WorkerHandle {
    control: Sender<Control>,
    thread: Mutex<Option<JoinHandle<()>>>,
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

    /// Exports what is queued; `false` if an export failed or `timeout` passed first.
    pub(crate) fn force_flush(&self, timeout: Duration) -> bool {
        let (ack, done) = bounded(1);
        self.control.send(Control::Flush(ack)).is_ok()
            && done.recv_timeout(timeout).unwrap_or(false)
    }

    /// Exports what is queued and stops the worker; `false` if an export failed or
    /// `timeout` passed first (the worker then finishes in the background).
    pub(crate) fn shutdown(&self, timeout: Duration) -> bool {
        let (ack, done) = bounded(1);
        if self.control.send(Control::Shutdown(ack)).is_err() {
            return true;
        }
        match done.recv_timeout(timeout) {
            Ok(ok) => {
                if let Some(thread) = self.thread.lock().ok().and_then(|mut t| t.take()) {
                    let _ = thread.join();
                }
                ok
            }
            Err(_) => false,
        }
    }
}
