//! `cargo xtask gate --collectors`: callgrind instructions per run of each background
//! collector against what it is compared with in the `collectors` benchmark (the same
//! pairs, built from the same helpers, in the `profile_collectors` example), as a table.
//! On a shared machine the benchmark's loopback ratios move between 0.4× and 1.9× from
//! run to run; these counts do not depend on the load.
//!
//! A measurement, not a gate: nothing is recorded or checked against a limit, and
//! `cargo xtask test` does not run it. It fails only when it cannot measure: valgrind
//! missing, Redis not answering, a count of zero, or the example failing (it panics when a
//! probe run fails or a timed cache read misses).
//!
//! What is counted: the calling thread inside `profile_collectors::run` (each run a
//! `block_on` of a current-thread runtime, with the Redis connection's and hyper's
//! connection tasks). Not counted: the health server the probes query (a runtime on its own
//! thread, the peer's work as Redis' is), the batch queue's export thread, and the kernel:
//! a collection that reads `/proc` or crosses a socket costs system time that callgrind
//! does not see, so wall time can rank a pair differently. `redis-info` counts move with
//! the server's `INFO` reply (its clients, keyspaces, memory figures). Each run length is
//! measured [`REPEATS`](super::REPEATS) times and the lowest count kept, as in the gate.

use super::{REPEATS, build_examples, example, per_iteration};
use crate::Result;
use std::fmt::Write as _;

const EXAMPLE: &str = "profile_collectors";

/// One comparison: the variant of ours (or the option under test) against the other.
struct Pair {
    name: &'static str,
    ours: &'static str,
    against: &'static str,
}

/// The two run lengths (runs per process) whose difference is counted, for every variant:
/// 50 and 250 runs. The difference is 200 runs, hundreds of thousands to tens of millions
/// of instructions, against a few thousand of noise (the socket paths, `/proc` reads and
/// Redis' `INFO` reply), and the whole table measures in about a minute.
const LENGTHS: (u64, u64) = (50, 250);

const PAIRS: &[Pair] = &[
    Pair {
        name: "process metrics",
        ours: "process",
        against: "process-raw",
    },
    Pair {
        name: "redis INFO",
        ours: "redis-info",
        against: "redis-info-raw",
    },
    Pair {
        name: "http probe",
        ours: "probe",
        against: "probe-raw",
    },
    Pair {
        name: "cache hit, SWR / plain",
        ours: "cache-swr",
        against: "cache-hit",
    },
    Pair {
        name: "cache 16 KiB, LZ4 / none",
        ours: "cache-large-lz4",
        against: "cache-large",
    },
];

/// Instructions per run of `variant`, on the calling thread, lowest of [`REPEATS`].
fn per_run(variant: &str) -> Result<f64> {
    let count = per_iteration(
        &example(EXAMPLE),
        &[variant],
        &["profile_collectors::run"],
        LENGTHS,
        REPEATS,
    )
    .map_err(|e| format!("{variant}: {e}"))?;
    if count > 0.0 {
        Ok(count)
    } else {
        Err(format!(
            "{variant}: {count:.0} instructions per run (the longer run counted no more than the shorter)"
        ))
    }
}

/// `cargo xtask gate --collectors`.
pub(crate) fn collectors() -> Result {
    crate::ensure_valgrind()?;
    crate::ensure_redis()?;
    build_examples(&[EXAMPLE])?;
    let started = std::time::Instant::now();
    let mut table = format!(
        "{:<25} {:<16} {:>12} {:<15} {:>12} {:>7}\n",
        "pair", "ours", "instr/run", "against", "instr/run", "ratio"
    );
    for pair in PAIRS {
        let ours = per_run(pair.ours)?;
        let against = per_run(pair.against)?;
        eprintln!("    {}: {ours:.0} / {against:.0}", pair.name);
        let _ = writeln!(
            table,
            "{:<25} {:<16} {ours:>12.0} {:<15} {against:>12.0} {:>6.2}x",
            pair.name,
            pair.ours,
            pair.against,
            ours / against
        );
    }
    print!("{table}");
    println!(
        "callgrind instructions per run on the calling thread (lowest of {REPEATS} per run length, runs {}..{}), measured in {:.0}s",
        LENGTHS.0,
        LENGTHS.1,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
