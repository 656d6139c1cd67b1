//! The performance regression gate: instruction counts under callgrind (which do not
//! depend on the machine's load) and heap allocations per request, checked against the
//! recorded values in `benches/gate.txt`. `cargo xtask gate` measures and fails with a
//! table when a scenario exceeds its recorded value by more than its margin;
//! `cargo xtask gate --record` measures and rewrites the recorded values (for an
//! intentional change: the commit then shows the new numbers).
//!
//! Our own harness on the profiling examples of `sdk-benches` rather than a callgrind
//! benchmark crate: the examples already run the production paths (real Redis, SQLite,
//! the batch queue), `--toggle-collect` limits the count to the code under test, and two
//! run lengths cancel the setup out.

use super::{Result, run};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;

/// Where the recorded values live.
const LIMITS: &str = "benches/gate.txt";

/// How a scenario is measured.
enum Measure {
    /// Instructions per iteration of `example ARGS N` counted inside `toggles`, minus the
    /// same for `baseline` (another first argument) when given, divided by `per`.
    Instructions {
        example: &'static str,
        args: &'static [&'static str],
        baseline: Option<&'static str>,
        toggles: &'static [&'static str],
        lengths: (u64, u64),
        per: f64,
    },
    /// Allocations per request printed by `alloc_layer VARIANT`, minus the bare router's.
    Allocations,
}

struct Scenario {
    name: &'static str,
    what: &'static str,
    measure: Measure,
    /// Allowed growth over the recorded value written by `--record`, in percent
    /// (allocations: absolute); the check reads it back from the file.
    margin: f64,
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "server.full",
        what: "sdk-tower full layer, added instructions per request over the bare router",
        measure: Measure::Instructions {
            example: "profile_layer",
            args: &["full"],
            baseline: Some("bare"),
            toggles: &["profile_layer::drive"],
            lengths: (1_000, 5_000),
            per: 1.0,
        },
        margin: 3.0,
    },
    Scenario {
        name: "server.metrics",
        what: "sdk-tower metrics only, added instructions per request",
        measure: Measure::Instructions {
            example: "profile_layer",
            args: &["metrics"],
            baseline: Some("bare"),
            toggles: &["profile_layer::drive"],
            lengths: (1_000, 5_000),
            per: 1.0,
        },
        margin: 3.0,
    },
    Scenario {
        name: "redis.get",
        what: "sdk-redis per GET: span, masked text, metrics, hit/miss (start + finish)",
        measure: Measure::Instructions {
            example: "profile_redis",
            args: &["instrumented"],
            baseline: None,
            toggles: &[
                "sdk_redis::run::CommandRun::start",
                "sdk_redis::run::CommandRun::finish",
            ],
            lengths: (500, 2_500),
            per: 1.0,
        },
        margin: 3.0,
    },
    Scenario {
        name: "sqlx.query",
        what: "sdk-sqlx per SQLite query: statement lookup, span start, metrics (start + finish)",
        measure: Measure::Instructions {
            example: "profile_sqlx",
            args: &["instrumented"],
            baseline: None,
            toggles: &[
                "sdk_sqlx::query::QueryRun::start",
                "sdk_sqlx::query::QueryRun::finish",
            ],
            lengths: (300, 1_500),
            per: 1.0,
        },
        margin: 3.0,
    },
    Scenario {
        name: "propagation",
        what: "extract + inject of W3C+baggage, Datadog, B3 and B3 multi headers (one round)",
        measure: Measure::Instructions {
            example: "profile_kernels",
            args: &["propagation"],
            baseline: None,
            toggles: &["profile_kernels::run"],
            lengths: (1_000, 5_000),
            per: 1.0,
        },
        margin: 3.0,
    },
    Scenario {
        name: "encode.datadog",
        what: "Datadog v0.4 payload, per span (512-span batches)",
        measure: Measure::Instructions {
            example: "profile_kernels",
            args: &["datadog"],
            baseline: None,
            toggles: &["profile_kernels::run"],
            lengths: (5, 25),
            per: 512.0,
        },
        margin: 3.0,
    },
    Scenario {
        name: "encode.otlp",
        what: "OTLP protobuf request, per span (512-span batches)",
        measure: Measure::Instructions {
            example: "profile_kernels",
            args: &["otlp"],
            baseline: None,
            toggles: &["profile_kernels::run"],
            lengths: (5, 25),
            per: 512.0,
        },
        margin: 3.0,
    },
    Scenario {
        name: "sanitize",
        what: "SQL sanitizer, 7-statement corpus (752 bytes), uncached",
        measure: Measure::Instructions {
            example: "profile_kernels",
            args: &["sanitize"],
            baseline: None,
            toggles: &["profile_kernels::run"],
            lengths: (200, 1_000),
            per: 1.0,
        },
        margin: 3.0,
    },
    Scenario {
        name: "server.allocations",
        what: "heap allocations per request added by the full layer (goal: 2)",
        measure: Measure::Allocations,
        margin: 0.25,
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
/// cancels out.
pub(crate) fn per_iteration(
    binary: &str,
    args: &[&str],
    toggles: &[&str],
    (short, long): (u64, u64),
) -> Result<f64> {
    let with = |n: u64| {
        let mut all: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        all.push(n.to_string());
        instructions(binary, &all, toggles)
    };
    let a = with(short)?;
    let b = with(long)?;
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

fn measure(scenario: &Scenario) -> Result<f64> {
    match &scenario.measure {
        Measure::Instructions {
            example: name,
            args,
            baseline,
            toggles,
            lengths,
            per,
        } => {
            let binary = example(name);
            let mut value = per_iteration(&binary, args, toggles, *lengths)?;
            if let Some(baseline) = baseline {
                value -= per_iteration(&binary, &[baseline], toggles, *lengths)?;
            }
            Ok(value / per)
        }
        Measure::Allocations => Ok(allocations("full")? - allocations("bare")?),
    }
}

/// Recorded values and margins by scenario name.
fn read_limits() -> Result<Vec<(String, f64, f64)>> {
    let path = root().join(LIMITS);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let mut fields = line.split_whitespace();
            let name = fields.next().unwrap_or_default().to_owned();
            let value = fields
                .next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{LIMITS}: no recorded value in `{line}`"))?;
            let margin = fields
                .next()
                .and_then(|m| m.parse().ok())
                .ok_or_else(|| format!("{LIMITS}: no margin in `{line}`"))?;
            Ok((name, value, margin))
        })
        .collect()
}

fn write_limits(measured: &[(&Scenario, f64)]) -> Result {
    let mut text = String::from(
        "# Recorded by `cargo xtask gate --record`; checked by `cargo xtask gate` (part of\n\
         # `cargo xtask test`). Instructions are callgrind counts; a scenario fails when it\n\
         # grows past its margin (percent; allocations: absolute).\n\
         # scenario             recorded    margin\n",
    );
    for (scenario, value) in measured {
        let _ = writeln!(
            text,
            "{:<22} {value:>10.1}    {}",
            scenario.name, scenario.margin
        );
    }
    let path = root().join(LIMITS);
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
}

fn limit_of(scenario: &Scenario, recorded: f64, margin: f64) -> f64 {
    match scenario.measure {
        Measure::Allocations => recorded + margin,
        Measure::Instructions { .. } => recorded * (1.0 + margin / 100.0),
    }
}

/// `cargo xtask gate [--record]`.
pub(crate) fn gate(args: &[String]) -> Result {
    let record = args.iter().any(|a| a == "--record");
    super::ensure_valgrind()?;
    build_examples(&[
        "profile_layer",
        "profile_redis",
        "profile_sqlx",
        "profile_kernels",
        "alloc_layer",
    ])?;
    let started = std::time::Instant::now();
    let mut measured = Vec::new();
    for scenario in SCENARIOS {
        let value = measure(scenario).map_err(|e| format!("{}: {e}", scenario.name))?;
        eprintln!("    {}: {value:.1}", scenario.name);
        measured.push((scenario, value));
    }
    if record {
        write_limits(&measured)?;
        println!("recorded {} scenarios in {LIMITS}", measured.len());
        return Ok(());
    }
    let limits = read_limits()?;
    let mut table = format!(
        "{:<20} {:>10} {:>10} {:>10} {:>8}  what\n",
        "scenario", "recorded", "measured", "limit", "delta"
    );
    let mut failed = Vec::new();
    for (scenario, value) in &measured {
        let Some((recorded, margin)) = limits
            .iter()
            .find(|(name, ..)| name == scenario.name)
            .map(|l| (l.1, l.2))
        else {
            failed.push(format!("{} has no recorded value", scenario.name));
            continue;
        };
        let limit = limit_of(scenario, recorded, margin);
        let delta = (value - recorded) / recorded.abs().max(f64::EPSILON) * 100.0;
        let verdict = if *value > limit { "  OVER" } else { "" };
        let _ = writeln!(
            table,
            "{:<20} {recorded:>10.1} {value:>10.1} {limit:>10.1} {delta:>+7.1}%  {}{verdict}",
            scenario.name, scenario.what
        );
        if *value > limit {
            failed.push(format!("{} grew {delta:+.1}%", scenario.name));
        }
    }
    print!("{table}");
    println!("gate measured in {:.0}s", started.elapsed().as_secs_f64());
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "performance gate: {} (after an intended change: cargo xtask gate --record)",
            failed.join("; ")
        ))
    }
}
