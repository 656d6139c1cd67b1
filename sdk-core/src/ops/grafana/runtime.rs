//! The "Runtime and dependencies" board: the process and its Tokio runtime, synthetic
//! probes, the Redis server as its `INFO` reports it, database insights (top statements,
//! table and index statistics, plan findings), cache invalidation and the SDK's own
//! periodic collectors.
//!
//! Every instance of a service may watch the same Redis server or database, so the
//! server-side series (Redis `INFO`, `pg_stat_*`) are combined across instances with
//! `max`, never `sum`: two instances reporting one server must not double it. Process
//! and runtime series are shown per scrape `instance`.

use super::super::promql::{INSTANCE, label};
use super::{Board, Panel, RATE, legend, panel, unit};
use crate::catalogue::{
    CACHE_COMPRESSION_SAVED, CACHE_INVALIDATED_KEYS, CACHE_INVALIDATIONS, CACHE_STALE_SERVES,
    COLLECTOR_DURATION, DB_CLIENT_PLAN_FINDINGS, DB_CLIENT_PLANS, DB_INDEX_SIZE,
    DB_INSIGHT_FINDINGS, DB_STATEMENT_EXEC_TIME, DB_TABLE_SCANS, DB_TABLE_SIZE, MetricDef,
    PROBE_DURATION, PROBE_HTTP_DURATION, PROBE_HTTP_STATUS_CODE, PROBE_SUCCESS, PROCESS_CPU,
    PROCESS_MAX_FDS, PROCESS_OPEN_FDS, PROCESS_RESIDENT_MEMORY, PROCESS_THREADS, PROFILES,
    REDIS_SERVER_CLIENTS_BLOCKED, REDIS_SERVER_CLIENTS_CONNECTED, REDIS_SERVER_KEYS_EVICTED,
    REDIS_SERVER_KEYS_EXPIRED, REDIS_SERVER_KEYSPACE_HIT_RATIO, REDIS_SERVER_KEYSPACE_HITS,
    REDIS_SERVER_KEYSPACE_MISSES, REDIS_SERVER_MEMORY_FRAGMENTATION, REDIS_SERVER_MEMORY_MAX,
    REDIS_SERVER_MEMORY_PEAK, REDIS_SERVER_MEMORY_USED, REDIS_SERVER_OPS_PER_SECOND,
    REDIS_SERVER_ROLE, TOKIO_ALIVE_TASKS, TOKIO_BLOCKING_THREADS, TOKIO_BUSY_RATIO,
    TOKIO_GLOBAL_QUEUE_DEPTH, TOKIO_WORKERS,
};
use crate::semconv::{cache, db, sdk, server};

/// How many statements, tables and indexes the "top" panels show.
const TOP: u32 = 10;

/// Labels of a Redis server's series.
const REDIS: [&str; 2] = [server::ADDRESS, server::PORT];

fn max_by(by: &[&str], expr: &str) -> String {
    let by: Vec<String> = by.iter().map(|k| label(k)).collect();
    if by.is_empty() {
        format!("max({expr})")
    } else {
        format!("max by ({}) ({expr})", by.join(", "))
    }
}

impl Board<'_> {
    /// A server-side gauge, the same value seen by every instance: `max by`.
    fn server_level(&self, def: &MetricDef, by: &[&str], extra: &[(&str, &str, &str)]) -> String {
        max_by(by, &format!("{}{}", def.prometheus_name(), self.sel(extra)))
    }

    /// A server-side counter's rate, the same counter read by every instance: `max by`.
    fn server_rate(&self, def: &MetricDef, by: &[&str]) -> String {
        max_by(
            by,
            &format!("rate({}{}[{RATE}])", def.prometheus_name(), self.sel(&[])),
        )
    }
}

fn process(b: &Board<'_>) -> Vec<Panel> {
    let per = [INSTANCE];
    let each = |def: &MetricDef| b.gauge(def, &per, &[]);
    vec![
        panel(
            "Process CPU",
            &format!(
                "{} Shown as CPU seconds per second: 1 is one core busy all the time.",
                PROCESS_CPU.description
            ),
            "none",
        )
        .target(b.rate(&PROCESS_CPU, "", &per, &[]), &legend(&per)),
        panel(
            "Resident memory",
            PROCESS_RESIDENT_MEMORY.description,
            unit(PROCESS_RESIDENT_MEMORY.unit),
        )
        .target(each(&PROCESS_RESIDENT_MEMORY), &legend(&per)),
        panel(
            "Open file descriptors",
            &format!(
                "{} Against the limit: {}",
                PROCESS_OPEN_FDS.description,
                PROCESS_MAX_FDS.description.to_lowercase()
            ),
            unit(PROCESS_OPEN_FDS.unit),
        )
        .target(each(&PROCESS_OPEN_FDS), &format!("open {}", legend(&per)))
        .target(each(&PROCESS_MAX_FDS), &format!("max {}", legend(&per))),
        panel(
            "Threads",
            PROCESS_THREADS.description,
            unit(PROCESS_THREADS.unit),
        )
        .target(each(&PROCESS_THREADS), &legend(&per)),
        panel(
            "Tokio workers busy",
            TOKIO_BUSY_RATIO.description,
            "percentunit",
        )
        .target(each(&TOKIO_BUSY_RATIO), &legend(&per)),
        panel(
            "Tokio global queue depth",
            TOKIO_GLOBAL_QUEUE_DEPTH.description,
            unit(TOKIO_GLOBAL_QUEUE_DEPTH.unit),
        )
        .target(each(&TOKIO_GLOBAL_QUEUE_DEPTH), &legend(&per)),
        panel(
            "Tokio alive tasks",
            TOKIO_ALIVE_TASKS.description,
            unit(TOKIO_ALIVE_TASKS.unit),
        )
        .target(each(&TOKIO_ALIVE_TASKS), &legend(&per)),
        panel(
            "Tokio threads",
            &format!(
                "{} Beside them: {}",
                TOKIO_BLOCKING_THREADS.description,
                TOKIO_WORKERS.description.to_lowercase()
            ),
            unit(TOKIO_BLOCKING_THREADS.unit),
        )
        .target(
            each(&TOKIO_BLOCKING_THREADS),
            &format!("blocking {}", legend(&per)),
        )
        .target(each(&TOKIO_WORKERS), &format!("workers {}", legend(&per))),
    ]
}

fn probes(b: &Board<'_>) -> Vec<Panel> {
    let probe = [sdk::PROBE];
    let phases = [sdk::PROBE, sdk::PROBE_PHASE];
    vec![
        panel(
            "Probe success",
            &format!(
                "{} The lowest over the instances that run it.",
                PROBE_SUCCESS.description
            ),
            unit(PROBE_SUCCESS.unit),
        )
        .target(
            format!(
                "min by ({}) ({}{})",
                label(sdk::PROBE),
                PROBE_SUCCESS.prometheus_name(),
                b.sel(&[])
            ),
            &legend(&probe),
        )
        .stat(),
        panel(
            "Probe duration",
            PROBE_DURATION.description,
            unit(PROBE_DURATION.unit),
        )
        .target(
            b.server_level(&PROBE_DURATION, &probe, &[]),
            &legend(&probe),
        ),
        panel(
            "HTTP probe phases",
            &format!(
                "{} Stacked: the phases add up to the probe's duration.",
                PROBE_HTTP_DURATION.description
            ),
            unit(PROBE_HTTP_DURATION.unit),
        )
        .target(
            b.server_level(&PROBE_HTTP_DURATION, &phases, &[]),
            &legend(&phases),
        )
        .stack(),
        panel(
            "HTTP probe status code",
            PROBE_HTTP_STATUS_CODE.description,
            "none",
        )
        .target(
            b.server_level(&PROBE_HTTP_STATUS_CODE, &probe, &[]),
            &legend(&probe),
        ),
    ]
}

fn redis(b: &Board<'_>) -> Vec<Panel> {
    let legend_of = legend(&REDIS);
    let hits = b.server_rate(&REDIS_SERVER_KEYSPACE_HITS, &REDIS);
    let misses = b.server_rate(&REDIS_SERVER_KEYSPACE_MISSES, &REDIS);
    let role = [server::ADDRESS, server::PORT, sdk::REDIS_ROLE];
    vec![
        panel(
            "Redis memory",
            &format!(
                "{} Against {} and {}",
                REDIS_SERVER_MEMORY_USED.description,
                REDIS_SERVER_MEMORY_MAX.description.to_lowercase(),
                REDIS_SERVER_MEMORY_PEAK.description.to_lowercase()
            ),
            unit(REDIS_SERVER_MEMORY_USED.unit),
        )
        .target(
            b.server_level(&REDIS_SERVER_MEMORY_USED, &REDIS, &[]),
            &format!("used {legend_of}"),
        )
        .target(
            b.server_level(&REDIS_SERVER_MEMORY_MAX, &REDIS, &[]),
            &format!("max {legend_of}"),
        )
        .target(
            b.server_level(&REDIS_SERVER_MEMORY_PEAK, &REDIS, &[]),
            &format!("peak {legend_of}"),
        ),
        panel(
            "Redis memory fragmentation",
            REDIS_SERVER_MEMORY_FRAGMENTATION.description,
            unit(REDIS_SERVER_MEMORY_FRAGMENTATION.unit),
        )
        .target(
            b.server_level(&REDIS_SERVER_MEMORY_FRAGMENTATION, &REDIS, &[]),
            &legend_of,
        ),
        panel(
            "Redis evictions and expirations",
            &format!(
                "Per second: {} {}",
                REDIS_SERVER_KEYS_EVICTED.description, REDIS_SERVER_KEYS_EXPIRED.description
            ),
            "ops",
        )
        .target(
            b.server_rate(&REDIS_SERVER_KEYS_EVICTED, &REDIS),
            &format!("evicted {legend_of}"),
        )
        .target(
            b.server_rate(&REDIS_SERVER_KEYS_EXPIRED, &REDIS),
            &format!("expired {legend_of}"),
        ),
        panel(
            "Redis server hit ratio",
            &format!(
                "Key lookups that found their key, over the dashboard's rate interval; \
                 beside it the server's own figure: {}",
                REDIS_SERVER_KEYSPACE_HIT_RATIO.description.to_lowercase()
            ),
            "percentunit",
        )
        .target(
            format!("{hits}\n/\n(({hits} + {misses}) > 0)"),
            &format!("window {legend_of}"),
        )
        .target(
            b.server_level(&REDIS_SERVER_KEYSPACE_HIT_RATIO, &REDIS, &[]),
            &format!("since reset {legend_of}"),
        ),
        panel(
            "Redis clients",
            &format!(
                "{} {}",
                REDIS_SERVER_CLIENTS_CONNECTED.description,
                REDIS_SERVER_CLIENTS_BLOCKED.description
            ),
            unit(REDIS_SERVER_CLIENTS_CONNECTED.unit),
        )
        .target(
            b.server_level(&REDIS_SERVER_CLIENTS_CONNECTED, &REDIS, &[]),
            &format!("connected {legend_of}"),
        )
        .target(
            b.server_level(&REDIS_SERVER_CLIENTS_BLOCKED, &REDIS, &[]),
            &format!("blocked {legend_of}"),
        ),
        panel(
            "Redis commands per second",
            REDIS_SERVER_OPS_PER_SECOND.description,
            "ops",
        )
        .target(
            b.server_level(&REDIS_SERVER_OPS_PER_SECOND, &REDIS, &[]),
            &legend_of,
        ),
        panel(
            "Redis role",
            REDIS_SERVER_ROLE.description,
            unit(REDIS_SERVER_ROLE.unit),
        )
        .target(
            format!("{} == 1", b.server_level(&REDIS_SERVER_ROLE, &role, &[])),
            &legend(&role),
        )
        .stat(),
    ]
}

fn database_insights(b: &Board<'_>) -> Vec<Panel> {
    let statement = [db::QUERY_SUMMARY, sdk::DB_QUERY_ID];
    let table = [db::NAMESPACE, db::COLLECTION_NAME];
    let index = [db::NAMESPACE, db::COLLECTION_NAME, sdk::DB_INDEX];
    let scans = [db::COLLECTION_NAME, sdk::DB_SCAN];
    let top = |expr: String| format!("topk({TOP}, {expr})");
    vec![
        panel(
            "Top statements by execution time",
            &format!(
                "The {TOP} statements with the most execution time. {}",
                DB_STATEMENT_EXEC_TIME.description
            ),
            unit(DB_STATEMENT_EXEC_TIME.unit),
        )
        .target(
            top(b.server_level(&DB_STATEMENT_EXEC_TIME, &statement, &[])),
            &legend(&[db::QUERY_SUMMARY]),
        ),
        panel(
            "Table scans",
            &format!(
                "Per second: {} Sequential scans of a large table suggest a missing index.",
                DB_TABLE_SCANS.description
            ),
            "ops",
        )
        .target(b.server_rate(&DB_TABLE_SCANS, &scans), &legend(&scans)),
        panel(
            "Largest tables",
            &format!("The {TOP} largest tables. {}", DB_TABLE_SIZE.description),
            unit(DB_TABLE_SIZE.unit),
        )
        .target(
            top(b.server_level(&DB_TABLE_SIZE, &table, &[])),
            &legend(&table),
        ),
        panel(
            "Largest indexes",
            &format!("The {TOP} largest indexes. {}", DB_INDEX_SIZE.description),
            unit(DB_INDEX_SIZE.unit),
        )
        .target(
            top(b.server_level(&DB_INDEX_SIZE, &index, &[])),
            &legend(&index),
        ),
        panel(
            "Insight findings",
            DB_INSIGHT_FINDINGS.description,
            unit(DB_INSIGHT_FINDINGS.unit),
        )
        .target(
            b.server_level(&DB_INSIGHT_FINDINGS, &[db::NAMESPACE, sdk::FINDING], &[]),
            &legend(&[db::NAMESPACE, sdk::FINDING]),
        ),
        panel(
            "Slow-query plan findings",
            DB_CLIENT_PLAN_FINDINGS.description,
            "ops",
        )
        .target(
            b.rate(
                &DB_CLIENT_PLAN_FINDINGS,
                "",
                &[db::COLLECTION_NAME, sdk::FINDING],
                &[],
            ),
            &legend(&[db::COLLECTION_NAME, sdk::FINDING]),
        ),
        panel("Slow-query plans", DB_CLIENT_PLANS.description, "ops").target(
            b.rate(&DB_CLIENT_PLANS, "", &[db::SYSTEM_NAME, sdk::RESULT], &[]),
            &legend(&[db::SYSTEM_NAME, sdk::RESULT]),
        ),
    ]
}

fn cache_and_collectors(b: &Board<'_>) -> Vec<Panel> {
    let kind = [cache::KEY_PREFIX, sdk::CACHE_INVALIDATION];
    let prefix = [cache::KEY_PREFIX];
    let collector = [sdk::COLLECTOR, sdk::RESULT];
    vec![
        panel(
            "Cache invalidations",
            &format!(
                "Per second: {} {}",
                CACHE_INVALIDATIONS.description, CACHE_INVALIDATED_KEYS.description
            ),
            "ops",
        )
        .target(
            b.rate(&CACHE_INVALIDATIONS, "", &kind, &[]),
            &format!("invalidations {}", legend(&kind)),
        )
        .target(
            b.rate(&CACHE_INVALIDATED_KEYS, "", &kind, &[]),
            &format!("keys {}", legend(&kind)),
        ),
        panel("Stale serves", CACHE_STALE_SERVES.description, "ops").target(
            b.rate(&CACHE_STALE_SERVES, "", &prefix, &[]),
            &legend(&prefix),
        ),
        panel(
            "Compression savings",
            &format!("Per second: {}", CACHE_COMPRESSION_SAVED.description),
            "Bps",
        )
        .target(
            b.rate(&CACHE_COMPRESSION_SAVED, "", &prefix, &[]),
            &legend(&prefix),
        ),
        panel(
            "Collector duration p95",
            COLLECTOR_DURATION.description,
            unit(COLLECTOR_DURATION.unit),
        )
        .target(
            b.quantile(0.95, &COLLECTOR_DURATION, &collector, &[]),
            &legend(&collector),
        ),
        panel("CPU profiles", PROFILES.description, "ops").target(
            b.rate(&PROFILES, "", &[sdk::RESULT], &[]),
            &legend(&[sdk::RESULT]),
        ),
    ]
}

/// The board's panels, section by section.
pub(super) fn panels(b: &Board<'_>) -> Vec<Panel> {
    let mut out = process(b);
    out.extend(probes(b));
    out.extend(redis(b));
    out.extend(database_insights(b));
    out.extend(cache_and_collectors(b));
    out
}

#[cfg(test)]
mod tests {
    use super::super::super::rules::Names;
    use super::super::super::spec::Spec;
    use super::*;

    /// Every metric the board is about is on it, and every panel says what it shows.
    #[test]
    fn every_runtime_metric_has_a_described_panel() {
        let spec = Spec::from_yaml("service: shop\nrunbook_url: https://x/runbook\n").unwrap();
        let b = Board {
            spec: &spec,
            n: Names::of(&spec),
        };
        let panels = panels(&b);
        let exprs: Vec<&str> = panels
            .iter()
            .flat_map(|p| p.targets.iter().map(|(expr, _)| expr.as_str()))
            .collect();
        for def in [
            &PROCESS_CPU,
            &PROCESS_OPEN_FDS,
            &TOKIO_BUSY_RATIO,
            &PROBE_SUCCESS,
            &PROBE_HTTP_DURATION,
            &REDIS_SERVER_MEMORY_USED,
            &REDIS_SERVER_ROLE,
            &DB_STATEMENT_EXEC_TIME,
            &DB_TABLE_SCANS,
            &DB_INSIGHT_FINDINGS,
            &DB_CLIENT_PLANS,
            &CACHE_STALE_SERVES,
            &COLLECTOR_DURATION,
            &PROFILES,
        ] {
            let name = def.prometheus_name();
            assert!(
                exprs.iter().any(|e| e.contains(&name)),
                "{name} is on no panel"
            );
        }
        for p in &panels {
            assert!(
                !p.description.is_empty() && !p.unit.is_empty(),
                "{}",
                p.title
            );
            assert!(exprs.iter().all(|e| e.contains("job=\"shop\"")));
        }
        let phases = panels
            .iter()
            .find(|p| p.title == "HTTP probe phases")
            .unwrap();
        assert!(phases.stacked);
    }
}
