//! Fuzzing: the cargo-fuzz targets under `fuzz/` (libFuzzer, the nightly toolchain; the
//! product itself builds on stable), one per parser of untrusted input, each asserting
//! properties of what it accepts. Corpora live in `fuzz/corpus/<target>/` (in the
//! repository: every run starts from what earlier runs found); crashes are written to
//! `fuzz/artifacts/<target>/`.
//!
//! Built without a sanitizer (`-s none`) and with debug assertions (`-a`): the targets and
//! the code they reach are safe Rust, so AddressSanitizer would only slow them down, while
//! overflow checks and the targets' assertions are what can fail.

use crate::{Result, run, succeeds};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// Every target, as named in `fuzz/Cargo.toml`.
pub(crate) const TARGETS: [&str; 11] = [
    "traceparent",
    "tracestate",
    "baggage",
    "datadog_headers",
    "b3",
    "request_id",
    "sql_sanitizer",
    "redis_masker",
    "resp_decoding",
    "rum_beacon",
    "config_env",
];

const CARGO_FUZZ_VERSION: &str = "0.13.2";

fn root() -> PathBuf {
    let xtask = Path::new(env!("CARGO_MANIFEST_DIR"));
    xtask.parent().unwrap_or(xtask).to_path_buf()
}

/// `cargo` of the nightly toolchain (through rustup), without the variables the stable
/// `cargo` running xtask set.
fn nightly_cargo() -> Command {
    let mut command = Command::new("rustup");
    command
        .args(["run", "nightly", "cargo"])
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("RUSTC")
        .env_remove("RUSTDOC")
        .env_remove("CARGO")
        .current_dir(root());
    command
}

/// Whether the nightly toolchain is installed.
pub(crate) fn nightly_present() -> bool {
    succeeds("rustup", &["run", "nightly", "rustc", "--version"])
}

/// Installs cargo-fuzz when it is missing.
pub(crate) fn ensure_cargo_fuzz() -> Result {
    if nightly_cargo()
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
    {
        return Ok(());
    }
    run(
        &format!("install cargo-fuzz {CARGO_FUZZ_VERSION}"),
        crate::cargo().args([
            "install",
            "cargo-fuzz",
            "--version",
            CARGO_FUZZ_VERSION,
            "--locked",
        ]),
    )
}

/// What one target's run did.
#[derive(Debug, Clone)]
pub(crate) struct FuzzRun {
    pub(crate) target: &'static str,
    pub(crate) executions: u64,
    pub(crate) seconds: f64,
    pub(crate) corpus_files: usize,
    pub(crate) corpus_bytes: u64,
}

fn corpus_dir(target: &str) -> PathBuf {
    root().join("fuzz/corpus").join(target)
}

fn corpus_size(dir: &Path) -> (usize, u64) {
    std::fs::read_dir(dir).map_or((0, 0), |entries| {
        entries.flatten().fold((0, 0), |(files, bytes), entry| {
            (files + 1, bytes + entry.metadata().map_or(0, |m| m.len()))
        })
    })
}

/// Builds every target once.
pub(crate) fn build() -> Result {
    run(
        "build the fuzz targets (nightly, cargo-fuzz)",
        nightly_cargo().args(["fuzz", "build", "-s", "none", "-a"]),
    )
}

/// Runs `target` until `runs` executions or `seconds` passed, from and into its corpus;
/// fails on a crash (the input is kept in `fuzz/artifacts/<target>/`).
pub(crate) fn run_target(target: &'static str, runs: u64, seconds: u64) -> Result<FuzzRun> {
    let corpus = corpus_dir(target);
    std::fs::create_dir_all(&corpus).map_err(|e| format!("{}: {e}", corpus.display()))?;
    let started = Instant::now();
    let output = nightly_cargo()
        .args(["fuzz", "run", "-s", "none", "-a", target])
        .arg(&corpus)
        .args([
            "--".to_owned(),
            format!("-runs={runs}"),
            format!("-max_total_time={seconds}"),
            "-print_final_stats=1".to_owned(),
            "-close_fd_mask=1".to_owned(),
        ])
        .stdout(Stdio::inherit())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("fuzz {target}: cannot start: {e}"))?;
    let log = String::from_utf8_lossy(&output.stderr);
    let seconds = started.elapsed().as_secs_f64();
    if !output.status.success() {
        eprintln!("{log}");
        return Err(format!(
            "fuzz target {target} failed ({}): the input is in fuzz/artifacts/{target}/",
            output.status
        ));
    }
    let executions = log
        .lines()
        .find_map(|line| line.strip_prefix("stat::number_of_executed_units:"))
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| format!("fuzz {target}: no execution count in its output:\n{log}"))?;
    let (corpus_files, corpus_bytes) = corpus_size(&corpus);
    let result = FuzzRun {
        target,
        executions,
        seconds,
        corpus_files,
        corpus_bytes,
    };
    eprintln!(
        "fuzz {target:<16} {executions:>10} executions in {seconds:>6.1} s, 0 crashes, corpus {corpus_files} files ({corpus_bytes} B)"
    );
    Ok(result)
}

/// Every target for a few seconds: what the test command runs when nightly is present.
pub(crate) fn smoke(seconds: u64) -> Result {
    ensure_cargo_fuzz()?;
    build()?;
    for target in TARGETS {
        run_target(target, u64::MAX / 2, seconds)?;
    }
    Ok(())
}

/// `cargo xtask fuzz [--runs N] [--seconds S] [TARGET…]`: each target (all by default)
/// until N executions (default 2,000,000) or S seconds (default 600), then its corpus
/// minimized; prints a table.
pub(crate) fn fuzz(args: &[String]) -> Result {
    let mut runs = 2_000_000u64;
    let mut seconds = 600u64;
    let mut targets = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runs" => runs = parse_number(args.next(), "--runs")?,
            "--seconds" => seconds = parse_number(args.next(), "--seconds")?,
            name => targets.push(TARGETS.into_iter().find(|t| *t == name).ok_or_else(|| {
                format!("no fuzz target {name}; targets: {}", TARGETS.join(", "))
            })?),
        }
    }
    if targets.is_empty() {
        targets = TARGETS.to_vec();
    }
    if !nightly_present() {
        return Err(
            "fuzzing needs the nightly toolchain (rustup toolchain install nightly)".into(),
        );
    }
    ensure_cargo_fuzz()?;
    build()?;
    let mut results = Vec::new();
    for target in targets {
        let mut result = run_target(target, runs, seconds)?;
        minimize(target)?;
        (result.corpus_files, result.corpus_bytes) = corpus_size(&corpus_dir(target));
        results.push(result);
    }
    print_table(&results);
    Ok(())
}

/// Keeps the smallest set of inputs that covers what the corpus covers (the corpus is in
/// the repository).
fn minimize(target: &str) -> Result {
    run(
        &format!("minimize the {target} corpus"),
        nightly_cargo()
            .args(["fuzz", "cmin", "-s", "none", "-a", target])
            .arg(corpus_dir(target))
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
}

fn parse_number(value: Option<&String>, flag: &str) -> Result<u64> {
    value
        .and_then(|v| v.replace('_', "").parse().ok())
        .ok_or_else(|| format!("{flag} needs a number"))
}

/// The runs as a Markdown table (the README's fuzzing table takes its rows).
pub(crate) fn print_table(results: &[FuzzRun]) {
    println!("| target | executions | seconds | crashes | corpus |");
    println!("|---|---:|---:|---:|---:|");
    for r in results {
        println!(
            "| `{}` | {} | {:.0} | 0 | {} files, {} B |",
            r.target, r.executions, r.seconds, r.corpus_files, r.corpus_bytes
        );
    }
}
