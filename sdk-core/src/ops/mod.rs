//! Operations as code: the alerting rules, SLO recordings, anomaly bands and their tests
//! for one service, generated from the catalogue and a small spec file, so that nothing
//! on the operations side spells a metric name by hand or drifts from what the SDK emits.
//!
//! # The spec
//!
//! ```yaml
//! service: shop                       # OTEL_SERVICE_NAME; prefixes alert names
//! selector: {job: shop}               # exact matchers of the service's series (default job=<service>)
//! runbook_url: https://runbooks.example/shop.runbook.md   # where <service>.runbook.md is published
//! labels: {team: web}                 # added to every alert
//! period: 30d                         # SLO period (default 30d)
//! # burn_rate: {page: [{long: 1h, short: 5m, factor: 14.4}, …], ticket: […]}
//! #   default: the SRE workbook's table, as sloth generates it
//! slos:
//!   - name: requests-availability
//!     description: Requests are answered without a server error.
//!     objective: 99.9
//!     sli: {kind: availability}       # optional routes: [...]
//!   - name: requests-latency
//!     description: Requests are answered within 250 ms.
//!     objective: 95                   # "p95 < 250 ms", read from the exact 0.25 s bucket
//!     sli: {kind: latency, threshold: 0.25}
//!   - name: cache-hits
//!     description: Lookups are served from the cache.
//!     objective: 80
//!     sli: {kind: cache_hit_ratio}
//!   - name: lcp-good
//!     description: Pages paint their largest content within 2.5 s.
//!     objective: 75                   # "p75 LCP is good"
//!     sli: {kind: web_vital, name: LCP}
//! alerts:                             # symptom thresholds; null switches one off
//!   for: 5m
//!   latency_p95: 0.5
//!   error_ratio: 0.05
//!   cache_hit_ratio: 0.5
//!   slow_queries_per_second: 0.1
//!   rum_poor_ratio: 0.25
//!   redis_memory_ratio: 0.9           # Redis evicting above 90 % of maxmemory (10m)
//!   fds_ratio: 0.8                    # open over max file descriptors (5m)
//!   tokio_busy_ratio: 0.9             # Tokio workers busy (10m)
//! anomaly: {enabled: true, k: 3, min_request_rate: 0.1, for: 15m}
//! ```
//!
//! # What is generated
//!
//! - `<service>.rules.yml`: recording rules — request rate, 5xx ratio and p50/p90/p95/p99
//!   per route and for the service; database p95 by operation, pool saturation, cache hit
//!   ratio by key prefix, web-vital p75 and poor-rating ratio by route.
//! - `<service>-slo.rules.yml`: per SLO, sloth's
//!   `slo:sli_error:ratio_rate<window>` for every burn-rate window and the period, and
//!   `slo:objective:ratio`, `slo:error_budget:ratio`, `slo:current_burn_rate:ratio`,
//!   `slo:period_burn_rate:ratio`, `slo:period_error_budget_remaining:ratio`,
//!   `sloth_slo_info` (with sloth's `sloth_id`/`sloth_service`/`sloth_slo` labels).
//!   Each SLO's multiwindow multi-burn-rate page and ticket alerts sit in the group that
//!   records its ratios.
//! - `<service>.alerts.yml`: symptom alerts — p95 latency, 5xx ratio, cache hit ratio, pool exhaustion, pool timeouts, slow
//!   queries, poor web-vital ratings, dropped telemetry, cardinality overflow — and, in
//!   their own group, runtime and dependency alerts: a failing synthetic probe, a Redis
//!   server evicting at its memory limit, file descriptors near their limit, saturated
//!   Tokio workers. Every alert
//!   has `severity`, `summary`, `description` and `runbook_url`. Every ratio's denominator
//!   is guarded: zero traffic yields no sample, never NaN or +Inf.
//! - `<service>-anomaly.rules.yml`: the service-level request rate, 5xx ratio and p95
//!   (in `<service>.rules.yml` when bands are off), the weekly mean, spread and seasonal
//!   prediction of the request rate and the 5xx ratio, and an alert on leaving the band,
//!   all in one group so each rule reads the same evaluation's values.
//! - `<service>.runbook.md`: one section per alert above — summary, description,
//!   severity, expression, rule file, the board to open and the first checks, naming
//!   metrics by their catalogue names — headed by the alert's name, so each alert's
//!   `runbook_url` fragment (and its Datadog monitor's) is the section's anchor: publish
//!   it where `runbook_url` points.
//! - `<service>.rules.test.yml`, `<service>-<n>m.rules.test.yml` (burn-rate windows of
//!   days, sampled every n minutes) and `<service>-anomaly.rules.test.yml`: `promtool test
//!   rules` files with, for every alert, a case that fires, one that does not and one with
//!   zero traffic.
//!
//! Run it with [`cli`] from a small binary of your own (so your application metrics
//! registered with [`catalogue::register`](crate::catalogue::register) are known):
//!
//! ```no_run
//! fn main() -> std::process::ExitCode {
//!     sdk_core::ops::cli(std::env::args().skip(1))
//! }
//! ```
//!
//! then `cargo run --bin ops -- generate ops/spec.yaml ops/` (or `check` to fail when the
//! committed files are stale).

mod alerts;
mod anomaly;
pub mod budget;
mod datadog;
pub mod grafana;
mod promql;
mod rules;
mod runbook;
mod runtime_alerts;
mod slo;
pub mod spec;
mod tests;

pub use rules::{Group, Rule, RuleFile};
pub use spec::Spec;
pub use tests::TestFile;

use std::path::{Path, PathBuf};

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// The spec is invalid; the message names the field and what is accepted.
    #[error("spec: {0}")]
    Spec(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// A generated document could not be serialized.
    #[error("serializing {0}")]
    Serialize(String),
}

/// A generated file: its name inside the output directory and its contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// File name, relative to the output directory.
    pub path: String,
    /// Contents.
    pub contents: String,
}

const HEADER: &str = "# Generated by sdk-core ops from the service's SLO spec and the metric catalogue.\n# Do not edit: change the spec and regenerate.\n";

fn yaml<T: serde::Serialize>(path: &str, value: &T) -> Result<GeneratedFile, OpsError> {
    let body =
        serde_saphyr::to_string(value).map_err(|e| OpsError::Serialize(format!("{path}: {e}")))?;
    Ok(GeneratedFile {
        path: path.to_owned(),
        contents: format!("{HEADER}{body}"),
    })
}

/// Everything generated for `spec`, in a stable order.
pub fn generate(spec: &Spec) -> Result<Vec<GeneratedFile>, OpsError> {
    let service = &spec.service;
    let mut slo_groups = Vec::new();
    let mut alert_list = Vec::new();
    let rules_file = format!("{service}.rules.yml");
    let slo_file = format!("{service}-slo.rules.yml");
    let alerts_file = format!("{service}.alerts.yml");
    let anomaly_file = format!("{service}-anomaly.rules.yml");
    for slo in &spec.slos {
        // The burn-rate alerts sit in the group that records their ratios, so they
        // always read this evaluation's values.
        let burn = slo::burn_rate_alerts(spec, slo);
        let mut sli = slo::sli_group(spec, slo);
        sli.rules.extend(burn.iter().map(|a| a.rule.clone()));
        slo_groups.push(sli);
        slo_groups.push(slo::meta_group(spec, slo));
        alert_list.extend(burn);
    }
    let symptoms = alerts::symptom_alerts(spec);
    let runtime = runtime_alerts::runtime_alerts(spec);
    let burn_count = alert_list.len();
    let (mut red, service_level) = rules::red(spec);
    let band_signals = if spec.anomaly.enabled {
        service_level
    } else {
        red.extend(service_level);
        Vec::new()
    };
    let mut files = vec![
        yaml(
            &rules_file,
            &RuleFile {
                groups: vec![rules::group(spec, "red", red), rules::dependencies(spec)],
            },
        )?,
        yaml(&slo_file, &RuleFile { groups: slo_groups })?,
        yaml(
            &alerts_file,
            &RuleFile {
                groups: vec![
                    rules::group(
                        spec,
                        "alerts",
                        symptoms.iter().map(|a| a.rule.clone()).collect(),
                    ),
                    rules::group(
                        spec,
                        "runtime",
                        runtime.iter().map(|a| a.rule.clone()).collect(),
                    ),
                ],
            },
        )?,
    ];
    alert_list.extend(symptoms);
    alert_list.extend(runtime);
    // One test file per sampling step: day-long burn-rate windows are tested on a
    // coarser grid than the 5-minute symptoms.
    let mut steps: Vec<u64> = alert_list.iter().map(|a| a.every_seconds).collect();
    steps.sort_unstable();
    steps.dedup();
    for every in steps {
        let step = spec::Window::from_seconds(every);
        let name = if every == 60 {
            format!("{service}.rules.test.yml")
        } else {
            format!("{service}-{}.rules.test.yml", step.as_str())
        };
        // Burn-rate alerts over days need only the SLO file.
        let rule_files = if every <= 60 {
            vec![rules_file.clone(), slo_file.clone(), alerts_file.clone()]
        } else {
            vec![slo_file.clone()]
        };
        files.push(yaml(
            &name,
            &TestFile {
                rule_files,
                evaluation_interval: step.as_str().to_owned(),
                tests: alert_list
                    .iter()
                    .filter(|a| a.every_seconds == every)
                    .flat_map(tests::alert_tests)
                    .collect(),
            },
        )?);
    }
    // The runbook's sections, in the order of the rule files.
    let mut sections: Vec<(&str, &alerts::Alert)> = alert_list
        .iter()
        .enumerate()
        .map(|(i, alert)| {
            let file = if i < burn_count {
                &slo_file
            } else {
                &alerts_file
            };
            (file.as_str(), alert)
        })
        .collect();
    sections.rotate_left(burn_count);
    let band_alerts = if spec.anomaly.enabled {
        anomaly::band_alerts(spec)
    } else {
        Vec::new()
    };
    sections.extend(band_alerts.iter().map(|a| (anomaly_file.as_str(), a)));
    let runbook = runbook::file(spec, &sections)?;
    if spec.anomaly.enabled {
        let mut band = anomaly::band_group(spec, band_signals);
        band.rules
            .extend(band_alerts.iter().map(|a| a.rule.clone()));
        files.push(yaml(&anomaly_file, &RuleFile { groups: vec![band] })?);
        files.push(yaml(
            &format!("{service}-anomaly.rules.test.yml"),
            &TestFile {
                rule_files: vec![anomaly_file.clone()],
                // The bands average a week: a coarser evaluation keeps the test quick.
                evaluation_interval: "10m".into(),
                tests: band_alerts.iter().flat_map(tests::alert_tests).collect(),
            },
        )?);
    }
    files.push(runbook);
    files.extend(grafana::files(spec)?);
    files.extend(datadog::files(spec)?);
    Ok(files)
}

/// Reads and checks the spec at `path`.
pub fn read_spec(path: &Path) -> Result<Spec, OpsError> {
    let text = std::fs::read_to_string(path).map_err(|source| OpsError::Io {
        path: path.to_owned(),
        source,
    })?;
    Spec::from_yaml(&text)
}

/// Writes `files` into `dir` (created if missing).
pub fn write(dir: &Path, files: &[GeneratedFile]) -> Result<(), OpsError> {
    let io = |path: PathBuf| move |source| OpsError::Io { path, source };
    std::fs::create_dir_all(dir).map_err(io(dir.to_owned()))?;
    for file in files {
        let path = dir.join(&file.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent.to_owned()))?;
        }
        std::fs::write(&path, &file.contents).map_err(io(path.clone()))?;
    }
    Ok(())
}

/// The files in `dir` that differ from `files` (missing ones included).
pub fn stale(dir: &Path, files: &[GeneratedFile]) -> Vec<String> {
    files
        .iter()
        .filter(|file| {
            std::fs::read_to_string(dir.join(&file.path))
                .ok()
                .as_deref()
                != Some(file.contents.as_str())
        })
        .map(|file| file.path.clone())
        .collect()
}

/// The command line:
///
/// - `generate <spec.yaml> <dir>` writes the files;
/// - `check <spec.yaml> <dir>` fails, naming them, when the files in `dir` differ from
///   what the spec generates;
/// - `budget <budget.yaml> <prometheus-url> [<bundle-bytes>]` prints the budget table
///   for the run Prometheus scraped and fails when a line is over.
pub fn cli(args: impl IntoIterator<Item = String>) -> std::process::ExitCode {
    use std::process::ExitCode;
    let args: Vec<String> = args.into_iter().collect();
    if let [c, budget_path, prometheus, rest @ ..] = args.as_slice()
        && c == "budget"
        && rest.len() <= 1
    {
        return budget_cli(Path::new(budget_path), prometheus, rest.first());
    }
    let (command, spec_path, dir) = match args.as_slice() {
        [c, s, d] if c == "generate" || c == "check" => (c.as_str(), Path::new(s), Path::new(d)),
        _ => {
            eprintln!(
                "usage: ops generate|check <spec.yaml> <output-dir>\n       ops budget <budget.yaml> <prometheus-url> [<bundle-bytes>]"
            );
            return ExitCode::from(2);
        }
    };
    let result = read_spec(spec_path).and_then(|spec| generate(&spec));
    let files = match result {
        Ok(files) => files,
        Err(e) => {
            eprintln!("ops: {e}");
            return ExitCode::FAILURE;
        }
    };
    if command == "check" {
        let stale = stale(dir, &files);
        if stale.is_empty() {
            println!(
                "ops: {} files in {} are up to date",
                files.len(),
                dir.display()
            );
            return ExitCode::SUCCESS;
        }
        eprintln!(
            "ops: stale in {}: {} (run `generate` and commit)",
            dir.display(),
            stale.join(", ")
        );
        return ExitCode::FAILURE;
    }
    match write(dir, &files) {
        Ok(()) => {
            for file in &files {
                println!("ops: wrote {}", dir.join(&file.path).display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ops: {e}");
            ExitCode::FAILURE
        }
    }
}

fn budget_cli(path: &Path, prometheus: &str, bundle: Option<&String>) -> std::process::ExitCode {
    use std::process::ExitCode;
    let bundle = match bundle.map(|b| b.parse::<u64>()) {
        None => None,
        Some(Ok(bytes)) => Some(bytes),
        Some(Err(e)) => {
            eprintln!("ops budget: bundle bytes: {e}");
            return ExitCode::from(2);
        }
    };
    let report = std::fs::read_to_string(path)
        .map_err(|source| OpsError::Io {
            path: path.to_owned(),
            source,
        })
        .and_then(|text| budget::Budget::from_yaml(&text))
        .and_then(|b| budget::check(&b, &budget::PrometheusApi::new(prometheus), bundle));
    match report {
        Ok(report) => {
            print!("{}", report.table());
            if report.passed() {
                ExitCode::SUCCESS
            } else {
                eprintln!("ops budget: over budget");
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("ops budget: {e}");
            ExitCode::FAILURE
        }
    }
}
