//! One run of an HTTP probe, timed phase by phase on the real socket: resolve with
//! `lookup_host`, connect a `TcpStream`, speak HTTP/1 over it with hyper's client
//! connection, and note when the request's last byte was written.

use super::declare::{HttpTarget, MAX_BODY_BYTES};
use super::status::{HttpPhases, ProbeFailure};
use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use std::future::{Future, poll_fn};
use std::io;
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// What a run found so far; kept by the caller, so a run cut short by its timeout still
/// reports the phases it finished.
#[derive(Debug, Default)]
pub(super) struct HttpTrace {
    pub(super) phases: HttpPhases,
    pub(super) status: Option<u16>,
}

/// Runs the probe once, filling `trace` as phases finish.
pub(super) async fn run(target: &HttpTarget, trace: &mut HttpTrace) -> Result<(), ProbeFailure> {
    let started = Instant::now();
    let address = tokio::net::lookup_host((target.host.as_str(), target.port))
        .await
        .map_err(|err| ProbeFailure::Resolve(err.to_string()))?
        .next()
        .ok_or(ProbeFailure::NoAddress)?;
    trace.phases.resolve = started.elapsed();

    let connecting = Instant::now();
    let stream = TcpStream::connect(address)
        .await
        .map_err(|err| ProbeFailure::Connect(err.to_string()))?;
    trace.phases.connect = connecting.elapsed();
    let _ = stream.set_nodelay(true);

    let written = Arc::new(Mutex::new(None));
    let io = TokioIo::new(TimedStream {
        inner: stream,
        last_write: Arc::clone(&written),
    });
    let (mut sender, connection) = hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(io)
        .await
        .map_err(http_failure)?;

    let mut request = Request::new(Empty::new());
    *request.method_mut() = target.method.clone();
    *request.uri_mut() = target.uri.clone();
    for (name, value) in &target.headers {
        request.headers_mut().insert(name.clone(), value.clone());
    }

    let exchange = async {
        let response = sender.send_request(request).await.map_err(http_failure)?;
        let head_at = Instant::now();
        let written_at = *written.lock().unwrap_or_else(PoisonError::into_inner);
        trace.phases.processing =
            written_at.map_or(Duration::ZERO, |at| head_at.saturating_duration_since(at));
        let status = response.status().as_u16();
        trace.status = Some(status);

        let mut body = response.into_body();
        let mut kept = Vec::new();
        let mut read = 0usize;
        while read < MAX_BODY_BYTES {
            let Some(frame) = body.frame().await else {
                break;
            };
            let frame = frame.map_err(http_failure)?;
            if let Ok(data) = frame.into_data() {
                read += data.len();
                if target.body.is_some() {
                    let room = MAX_BODY_BYTES.saturating_sub(kept.len());
                    kept.extend_from_slice(&data[..data.len().min(room)]);
                }
            }
        }
        trace.phases.transfer = head_at.elapsed();

        if !target.statuses.iter().any(|codes| codes.contains(&status)) {
            return Err(ProbeFailure::Status(status));
        }
        match &target.body {
            Some(needle) if !contains(&kept, needle) => Err(ProbeFailure::BodyMismatch),
            _ => Ok(()),
        }
    };
    drive(connection, exchange).await
}

fn http_failure(err: hyper::Error) -> ProbeFailure {
    ProbeFailure::Http(err.to_string())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty()
        || haystack
            .windows(needle.len())
            .any(|window| window == needle)
}

/// Polls `exchange` to completion while driving `connection`, in this task (no task is
/// spawned per run, so stopping the probes stops the connection too).
async fn drive<C, E, T>(connection: C, exchange: E) -> T
where
    C: Future<Output = Result<(), hyper::Error>>,
    E: Future<Output = T>,
{
    let mut connection = pin!(connection);
    let mut exchange = pin!(exchange);
    let mut connection_done = false;
    poll_fn(move |cx| {
        if let Poll::Ready(out) = exchange.as_mut().poll(cx) {
            return Poll::Ready(out);
        }
        if !connection_done && connection.as_mut().poll(cx).is_ready() {
            // The connection's end (or error) reaches the exchange through hyper, which
            // wakes it; poll it again now in case that already happened.
            connection_done = true;
            if let Poll::Ready(out) = exchange.as_mut().poll(cx) {
                return Poll::Ready(out);
            }
        }
        Poll::Pending
    })
    .await
}

/// The probe's socket, noting when bytes were last written (the end of the request).
struct TimedStream {
    inner: TcpStream,
    last_write: Arc<Mutex<Option<Instant>>>,
}

impl TimedStream {
    fn note_write(&self, result: &Poll<io::Result<usize>>) {
        if let Poll::Ready(Ok(n)) = result
            && *n > 0
        {
            *self
                .last_write
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
        }
    }
}

impl AsyncRead for TimedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for TimedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.note_write(&result);
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.note_write(&result);
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::contains;

    #[test]
    fn substring() {
        assert!(contains(b"status: ok", b"ok"));
        assert!(contains(b"", b""));
        assert!(!contains(b"o", b"ok"));
        assert!(!contains(b"status: down", b"ok"));
    }
}
