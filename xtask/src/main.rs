//! Workspace automation, run as `cargo xtask <command>`:
//!
//! - `demo [ARGS]`: builds the browser module, then runs the demo service (`--addr
//!   HOST:PORT`, default `127.0.0.1:3000`; open `/app` in a browser);
//! - `test`: everything CI runs: installs the real peers the tests need (`promtool`,
//!   Prometheus and Alertmanager, the load generator oha, the
//!   Datadog test agent in a virtualenv, the wasm32 target, binaryen and esbuild from npm,
//!   Chromium and ChromeDriver), then format check, clippy with `-D warnings` (also for
//!   wasm32), the wasm32 build of sdk-core, the browser bundle and its size budget,
//!   feature-combination checks, every test
//!   (the demo's end-to-end browser scenarios included) and doctest, a few seconds of
//!   every fuzz target (when the nightly toolchain is installed), a one-iteration
//!   run of every benchmark, rustdoc of the library crates with warnings as errors, and
//!   the performance gate (`gate`, below);
//! - `fuzz [--runs N] [--seconds S] [TARGET…]`: the cargo-fuzz targets under `fuzz/`
//!   (nightly), each until N executions (default 2,000,000) or S seconds, with a table of
//!   executions and corpus sizes; the test command runs each for a few seconds when the
//!   nightly toolchain is installed;
//! - `drill [--scenario outage|slow|throttle|all] [--fault-seconds N] [--fuzz-runs N]`: the
//!   long reliability drills (`drill.rs`): the demo under load while its collector and
//!   Datadog agent are down, slow or throttling, with the figures each one is held to,
//!   then every fuzz target to N executions;
//! - `wasm`: builds the optimized browser bundle into `sdk-wasm-rum/pkg/`, prints its raw,
//!   gzip and brotli sizes and fails over the budget;
//! - `bench [ARGS]`: the criterion benchmarks (arguments go to criterion);
//! - `docs`: regenerates `docs/metrics.md` from the metric catalogue;
//! - `ops`: regenerates the demo's rules, SLO recordings, anomaly bands, their promtool
//!   tests and dashboards in `examples/ops/` from `examples/ops/spec.yaml`;
//! - `load [--scenario baseline|spike|soak|all|hello] [--seconds N] [--rate R] [--sdk
//!   on|off|both]`: the demo under oha (installed when missing) at a fixed rate, SDK on and
//!   off: steady baseline (with Prometheus' p95 against the generator's), a 10× spike and
//!   its recovery time, a 10-minute soak and its RSS growth; JSON and an HTML page with
//!   plots under `target/load/`. `hello` is the bare vs instrumented hello-world under `wrk`;
//! - `peers`: installs, starts and configures the test peers (PostgreSQL with
//!   `pg_stat_statements`, Redis, promtool, the Datadog test agent) without running tests;
//! - `profile`: instructions per request of each server-layer variant under callgrind
//!   (independent of the machine's load), with the ratios the benchmark reports;
//! - `gate [--record]`: the performance regression gate (`gate.rs`): callgrind instruction
//!   counts of the server layer over the bare router (full, metrics, traces), a Redis GET
//!   over plain redis-rs, the sqlx wrapper's own work per query, propagation, span
//!   encoding and the SQL sanitizer, and heap allocations per request, against
//!   `benches/gate.toml` (3 % for instructions, 5 % for the Redis difference, 0.1
//!   allocations); `--record` rewrites the recorded values and keeps margins and goals.
//!   `gate --collectors` is a measurement beside it, not part of `test`: callgrind
//!   instructions per run of each background collector (process metrics, Redis `INFO`, the
//!   HTTP probe, cache reads) against what the `collectors` benchmark compares it with,
//!   as a table with the ratios (`gate/collectors.rs`).

mod drill;
mod fuzz;
mod gate;
mod load;
mod wasm;

use std::process::{Command, ExitCode};
use std::time::Instant;

const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// Seconds each fuzz target runs in the test command (`cargo xtask fuzz` runs each for
/// millions of executions).
const FUZZ_SMOKE_SECONDS: u64 = 4;

/// sdk-core features checked one at a time on top of `--no-default-features`.
const CORE_FEATURES: [&str; 14] = [
    "tracing",
    "json-logs",
    "metrics",
    "prometheus",
    "prometheus-listener",
    "http",
    "export",
    "datadog",
    "otlp",
    "dogstatsd",
    "testing-otlp",
    "testing",
    "rum",
    "ops",
];

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let command = args.next().unwrap_or_default();
    let rest: Vec<String> = args.collect();
    let result = match command.as_str() {
        "demo" => demo(&rest),
        "test" => test(),
        "bench" => bench(&rest),
        "docs" => docs(),
        "ops" => run(
            "generate examples/ops",
            cargo()
                .args([
                    "run",
                    "--quiet",
                    "--package",
                    "demo",
                    "--bin",
                    "ops",
                    "--",
                    "generate",
                    "examples/ops/spec.yaml",
                    "examples/ops",
                ])
                .current_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")),
        ),
        "load" => load::load(&rest),
        "profile" => profile(),
        "gate" if rest.iter().any(|a| a == "--collectors") => {
            if rest.iter().any(|a| a == "--record") {
                Err("--collectors is a measurement: it has nothing to record".into())
            } else {
                gate::collectors()
            }
        }
        "gate" => gate::gate(&rest),
        "wasm" => wasm::bundle(),
        "fuzz" => fuzz::fuzz(&rest),
        "drill" => drill::drill(&rest),
        "peers" => ensure_postgres()
            .and_then(|()| ensure_redis())
            .and_then(|()| ensure_promtool())
            .and_then(|()| wasm::ensure_browser())
            .and_then(|()| wasm::ensure_wasm_tools())
            .and_then(|()| ensure_test_agent().map(|path| println!("DDAPM_TEST_AGENT={path}"))),
        _ => {
            eprintln!(
                "usage: cargo xtask <demo [--addr HOST:PORT] | test | bench [criterion args] | docs | ops | load [--scenario baseline|spike|soak|all|hello] [--seconds N] [--rate R] [--sdk on|off|both] | profile | gate [--record | --collectors] | wasm | fuzz [--runs N] [--seconds S] [TARGET…] | drill [--scenario outage|slow|throttle|all] [--fault-seconds N] [--fuzz-runs N] | peers>"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask {command}: {err}");
            ExitCode::FAILURE
        }
    }
}

type Result<T = ()> = std::result::Result<T, String>;

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

fn run(step: &str, command: &mut Command) -> Result {
    let started = Instant::now();
    eprintln!("==> {step}");
    let status = command
        .status()
        .map_err(|err| format!("{step}: cannot start: {err}"))?;
    eprintln!(
        "<== {step}: {status} in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    if status.success() {
        Ok(())
    } else {
        Err(format!("{step} failed ({status})"))
    }
}

fn succeeds(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn demo(args: &[String]) -> Result {
    // The page at /app loads the browser module; the service runs without it too, so it
    // is built and started at once while the module builds beside it (`/app` says so
    // until `pkg/` holds it).
    let bundle = std::thread::spawn(|| {
        if let Err(err) = wasm::bundle() {
            eprintln!("the browser module is not built ({err}); /app will not measure itself");
        }
    });
    let served = run(
        "demo",
        cargo()
            .args(["run", "--package", "demo", "--bin", "demo", "--"])
            .args(args),
    );
    let _ = bundle.join();
    served
}

fn profile() -> Result {
    ensure_valgrind()?;
    gate::build_examples(&["profile_layer", "profile_sqlx", "profile_redis"])?;
    let binary = gate::example("profile_layer");
    // Counted inside the request loop only: what a request costs on its own thread. Setup
    // outside it (the Prometheus recorder calibrates its clock by measuring) would add
    // hundreds of instructions of noise per request to the difference of the two runs.
    let per_request = |variant: &str| {
        gate::per_iteration(
            &binary,
            &[variant],
            &["profile_layer::drive"],
            (2_000, 12_000),
            1,
        )
    };
    let bare = per_request("bare")?;
    let variants = [
        ("metrics", "sdk-tower metrics only"),
        ("traces", "sdk-tower traces only"),
        ("full", "sdk-tower full"),
        ("ids", "sdk-tower full, no trace exporter"),
        ("otel", "opentelemetry-instrumentation-tower"),
        (
            "diy",
            "DIY TraceLayer + tracing-opentelemetry + axum-prometheus",
        ),
    ];
    let mut added = Vec::new();
    println!("bare router: {bare:.0} instructions per request (request thread)");
    for (variant, label) in variants {
        let cost = per_request(variant)? - bare;
        println!("{label}: +{cost:.0} instructions per request");
        added.push((variant, cost));
    }
    let get = |name: &str| {
        added
            .iter()
            .find(|(v, _)| *v == name)
            .map_or(f64::NAN, |x| x.1)
    };
    println!(
        "full / opentelemetry-instrumentation-tower: {:.2}x; full / DIY: {:.2}x",
        get("full") / get("otel"),
        get("full") / get("diy")
    );

    // The calling thread's path of one query or command (the database's worker thread, the
    // Redis server and the batch queue's export thread not counted); `cargo xtask gate`
    // measures the same, lowest of three runs.
    let binary = gate::example("profile_sqlx");
    let per_query = |variant: &str| {
        gate::per_iteration(
            &binary,
            &[variant],
            &["profile_sqlx::query"],
            (200, 2_200),
            1,
        )
    };
    let plain = per_query("plain")?;
    let instrumented = per_query("instrumented")?;
    println!(
        "SQLite in memory, calling thread: plain sqlx {plain:.0}, InstrumentedPool {instrumented:.0} instructions per query (+{:.0})",
        instrumented - plain
    );

    let binary = gate::example("profile_redis");
    let per_command = |variant: &str| {
        gate::per_iteration(
            &binary,
            &[variant],
            &["profile_redis::command"],
            (200, 1_000),
            1,
        )
    };
    let plain = per_command("plain")?;
    let instrumented = per_command("instrumented")?;
    println!(
        "Redis GET, calling thread: plain redis-rs {plain:.0}, InstrumentedConnection {instrumented:.0} instructions per command (+{:.0})",
        instrumented - plain
    );
    Ok(())
}

fn bench(args: &[String]) -> Result {
    run(
        "benchmarks",
        cargo()
            .args(["bench", "--package", "sdk-benches", "--"])
            .args(args),
    )
}

const METRICS_DOC_HEADER: &str = "# Metric catalogue\n\nGenerated from `sdk-core/src/catalogue.rs` by `cargo xtask docs`; a test fails when it\ndrifts. Prometheus names follow the catalogue's one rule: dots become underscores, the\nunit's suffix is appended (`_seconds`, `_bytes`), counters end in `_total`, and a gauge\nwhose name would end in `_count`/`_sum`/`_bucket`/`_total` gets `_current`. Label keys\nhave their dots replaced by underscores in Prometheus.\n\n";

fn docs() -> Result {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let text = format!("{METRICS_DOC_HEADER}{}", sdk_core::catalogue::markdown());
    std::fs::write(root.join("docs/metrics.md"), text)
        .map_err(|e| format!("docs/metrics.md: {e}"))?;
    eprintln!("wrote docs/metrics.md");
    let readme = root.join("README.md");
    let text = std::fs::read_to_string(&readme).map_err(|e| format!("README.md: {e}"))?;
    let filled = sdk_core::catalogue::fill_markdown_groups(&text);
    if filled != text {
        std::fs::write(&readme, filled).map_err(|e| format!("README.md: {e}"))?;
        eprintln!("wrote the metric tables of README.md");
    }
    Ok(())
}

fn test() -> Result {
    let started = Instant::now();
    ensure_promtool()?;
    ensure_postgres()?;
    ensure_redis()?;
    wasm::ensure_wasm_tools()?;
    wasm::ensure_browser()?;
    // oha compiles for minutes on a fresh machine: beside the checks, needed by the tests.
    let load_generator = std::thread::spawn(load::ensure_load_generator);
    // cargo-fuzz (for the fuzz smoke run) installs beside the checks too, where nightly is.
    let nightly = fuzz::nightly_present();
    let cargo_fuzz = nightly.then(|| std::thread::spawn(fuzz::ensure_cargo_fuzz));
    let test_agent = ensure_test_agent()?;
    let peers = [
        ("DDAPM_TEST_AGENT", test_agent.as_str()),
        ("CHROMEDRIVER", wasm::CHROMEDRIVER),
    ];

    run(
        "format check",
        cargo().args(["fmt", "--all", "--", "--check"]),
    )?;
    run(
        "clippy",
        cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    run(
        "sdk-core for wasm32, default features off",
        cargo().args([
            "build",
            "--package",
            "sdk-core",
            "--no-default-features",
            "--target",
            WASM_TARGET,
        ]),
    )?;
    for features in ["bundle", "bundle,attribution"] {
        run(
            &format!("clippy, sdk-wasm-rum for wasm32 (the bundle, features {features})"),
            cargo().args([
                "clippy",
                "--package",
                "sdk-wasm-rum",
                "--lib",
                "--features",
                features,
                "--target",
                WASM_TARGET,
                "--",
                "-D",
                "warnings",
            ]),
        )?;
    }
    // The Rust API links into an application's module (which brings the allocator):
    // checked as a library only.
    run(
        "sdk-wasm-rum for wasm32 with the Rust API",
        cargo().args([
            "rustc",
            "--package",
            "sdk-wasm-rum",
            "--lib",
            "--crate-type",
            "rlib",
            "--features",
            "rust-api",
            "--target",
            WASM_TARGET,
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    // The demo's browser tests load this bundle.
    wasm::bundle()?;
    run(
        "sdk-core, default features off",
        cargo().args(["check", "--package", "sdk-core", "--no-default-features"]),
    )?;
    for feature in CORE_FEATURES {
        run(
            &format!("sdk-core with only `{feature}`"),
            cargo().args([
                "check",
                "--package",
                "sdk-core",
                "--no-default-features",
                "--features",
                feature,
            ]),
        )?;
    }

    // Each library crate alone: in the workspace a dependency's feature enabled by a
    // sibling hides a missing one (the fuzz crate found `axum/tokio` missing this way).
    for package in ["sdk-tower", "sdk-sqlx", "sdk-redis"] {
        run(
            &format!("{package} on its own"),
            cargo().args(["check", "--package", package]),
        )?;
    }

    load_generator
        .join()
        .map_err(|_| "installing the load generator panicked".to_owned())??;
    if succeeds("cargo-nextest", &["nextest", "--version"])
        || succeeds(&cargo_program(), &["nextest", "--version"])
    {
        run(
            "tests (nextest)",
            cargo()
                .args([
                    "nextest",
                    "run",
                    "--workspace",
                    "--all-features",
                    "--no-tests=fail",
                ])
                .envs(peers),
        )?;
    } else {
        eprintln!("cargo-nextest not found; running the tests with cargo test");
        run(
            "tests",
            cargo()
                .args([
                    "test",
                    "--workspace",
                    "--all-features",
                    "--lib",
                    "--bins",
                    "--tests",
                ])
                .envs(peers),
        )?;
    }
    run(
        "benchmarks, one iteration each",
        cargo().args(["test", "--package", "sdk-benches", "--benches"]),
    )?;
    run(
        "doctests",
        cargo().args(["test", "--workspace", "--all-features", "--doc"]),
    )?;
    match cargo_fuzz {
        Some(installed) => {
            installed
                .join()
                .map_err(|_| "installing cargo-fuzz panicked".to_owned())??;
            run_step("fuzz smoke run, every target", || {
                fuzz::smoke(FUZZ_SMOKE_SECONDS)
            })?;
        }
        None => eprintln!(
            "the nightly toolchain is not installed: fuzz smoke run skipped \
             (`rustup toolchain install nightly`, then `cargo xtask fuzz`)"
        ),
    }
    run(
        "rustdoc, broken links and markup as errors",
        cargo()
            .args([
                "doc",
                "--no-deps",
                "--all-features",
                "--package",
                "sdk-core",
                "--package",
                "sdk-tower",
                "--package",
                "sdk-sqlx",
                "--package",
                "sdk-redis",
            ])
            .env("RUSTDOCFLAGS", "-D warnings"),
    )?;
    run_step("performance gate", || gate::gate(&[]))?;
    eprintln!(
        "all checks passed in {:.0}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Runs an in-process step with the same banner as [`run`].
fn run_step(step: &str, f: impl FnOnce() -> Result) -> Result {
    let started = Instant::now();
    eprintln!("==> {step}");
    let result = f();
    eprintln!(
        "<== {step}: {} in {:.1}s",
        if result.is_ok() { "ok" } else { "failed" },
        started.elapsed().as_secs_f64()
    );
    result
}

/// Installs valgrind (callgrind counts the gate's instructions) when it is missing.
fn ensure_valgrind() -> Result {
    if succeeds("valgrind", &["--version"]) {
        return Ok(());
    }
    if !(is_root() && succeeds("apt-get", &["--version"])) {
        return Err("valgrind is missing: apt-get install -y valgrind".into());
    }
    run(
        "apt-get update",
        Command::new("apt-get").args(["update", "-qq"]),
    )?;
    run(
        "install valgrind",
        Command::new("apt-get")
            .args([
                "install",
                "-y",
                "-qq",
                "--no-install-recommends",
                "valgrind",
            ])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

fn cargo_program() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `promtool` from Debian's `prometheus` package, installed without starting the packaged
/// service (a policy-rc.d that denies service starts is in place during the install).
/// Output of `psql` run as the `postgres` system user (peer authentication over the socket).
fn psql_admin(sql: &str) -> Result<String> {
    psql_admin_in("postgres", sql)
}

/// [`psql_admin`] in `database`.
fn psql_admin_in(database: &str, sql: &str) -> Result<String> {
    let output = Command::new("runuser")
        .args([
            "-u", "postgres", "--", "psql", "-XtAq", "-d", database, "-c", sql,
        ])
        .output()
        .map_err(|e| format!("cannot run psql as postgres: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        Err(format!(
            "psql {sql:?}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// The Debian cluster version (`/etc/postgresql/<version>/main`).
fn postgres_cluster() -> Option<String> {
    std::fs::read_dir("/etc/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .max()
}

fn pg_ctlcluster(action: &str) -> Result {
    let version = postgres_cluster().ok_or("no PostgreSQL cluster under /etc/postgresql")?;
    run(
        &format!("PostgreSQL {action}"),
        Command::new("pg_ctlcluster").args(["--skip-systemctl-redirect", &version, "main", action]),
    )
}

fn wait_for_postgres() -> Result {
    for _ in 0..60 {
        if succeeds("pg_isready", &["-q", "-h", "127.0.0.1", "-p", "5432"]) {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    Err("PostgreSQL did not accept connections on 127.0.0.1:5432 within 30 s".into())
}

/// PostgreSQL on 127.0.0.1:5432 with database `test`, `pg_stat_statements` preloaded and
/// its extension created there (sdk-sqlx's trace-comment test and the demo's statement
/// insights read it): installed, started and configured as needed.
pub(crate) fn ensure_postgres() -> Result {
    if !succeeds("pg_isready", &["-q", "-h", "127.0.0.1", "-p", "5432"]) {
        if postgres_cluster().is_none() {
            if !is_root() {
                return Err("PostgreSQL is missing: apt-get install -y postgresql".into());
            }
            run(
                "install PostgreSQL",
                Command::new("apt-get")
                    .args(["install", "-y", "-qq", "postgresql"])
                    .env("DEBIAN_FRONTEND", "noninteractive"),
            )?;
        }
        pg_ctlcluster("start")?;
        wait_for_postgres()?;
    }
    let preload = psql_admin("SHOW shared_preload_libraries")?;
    if !preload.contains("pg_stat_statements") {
        let libraries = if preload.is_empty() {
            "pg_stat_statements".to_owned()
        } else {
            format!("{preload},pg_stat_statements")
        };
        psql_admin(&format!(
            "ALTER SYSTEM SET shared_preload_libraries = '{libraries}'"
        ))?;
        pg_ctlcluster("restart")?;
        wait_for_postgres()?;
    }
    if psql_admin("SELECT 1 FROM pg_database WHERE datname = 'test'")? != "1" {
        psql_admin("CREATE DATABASE test")?;
    }
    // The view itself: the demo's statement insights (and their dashboard panel, which the
    // alerting test requires data in) read it from `test`, whichever test runs first.
    psql_admin_in("test", "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")?;
    Ok(())
}

fn redis_answers() -> bool {
    std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], 6379)),
        std::time::Duration::from_millis(500),
    )
    .is_ok()
}

/// Redis on 127.0.0.1:6379 (sdk-redis tests, the demo's cache): installed and started
/// when it does not answer; it keeps nothing on disk.
pub(crate) fn ensure_redis() -> Result {
    if redis_answers() {
        return Ok(());
    }
    if !succeeds("redis-server", &["--version"]) {
        if !is_root() {
            return Err("Redis is missing: apt-get install -y redis-server".into());
        }
        run(
            "install Redis",
            Command::new("apt-get")
                .args(["install", "-y", "-qq", "redis-server"])
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )?;
    }
    run(
        "start Redis",
        Command::new("redis-server").args([
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "--port",
            "6379",
            "--save",
            "",
            "--appendonly",
            "no",
        ]),
    )?;
    for _ in 0..40 {
        if redis_answers() {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    Err("Redis did not accept connections on 127.0.0.1:6379 within 10 s".into())
}

fn ensure_promtool() -> Result {
    let promtool = std::env::var("PROMTOOL").unwrap_or_else(|_| "promtool".into());
    // promtool and prometheus come from Debian's `prometheus`, Alertmanager from
    // `prometheus-alertmanager`; the packaged services are not started.
    let missing: Vec<&str> = [
        (promtool.as_str(), "prometheus"),
        ("prometheus", "prometheus"),
        ("prometheus-alertmanager", "prometheus-alertmanager"),
    ]
    .iter()
    .filter(|(program, _)| !succeeds(program, &["--version"]))
    .map(|(_, package)| *package)
    .collect();
    let mut packages = missing.clone();
    packages.dedup();
    if packages.is_empty() {
        return Ok(());
    }
    if !is_root() || !succeeds("apt-get", &["--version"]) {
        return Err(format!(
            "missing: install Debian's {} (apt-get install -y {}), or set PROMTOOL",
            packages.join(", "),
            packages.join(" ")
        ));
    }
    let policy = std::path::Path::new("/usr/sbin/policy-rc.d");
    let placed_policy = !policy.exists();
    if placed_policy {
        std::fs::write(policy, "#!/bin/sh\nexit 101\n").map_err(|e| format!("policy-rc.d: {e}"))?;
        run(
            "chmod policy-rc.d",
            Command::new("chmod").args(["+x", "/usr/sbin/policy-rc.d"]),
        )?;
    }
    let installed = run(
        "apt-get update",
        Command::new("apt-get").args(["update", "-qq"]),
    )
    .and_then(|()| {
        run(
            &format!("install {}", packages.join(" ")),
            Command::new("apt-get")
                .args(["install", "-y", "-qq", "--no-install-recommends"])
                .args(&packages)
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )
    });
    if placed_policy {
        let _ = std::fs::remove_file(policy);
    }
    installed?;
    if succeeds(&promtool, &["--version"]) && succeeds("prometheus-alertmanager", &["--version"]) {
        Ok(())
    } else {
        Err("promtool, prometheus or prometheus-alertmanager still missing after install".into())
    }
}

/// Version of the Datadog test agent the tests are written against.
const TEST_AGENT_VERSION: &str = "1.69.1";

/// The Datadog test agent from PyPI in a virtualenv under `target/peers/`; returns the
/// program path. `$DDAPM_TEST_AGENT` wins when it runs.
pub(crate) fn ensure_test_agent() -> Result<String> {
    if let Ok(program) = std::env::var("DDAPM_TEST_AGENT")
        && succeeds(&program, &["--version"])
    {
        return Ok(program);
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let venv = root.join("target/peers/ddapm-venv");
    let program = venv.join("bin/ddapm-test-agent");
    let program_text = program.to_string_lossy().into_owned();
    if succeeds(&program_text, &["--version"]) {
        return Ok(program_text);
    }
    let venv_text = venv.to_string_lossy().into_owned();
    if !succeeds("python3", &["-m", "venv", "--clear", &venv_text]) {
        if is_root() && succeeds("apt-get", &["--version"]) {
            run(
                "apt-get update",
                Command::new("apt-get").args(["update", "-qq"]),
            )?;
            run(
                "install python3-venv",
                Command::new("apt-get")
                    .args(["install", "-y", "-qq", "python3-venv"])
                    .env("DEBIAN_FRONTEND", "noninteractive"),
            )?;
        }
        run(
            "create the test-agent virtualenv",
            Command::new("python3").args(["-m", "venv", "--clear", &venv_text]),
        )?;
    }
    run(
        "install the Datadog test agent (PyPI ddapm-test-agent)",
        Command::new(venv.join("bin/pip")).args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            &format!("ddapm-test-agent=={TEST_AGENT_VERSION}"),
        ]),
    )?;
    if succeeds(&program_text, &["--version"]) {
        Ok(program_text)
    } else {
        Err(format!("{program_text} does not run after installing it"))
    }
}

fn ensure_wasm_target() -> Result {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map_err(|e| format!("rustup: {e}"))?;
    if String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|l| l.trim() == WASM_TARGET)
    {
        return Ok(());
    }
    run(
        "add the wasm32 target",
        Command::new("rustup").args(["target", "add", WASM_TARGET]),
    )
}
