//! The performance regression gate: instruction counts under callgrind (which do not
//! depend on the machine's load) and heap allocations per request, checked against the
//! recorded values in `benches/gate.toml`. `cargo xtask gate` measures and fails with a
//! table when a scenario exceeds its recorded value by more than its margin;
//! `cargo xtask gate --record` measures and rewrites the recorded values (for an
//! intentional change: the commit then shows the new numbers), keeping each scenario's
//! margin and goal as the file has them.
//!
//! Our own harness on the profiling examples of `sdk-benches` rather than a callgrind
//! benchmark crate (`gungraun`): the examples already run the production paths (real
//! Redis, SQLite, the batch queue on its own thread), `--toggle-collect` limits the count
//! to the calling thread's path (a benchmark crate counts a whole function, worker threads
//! excluded only by its own rules), two run lengths cancel setup out, and no runner binary
//! has to match a library version.
//!
//! Determinism: the CPU-only kernels count the same to the instruction run after run. The
//! paths that cross threads (the batch queue's worker frees exported spans, so glibc's
//! allocator takes a slightly different path now and then; SQLite's worker thread; Redis
//! on a socket) show a few discrete higher levels: each run length is measured
//! [`REPEATS`] times and the lowest count kept, which is the undisturbed path.
//!
//! `cargo xtask gate --collectors` ([`collectors`]) uses the same harness for a
//! measurement, not a gate: instructions per run of each background collector (process
//! metrics, Redis `INFO`, the HTTP probe, cache reads) against what the `collectors`
//! benchmark compares it with, printed as a table; nothing recorded, nothing checked, not
//! part of `cargo xtask test`.

mod collectors;

pub(crate) use collectors::collectors;

use super::{Result, run};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;

/// Where the recorded values live.
const LIMITS: &str = "benches/gate.toml";

/// Runs per run length of a scenario that crosses threads; the lowest count is kept.
const REPEATS: usize = 3;

/// How a scenario is measured.
enum Measure {
    /// Instructions per iteration of `example VARIANT N` counted inside `toggles`, minus
    /// the same for the `baseline` variant when given, divided by `per`.
    Instructions {
        example: &'static str,
        variant: &'static str,
        baseline: Option<&'static str>,
        toggles: &'static [&'static str],
        lengths: (u64, u64),
        /// Measured [`REPEATS`] times (the path crosses threads).
        repeated: bool,
        per: f64,
    },
    /// Allocations per request printed by `alloc_layer full`, minus `alloc_layer bare`'s.
    Allocations,
}

/// How far a scenario may grow over its recorded value.
#[derive(Clone, Copy)]
enum Margin {
    Percent(f64),
    Absolute(f64),
}

struct Scenario {
    name: &'static str,
    what: &'static str,
    measure: Measure,
    /// Written by `--record` when the file has no margin for the scenario yet.
    margin: Margin,
    /// Written by `--record` when the file has no goal for the scenario yet.
    goal: Option<f64>,
}

/// 3 %: the CPU-only kernels repeat to the instruction, and the paths that cross threads
/// stay within 0.5 % over three runs of the gate (lowest of three runs per length), so a
/// change has to add about 3 % of the path before it fails, never noise.
const INSTRUCTIONS: Margin = Margin::Percent(3.0);

/// 5 % for the Redis wrapper: its added count is the difference of two socket-bound paths
/// (about 13 k and 20 k instructions per command), each of which moves by up to 0.4 %
/// between runs, so the difference moves by up to about 1.5 % (lowest of three runs).
const WRAPPER: Margin = Margin::Percent(5.0);

const fn layer(name: &'static str, variant: &'static str, what: &'static str) -> Scenario {
    Scenario {
        name,
        what,
        measure: Measure::Instructions {
            example: "profile_layer",
            variant,
            baseline: Some("bare"),
            toggles: &["profile_layer::drive"],
            lengths: (1_000, 5_000),
            repeated: true,
            per: 1.0,
        },
        margin: INSTRUCTIONS,
        goal: None,
    }
}

const fn kernel(
    name: &'static str,
    variant: &'static str,
    what: &'static str,
    lengths: (u64, u64),
    per: f64,
) -> Scenario {
    Scenario {
        name,
        what,
        measure: Measure::Instructions {
            example: "profile_kernels",
            variant,
            baseline: None,
            toggles: &["profile_kernels::run"],
            lengths,
            repeated: false,
            per,
        },
        margin: INSTRUCTIONS,
        goal: None,
    }
}

const SCENARIOS: &[Scenario] = &[
    layer(
        "server-full",
        "full",
        "sdk-tower full layer: instructions per request added over the bare axum router",
    ),
    layer(
        "server-metrics",
        "metrics",
        "sdk-tower metrics only: instructions per request added over the bare router",
    ),
    layer(
        "server-traces",
        "traces",
        "sdk-tower traces only: instructions per request added over the bare router",
    ),
    Scenario {
        name: "redis-get",
        what: "Redis GET on loopback: instructions added by InstrumentedConnection over plain redis-rs (calling thread)",
        measure: Measure::Instructions {
            example: "profile_redis",
            variant: "instrumented",
            baseline: Some("plain"),
            toggles: &["profile_redis::command"],
            lengths: (200, 1_000),
            repeated: true,
            per: 1.0,
        },
        margin: WRAPPER,
        goal: None,
    },
    Scenario {
        name: "sqlx-query",
        what: "SQLite `SELECT ? + 1` through InstrumentedPool: the wrapper's own work per query (span start with the statement lookup, finish with the metrics, span close, connection wrapper)",
        measure: Measure::Instructions {
            example: "profile_sqlx",
            variant: "instrumented",
            baseline: None,
            // The calling thread's whole path (as for Redis) is not repeatable here: it
            // waits on SQLite's worker thread, and how often it polls before the answer
            // depends on how valgrind schedules the two threads (seen: +3 % to +70 % on a
            // loaded machine). The wrapper's own functions count the same every run.
            toggles: &[
                "sdk_sqlx::query::QueryRun::start",
                "sdk_sqlx::query::QueryRun::finish",
                "core::ptr::drop_in_place<tracing::span::Span>",
                "<sdk_sqlx::connection::InstrumentedConnection<DB> as core::ops::drop::Drop>::drop",
            ],
            lengths: (200, 2_200),
            repeated: true,
            per: 1.0,
        },
        margin: INSTRUCTIONS,
        goal: None,
    },
    kernel(
        "propagation",
        "propagation",
        "extract + inject of W3C traceparent/tracestate + baggage, Datadog, B3, B3 multi (one round of each)",
        (1_000, 5_000),
        1.0,
    ),
    kernel(
        "encode-datadog",
        "datadog",
        "Datadog v0.4 msgpack payload, instructions per span (512-span batches)",
        (5, 25),
        512.0,
    ),
    kernel(
        "encode-otlp",
        "otlp",
        "OTLP protobuf request, instructions per span (512-span batches)",
        (5, 25),
        512.0,
    ),
    kernel(
        "sanitize",
        "sanitize",
        "SQL sanitizer over the 7-statement corpus (752 bytes), uncached",
        (200, 1_000),
        1.0,
    ),
    Scenario {
        name: "server-allocations",
        what: "heap allocations per request added by the full layer over the bare router (steady state)",
        measure: Measure::Allocations,
        // Counted exactly (the same to the last digit run after run); the fraction is
        // amortized growth (a histogram bucket block every few requests). One more
        // allocation per request adds 1.0: 0.1 catches it, and anything that allocates
        // once every ten requests, without failing on rounding.
        margin: Margin::Absolute(0.1),
        goal: Some(2.0),
    },
];

fn root() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn target_dir() -> String {
    std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| root().join("target").display().to_string())
}

/// Builds `sdk-benches` examples with the bench profile.
pub(crate) fn build_examples(names: &[&str]) -> Result {
    let mut command = super::cargo();
    command
        .current_dir(root())
        .args(["build", "--profile", "bench", "--package", "sdk-benches"]);
    for name in names {
        command.args(["--example", name]);
    }
    run(&format!("build {}", names.join(", ")), &mut command)
}

/// The path of a built example.
pub(crate) fn example(name: &str) -> String {
    format!("{}/release/examples/{name}", target_dir())
}

/// Instructions one run of `binary ARGS` executes, counted inside `toggles` (all of the
/// program when empty).
pub(crate) fn instructions(binary: &str, args: &[String], toggles: &[&str]) -> Result<u64> {
    let mut valgrind = Command::new("valgrind");
    valgrind.args(["--tool=callgrind", "--callgrind-out-file=/dev/null"]);
    for function in toggles {
        valgrind.arg(format!("--toggle-collect={function}"));
    }
    let output = valgrind
        .arg(binary)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run valgrind ({e}): apt-get install -y valgrind"))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(format!("{binary} {args:?} failed under valgrind: {stderr}"));
    }
    let collected: u64 = stderr
        .lines()
        .find_map(|line| line.split("Collected :").nth(1))
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| format!("no instruction count from valgrind for {binary}: {stderr}"))?;
    if collected == 0 && !toggles.is_empty() {
        return Err(format!(
            "{binary}: nothing counted inside {toggles:?} (a function renamed or inlined?)"
        ));
    }
    Ok(collected)
}

/// Instructions per iteration of `binary ARGS N`, from two run lengths so that setup cost
/// cancels out; each length runs `repeats` times and its lowest count is kept.
pub(crate) fn per_iteration(
    binary: &str,
    args: &[&str],
    toggles: &[&str],
    (short, long): (u64, u64),
    repeats: usize,
) -> Result<f64> {
    let lowest = |n: u64| -> Result<u64> {
        let mut all: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        all.push(n.to_string());
        let mut lowest = u64::MAX;
        for _ in 0..repeats.max(1) {
            lowest = lowest.min(instructions(binary, &all, toggles)?);
        }
        Ok(lowest)
    };
    let a = lowest(short)?;
    let b = lowest(long)?;
    Ok((b as f64 - a as f64) / (long - short) as f64)
}

fn allocations(variant: &str) -> Result<f64> {
    let binary = example("alloc_layer");
    let output = Command::new(&binary)
        .args([variant, "2000"])
        .output()
        .map_err(|e| format!("{binary}: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("no allocation count from {binary} {variant}: {stdout}"))
}

/// One scenario's result: its value, and the baseline variant (with its own count) it is
/// added to.
struct Measured {
    value: f64,
    over: Option<(&'static str, f64)>,
}

/// Measures scenarios, measuring a shared baseline (the bare router) once.
#[derive(Default)]
struct Bench {
    done: HashMap<(&'static str, &'static str), f64>,
}

impl Bench {
    fn per_iteration(
        &mut self,
        example_name: &'static str,
        variant: &'static str,
        toggles: &[&str],
        lengths: (u64, u64),
        repeats: usize,
    ) -> Result<f64> {
        if let Some(value) = self.done.get(&(example_name, variant)) {
            return Ok(*value);
        }
        let value = per_iteration(
            &example(example_name),
            &[variant],
            toggles,
            lengths,
            repeats,
        )?;
        self.done.insert((example_name, variant), value);
        Ok(value)
    }

    fn measure(&mut self, scenario: &Scenario) -> Result<Measured> {
        match scenario.measure {
            Measure::Instructions {
                example,
                variant,
                baseline,
                toggles,
                lengths,
                repeated,
                per,
            } => {
                let repeats = if repeated { REPEATS } else { 1 };
                let value = self.per_iteration(example, variant, toggles, lengths, repeats)?;
                let over = match baseline {
                    Some(baseline) => Some((
                        baseline,
                        self.per_iteration(example, baseline, toggles, lengths, repeats)?,
                    )),
                    None => None,
                };
                Ok(Measured {
                    value: (value - over.map_or(0.0, |o| o.1)) / per,
                    over,
                })
            }
            Measure::Allocations => {
                let bare = allocations("bare")?;
                Ok(Measured {
                    value: allocations("full")? - bare,
                    over: Some(("bare", bare)),
                })
            }
        }
    }
}

/// One scenario in `benches/gate.toml`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Limit {
    /// The value `--record` measured.
    recorded: f64,
    /// Allowed growth in percent of `recorded`…
    margin_percent: Option<f64>,
    /// … or in the scenario's unit.
    margin_absolute: Option<f64>,
    /// Where we want the scenario to be (printed beside the limit, not checked).
    goal: Option<f64>,
}

impl Limit {
    fn margin(&self, name: &str) -> Result<Margin> {
        match (self.margin_percent, self.margin_absolute) {
            (Some(p), None) => Ok(Margin::Percent(p)),
            (None, Some(a)) => Ok(Margin::Absolute(a)),
            _ => Err(format!(
                "{LIMITS}: [{name}] needs exactly one of margin_percent, margin_absolute"
            )),
        }
    }
}

fn read_limits() -> Result<BTreeMap<String, Limit>> {
    let path = root().join(LIMITS);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("{LIMITS}: {e}"))
}

fn limit_of(recorded: f64, margin: Margin) -> f64 {
    match margin {
        Margin::Percent(p) => recorded * (1.0 + p / 100.0),
        Margin::Absolute(a) => recorded + a,
    }
}

/// Rewrites the limits file with the measured values, keeping the margins and goals the
/// file already has.
fn write_limits(measured: &[(&Scenario, Measured)]) -> Result {
    let old = read_limits().unwrap_or_default();
    let mut text = String::from(
        "# The performance gate's recorded values, written by `cargo xtask gate --record` and\n\
         # checked by `cargo xtask gate` (part of `cargo xtask test`). Instructions are callgrind\n\
         # counts (see xtask/src/gate.rs for how each is measured); a scenario fails when it is\n\
         # over `recorded` by more than its margin. Margins and goals are kept on re-recording:\n\
         # edit them here.\n",
    );
    for (scenario, m) in measured {
        let previous = old.get(scenario.name);
        let margin = previous
            .and_then(|l| l.margin(scenario.name).ok())
            .unwrap_or(scenario.margin);
        let goal = previous.map_or(scenario.goal, |l| l.goal);
        let _ = write!(
            text,
            "\n# {}\n[{}]\nrecorded = {:.2}\n",
            scenario.what, scenario.name, m.value
        );
        let _ = match margin {
            Margin::Percent(p) => writeln!(text, "margin_percent = {p:?}"),
            Margin::Absolute(a) => writeln!(text, "margin_absolute = {a:?}"),
        };
        if let Some(goal) = goal {
            let _ = writeln!(text, "goal = {goal:?}");
        }
    }
    let path = root().join(LIMITS);
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// `cargo xtask gate [--record]`.
pub(crate) fn gate(args: &[String]) -> Result {
    let record = args.iter().any(|a| a == "--record");
    super::ensure_valgrind()?;
    // profile_sqlx opens its PostgreSQL pools too; profile_redis needs Redis.
    super::ensure_postgres()?;
    super::ensure_redis()?;
    build_examples(&[
        "profile_layer",
        "profile_redis",
        "profile_sqlx",
        "profile_kernels",
        "alloc_layer",
    ])?;
    let started = std::time::Instant::now();
    let mut bench = Bench::default();
    let mut measured = Vec::new();
    for scenario in SCENARIOS {
        let m = bench
            .measure(scenario)
            .map_err(|e| format!("{}: {e}", scenario.name))?;
        eprintln!("    {}: {:.2}", scenario.name, m.value);
        measured.push((scenario, m));
    }
    let seconds = started.elapsed().as_secs_f64();
    if record {
        write_limits(&measured)?;
        println!(
            "recorded {} scenarios in {LIMITS} (measured in {seconds:.0}s)",
            measured.len()
        );
        return Ok(());
    }
    let limits = read_limits()?;
    let (table, failed) = check(&measured, &limits)?;
    print!("{table}");
    println!("gate measured in {seconds:.0}s");
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "performance gate: {} (after an intended change: cargo xtask gate --record)",
            failed.join("; ")
        ))
    }
}

/// The table of every scenario against its limit, and the scenarios over it.
fn check(
    measured: &[(&Scenario, Measured)],
    limits: &BTreeMap<String, Limit>,
) -> Result<(String, Vec<String>)> {
    let mut table = format!(
        "{:<19} {:>10} {:>10} {:>10} {:>7} {:>6}  {:<5} what\n",
        "scenario", "baseline", "measured", "limit", "delta", "goal", ""
    );
    let mut failed = Vec::new();
    for (scenario, m) in measured {
        let Some(limit) = limits.get(scenario.name) else {
            failed.push(format!(
                "{} has no recorded value in {LIMITS}",
                scenario.name
            ));
            continue;
        };
        let recorded = limit.recorded;
        let ceiling = limit_of(recorded, limit.margin(scenario.name)?);
        let value = m.value;
        let delta = (value - recorded) / recorded.abs().max(f64::EPSILON) * 100.0;
        let over = value > ceiling;
        let goal = limit.goal.map(|g| format!("{g}")).unwrap_or_default();
        let reference = m.over.map_or(String::new(), |(variant, own)| {
            format!(" ({variant}: {own:.0}, so +{:.0} %)", value / own * 100.0)
        });
        let _ = writeln!(
            table,
            "{:<19} {recorded:>10.2} {value:>10.2} {ceiling:>10.2} {delta:>+6.1}% {goal:>6}  {:<5} {}{reference}",
            scenario.name,
            if over { "OVER" } else { "ok" },
            scenario.what,
        );
        if over {
            failed.push(format!(
                "{} {value:.2} > limit {ceiling:.2} ({delta:+.1}%)",
                scenario.name
            ));
        }
    }
    Ok((table, failed))
}
