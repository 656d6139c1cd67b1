//! Exponential backoff with jitter, bounded by a deadline.

use rand::Rng;
use std::time::{Duration, Instant};

/// First wait between attempts.
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
/// Longest wait between attempts (unless the server asks for more with `Retry-After`):
/// a connection attempt every 2 s at most while the agent is down costs nothing, and
/// delivery resumes within about 2 s of its return (the drill measured 3.5 s with 5 s).
pub const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// What one attempt came to.
#[derive(Debug)]
pub enum Attempt<T> {
    /// Done (success or a final answer).
    Done(T),
    /// Try again, after at least the given delay (`Retry-After`) when there is one.
    Retry {
        /// Why.
        reason: String,
        /// Server-requested delay.
        after: Option<Duration>,
    },
}

/// Runs `attempt` until it is done or the next wait would pass `deadline`; the error
/// carries the last reason.
pub fn with_backoff<T>(
    deadline: Instant,
    mut attempt: impl FnMut() -> Attempt<T>,
) -> Result<T, String> {
    let mut backoff = INITIAL_BACKOFF;
    loop {
        match attempt() {
            Attempt::Done(value) => return Ok(value),
            Attempt::Retry { reason, after } => {
                // Full jitter on the exponential part, never below what the server asked for.
                let jittered = rand::rng().random_range(backoff / 2..=backoff);
                let wait = after.map_or(jittered, |after| after.max(jittered));
                if Instant::now() + wait >= deadline {
                    return Err(reason);
                }
                std::thread::sleep(wait);
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Whether an HTTP status is worth retrying: 429 and 502/503/504 (and 408).
pub fn retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 502 | 503 | 504)
}

/// Parses `Retry-After` given in seconds (HTTP dates are ignored), capped at 30 s.
pub fn retry_after(value: Option<&str>) -> Option<Duration> {
    let seconds: u64 = value?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds.min(30)))
}
