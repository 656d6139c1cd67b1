//! The browser module: tools (binaryen's `wasm-opt` and esbuild from npm, Debian's
//! Chromium and ChromeDriver) and the optimized bundle in `sdk-wasm-rum/pkg/` with its
//! size budget. The engine has no bindings generator: its JavaScript driver is written by
//! hand (`sdk-wasm-rum/js/`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Result, WASM_TARGET, cargo, ensure_wasm_target, is_root, run, succeeds};

/// The performance budget file whose `rum_bundle_bytes` limits the bundle (wasm + JS
/// driver, brotli quality 11); the test command fails over it.
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

/// Versions of the npm packages: binaryen's `wasm-opt` (Debian's binaryen is older and
/// optimizes less) and esbuild, the minifier of the JavaScript driver, build the bundle;
/// Google's web-vitals is what the end-to-end tests compare every value with.
const NPM_TOOLS: [(&str, &str); 3] = [
    ("binaryen", "132.0.0"),
    ("esbuild", "0.28.2"),
    ("web-vitals", "6.2.3"),
];

fn npm_tools_dir() -> PathBuf {
    root().join("target/peers/wasm-tools")
}

/// The wasm32 target, `wasm-opt` and esbuild (npm, under `target/peers/wasm-tools`).
pub(crate) fn ensure_wasm_tools() -> Result {
    ensure_wasm_target()?;
    let prefix = npm_tools_dir();
    let bin = prefix.join("node_modules/.bin");
    let installed = |name: &str, version: &str| {
        let manifest = prefix.join("node_modules").join(name).join("package.json");
        std::fs::read_to_string(manifest)
            .is_ok_and(|text| text.contains(&format!("\"version\": \"{version}\"")))
    };
    if NPM_TOOLS
        .iter()
        .all(|(name, version)| installed(name, version))
        && bin.join("wasm-opt").exists()
        && bin.join("esbuild").exists()
    {
        return Ok(());
    }
    if !succeeds("npm", &["--version"]) {
        apt_install("npm", &["nodejs", "npm"])?;
    }
    std::fs::create_dir_all(&prefix).map_err(|e| format!("{}: {e}", prefix.display()))?;
    let packages: Vec<String> = NPM_TOOLS
        .iter()
        .map(|(name, version)| format!("{name}@{version}"))
        .collect();
    run(
        &format!("install {} (npm)", packages.join(", ")),
        Command::new("npm")
            .args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"])
            .arg(&prefix)
            .args(&packages),
    )?;
    for tool in ["wasm-opt", "esbuild"] {
        if !succeeds(&bin.join(tool).to_string_lossy(), &["--version"]) {
            return Err(format!("{tool} does not run after installing it"));
        }
    }
    Ok(())
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

/// The browser bundle and its attribution build: each is the engine for wasm32 (profile
/// `wasm-release`) optimized by `wasm-opt -Oz` with the name and producers sections
/// stripped, and the JavaScript driver minified by esbuild (with `ATTRIBUTION` defined);
/// prints their sizes and fails when the default bundle is over its budget.
pub(crate) fn bundle() -> Result {
    ensure_wasm_tools()?;
    let total = build_variant(Variant::DEFAULT)?;
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
    build_variant(Variant::ATTRIBUTION)?;
    check_bundle_budget(total.brotli as u64)
}

/// One build of the module: its cargo features, file names and the driver's
/// `ATTRIBUTION`.
struct Variant {
    features: &'static str,
    wasm: &'static str,
    js: &'static str,
    attribution: bool,
}

impl Variant {
    const DEFAULT: Self = Self {
        features: "bundle",
        wasm: "sdk_wasm_rum_bg.wasm",
        js: "sdk_wasm_rum.js",
        attribution: false,
    };
    const ATTRIBUTION: Self = Self {
        features: "bundle,attribution",
        wasm: "sdk_wasm_rum_attribution_bg.wasm",
        js: "sdk_wasm_rum.attribution.js",
        attribution: true,
    };
}

/// Builds `variant` into `pkg/`; returns the sizes of its two files together.
fn build_variant(variant: Variant) -> Result<Sizes> {
    let root = root();
    let bin = npm_tools_dir().join("node_modules/.bin");
    run(
        &format!(
            "sdk-wasm-rum for wasm32 (profile wasm-release, features {})",
            variant.features
        ),
        cargo().args([
            "build",
            "--package",
            "sdk-wasm-rum",
            "--lib",
            "--features",
            variant.features,
            "--target",
            WASM_TARGET,
            "--profile",
            "wasm-release",
        ]),
    )?;
    let built = root.join("target/wasm32-unknown-unknown/wasm-release/sdk_wasm_rum.wasm");
    let pkg = root.join("sdk-wasm-rum/pkg");
    std::fs::create_dir_all(&pkg).map_err(|e| format!("{}: {e}", pkg.display()))?;
    // Written next to the final files and renamed over them, so that a server reading
    // `pkg/` meanwhile (the demo starts before the bundle is ready) never sees half a file.
    let wasm = pkg.join(variant.wasm);
    let js = pkg.join(variant.js);
    let (wasm_tmp, js_tmp) = (
        pkg.join(format!(".{}", variant.wasm)),
        pkg.join(format!(".{}", variant.js)),
    );
    run(
        "wasm-opt -Oz",
        Command::new(bin.join("wasm-opt"))
            .args([
                // The linker's `__data_end` and `__heap_base` exports: nobody reads them.
                "--remove-exports",
                "--pass-arg=remove-exports@__*",
                "-Oz",
                "--enable-bulk-memory",
                "--enable-nontrapping-float-to-int",
                "--enable-sign-ext",
                "--enable-mutable-globals",
                "--enable-reference-types",
                "--enable-multivalue",
                "--strip-debug",
                "--strip-producers",
                "--strip-target-features",
                // The stack is below the data, 1 MiB long: the low 1 KiB is never used.
                "--low-memory-unused",
                "-o",
            ])
            .arg(&wasm_tmp)
            .arg(&built),
    )?;
    run(
        "esbuild --minify (the JavaScript driver)",
        Command::new(bin.join("esbuild"))
            .arg(root.join("sdk-wasm-rum/js/sdk_wasm_rum.js"))
            .args([
                "--minify",
                "--format=esm",
                "--target=es2020",
                "--log-level=warning",
                // Removes what `ATTRIBUTION` left unused (the default build's attribution).
                "--tree-shaking=true",
            ])
            .arg(format!("--define:ATTRIBUTION={}", variant.attribution))
            .arg(format!("--outfile={}", js_tmp.display())),
    )?;
    for (from, to) in [(&wasm_tmp, &wasm), (&js_tmp, &js)] {
        std::fs::rename(from, to).map_err(|e| format!("{}: {e}", to.display()))?;
    }
    let wasm_size = sizes(&wasm)?;
    let js_size = sizes(&js)?;
    let total = wasm_size + js_size;
    let bundle = if variant.attribution {
        "attribution bundle"
    } else {
        "bundle"
    };
    for (name, size) in [
        (variant.wasm, wasm_size),
        (variant.js, js_size),
        (bundle, total),
    ] {
        eprintln!(
            "size {name:<32} raw {:>7} B  gzip {:>6} B  brotli {:>6} B",
            size.raw, size.gzip, size.brotli
        );
    }
    Ok(total)
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
