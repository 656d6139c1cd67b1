//! The browser module: tools (wasm-bindgen CLI matching the crate, binaryen's `wasm-opt`
//! from npm, Debian's Chromium and ChromeDriver), the optimized bundle in
//! `sdk-wasm-rum/pkg/` with its size budget, and the `wasm-bindgen-test` run in Chromium.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Result, WASM_TARGET, cargo, ensure_wasm_target, is_root, run, succeeds};

/// The bundle (wasm + JS glue, brotli quality 11) may not grow past this; the test
/// command fails when it does. The goal is 8 KiB (see the README's figures).
/// The performance budget file whose `rum_bundle_bytes` limits the bundle.
const BUDGET_FILE: &str = "examples/ops/budget.yaml";
/// The size the bundle should reach.
pub(crate) const BUNDLE_GOAL_BROTLI: usize = 8 * 1024;

pub(crate) const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Installs Debian packages (after one `apt-get update`).
pub(crate) fn apt_install(what: &str, packages: &[&str]) -> Result {
    if !is_root() || !succeeds("apt-get", &["--version"]) {
        return Err(format!(
            "{what} is missing: apt-get install -y {}",
            packages.join(" ")
        ));
    }
    run(
        "apt-get update",
        Command::new("apt-get").args(["update", "-qq"]),
    )?;
    run(
        &format!("install {what} (Debian {})", packages.join(", ")),
        Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(packages)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

/// Headless Chromium and ChromeDriver from Debian.
pub(crate) fn ensure_browser() -> Result {
    if succeeds(CHROMEDRIVER, &["--version"]) && Path::new("/usr/bin/chromium").exists() {
        return Ok(());
    }
    apt_install(
        "Chromium and ChromeDriver",
        &["chromium", "chromium-driver"],
    )?;
    if succeeds(CHROMEDRIVER, &["--version"]) {
        Ok(())
    } else {
        Err(format!("{CHROMEDRIVER} does not run after installing it"))
    }
}

/// The `wasm-bindgen` version in Cargo.lock (the CLI must match it exactly).
fn locked_wasm_bindgen() -> Result<String> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock"))
        .map_err(|e| format!("Cargo.lock: {e}"))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == "name = \"wasm-bindgen\"" {
            let version = lines
                .next()
                .and_then(|l| l.strip_prefix("version = \""))
                .and_then(|l| l.strip_suffix('"'));
            if let Some(version) = version {
                return Ok(version.to_owned());
            }
        }
    }
    Err("wasm-bindgen is not in Cargo.lock".into())
}

/// The wasm32 target, the wasm-bindgen CLI of the locked version, and `wasm-opt`.
pub(crate) fn ensure_wasm_tools() -> Result {
    ensure_wasm_target()?;
    let version = locked_wasm_bindgen()?;
    let current = Command::new("wasm-bindgen")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    if current.split_whitespace().nth(1) != Some(version.as_str()) {
        run(
            &format!("install wasm-bindgen-cli {version}"),
            cargo().args(["install", "wasm-bindgen-cli", "--version", &version]),
        )?;
    }
    ensure_wasm_opt().map(drop)
}

/// binaryen's version from npm. Debian's binaryen 108 breaks wasm-bindgen's externref
/// table (the module then fails to instantiate), so the npm build is used.
const BINARYEN_VERSION: &str = "132.0.0";

/// `wasm-opt` of [`BINARYEN_VERSION`] under `target/peers/binaryen`; returns its path.
fn ensure_wasm_opt() -> Result<PathBuf> {
    let prefix = root().join("target/peers/binaryen");
    let program = prefix.join("node_modules/.bin/wasm-opt");
    let version = |program: &Path| {
        Command::new(program)
            .arg("--version")
            .output()
            .is_ok_and(|o| {
                String::from_utf8_lossy(&o.stdout).contains(&format!(
                    "version_{}",
                    BINARYEN_VERSION.split('.').next().unwrap_or_default()
                ))
            })
    };
    if version(&program) {
        return Ok(program);
    }
    if !succeeds("npm", &["--version"]) {
        apt_install("npm", &["nodejs", "npm"])?;
    }
    std::fs::create_dir_all(&prefix).map_err(|e| format!("{}: {e}", prefix.display()))?;
    run(
        &format!("install wasm-opt (npm binaryen {BINARYEN_VERSION})"),
        Command::new("npm")
            .args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"])
            .arg(&prefix)
            .arg(format!("binaryen@{BINARYEN_VERSION}")),
    )?;
    if version(&program) {
        Ok(program)
    } else {
        Err(format!(
            "{} does not run after installing it",
            program.display()
        ))
    }
}

/// Sizes of one file or of the bundle.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Sizes {
    raw: usize,
    gzip: usize,
    brotli: usize,
}

impl std::ops::Add for Sizes {
    type Output = Self;
    fn add(self, other: Self) -> Self {
        Self {
            raw: self.raw + other.raw,
            gzip: self.gzip + other.gzip,
            brotli: self.brotli + other.brotli,
        }
    }
}

fn sizes(path: &Path) -> Result<Sizes> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gzip.write_all(&bytes).map_err(|e| format!("gzip: {e}"))?;
    let gzip = gzip.finish().map_err(|e| format!("gzip: {e}"))?.len();
    let mut brotli = Vec::new();
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        lgwin: 22,
        ..Default::default()
    };
    brotli::BrotliCompress(&mut bytes.as_slice(), &mut brotli, &params)
        .map_err(|e| format!("brotli: {e}"))?;
    Ok(Sizes {
        raw: bytes.len(),
        gzip,
        brotli: brotli.len(),
    })
}

/// Builds `sdk-wasm-rum/pkg/` (release profile for size, wasm-bindgen `--target web`,
/// `wasm-opt -Oz`), prints its sizes and fails over the budget.
pub(crate) fn bundle() -> Result {
    ensure_wasm_tools()?;
    let wasm_opt = ensure_wasm_opt()?;
    let root = root();
    run(
        "sdk-wasm-rum for wasm32 (profile wasm-release)",
        cargo().args([
            "build",
            "--package",
            "sdk-wasm-rum",
            "--target",
            WASM_TARGET,
            "--profile",
            "wasm-release",
        ]),
    )?;
    let built = root.join("target/wasm32-unknown-unknown/wasm-release/sdk_wasm_rum.wasm");
    let pkg = root.join("sdk-wasm-rum/pkg");
    let _ = std::fs::remove_dir_all(&pkg);
    run(
        "wasm-bindgen --target web",
        Command::new("wasm-bindgen")
            .args(["--target", "web", "--out-dir"])
            .arg(&pkg)
            .arg(&built),
    )?;
    let wasm = pkg.join("sdk_wasm_rum_bg.wasm");
    run(
        "wasm-opt -Oz",
        Command::new(&wasm_opt)
            .args([
                "-Oz",
                "--enable-bulk-memory",
                "--enable-nontrapping-float-to-int",
                "--enable-sign-ext",
                "--enable-mutable-globals",
                "--enable-reference-types",
                "--enable-multivalue",
                "--strip-debug",
                "--strip-producers",
                "-o",
            ])
            .arg(&wasm)
            .arg(&wasm),
    )?;
    let wasm_size = sizes(&wasm)?;
    let js_size = sizes(&pkg.join("sdk_wasm_rum.js"))?;
    let total = wasm_size + js_size;
    for (name, size) in [
        ("sdk_wasm_rum_bg.wasm", wasm_size),
        ("sdk_wasm_rum.js", js_size),
        ("bundle", total),
    ] {
        eprintln!(
            "size {name:<21} raw {:>7} B  gzip {:>6} B  brotli {:>6} B",
            size.raw, size.gzip, size.brotli
        );
    }
    eprintln!(
        "bundle brotli {} B: goal {} B ({})",
        total.brotli,
        BUNDLE_GOAL_BROTLI,
        if total.brotli <= BUNDLE_GOAL_BROTLI {
            "goal met"
        } else {
            "goal not met"
        }
    );
    check_bundle_budget(total.brotli as u64)
}

/// Checks the bundle against `rum_bundle_bytes` of the budget file, printing its line.
fn check_bundle_budget(brotli: u64) -> Result {
    use sdk_core::ops::budget::{self, Budget};
    struct NoQueries;
    impl budget::Source for NoQueries {
        fn query(
            &self,
            promql: &str,
        ) -> std::result::Result<Vec<budget::Sample>, sdk_core::ops::OpsError> {
            Err(sdk_core::ops::OpsError::Spec(format!(
                "no Prometheus to ask for {promql}"
            )))
        }
    }
    let path = root().join(BUDGET_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let full = Budget::from_yaml(&text).map_err(|e| e.to_string())?;
    let bundle_only = Budget {
        routes: Default::default(),
        error_ratio: None,
        cache_hit_ratio: None,
        web_vitals: Default::default(),
        ..full
    };
    let report =
        budget::check(&bundle_only, &NoQueries, Some(brotli)).map_err(|e| e.to_string())?;
    eprint!("{}", report.table());
    if report.passed() {
        Ok(())
    } else {
        Err(format!(
            "the browser bundle is {brotli} B brotli, over its budget in {BUDGET_FILE}"
        ))
    }
}

/// `wasm-bindgen-test` in headless Chromium through ChromeDriver.
pub(crate) fn browser_tests() -> Result {
    ensure_wasm_tools()?;
    ensure_browser()?;
    run(
        "sdk-wasm-rum browser tests (wasm-bindgen-test in headless Chromium)",
        cargo()
            .args(["test", "--package", "sdk-wasm-rum", "--target", WASM_TARGET])
            .current_dir(root().join("sdk-wasm-rum"))
            .env(
                "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER",
                "wasm-bindgen-test-runner",
            )
            .env("CHROMEDRIVER", CHROMEDRIVER)
            .env("WASM_BINDGEN_TEST_TIMEOUT", "60"),
    )
}
