//! A real Prometheus (Debian's `prometheus`, installed by `cargo xtask test`) scraping one
//! target every second, on a free port with its storage in a temporary directory, and
//! polling helpers to wait for conditions instead of sleeping.

use serde_json::Value;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free loopback address (bound, then released).
pub(crate) fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
}

/// Polls `check` every 200 ms until it yields a value; panics naming `what` after `limit`.
pub(crate) async fn eventually<T>(
    what: &str,
    limit: Duration,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            started.elapsed() < limit,
            "gave up after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Seconds since the Unix epoch (Prometheus' query time).
pub(crate) fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

/// Prometheus scraping `target` as job `demo`; killed when dropped.
pub(crate) struct Prometheus {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub(crate) url: String,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts Prometheus and waits (up to 60 s) until its target is up.
    pub(crate) async fn start(target: &str) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\n\
                 scrape_configs: [{{job_name: demo, static_configs: [{{targets: ['{target}']}}]}}]\n"
            ),
        )
        .expect("write prometheus.yml");
        let addr = free_addr();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("tsdb").display()))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start prometheus: {e}; `cargo xtask test` installs it (Debian prometheus)")
            });
        let prometheus = Self {
            child,
            url: format!("http://{addr}"),
            client: reqwest::Client::new(),
            _dir: dir,
        };
        eventually(
            &format!("Prometheus at {addr} to report its target {target} up"),
            Duration::from_secs(60),
            async || {
                let answer = prometheus.get("/api/v1/targets", &[]).await?;
                (answer["data"]["activeTargets"][0]["health"] == "up").then_some(())
            },
        )
        .await;
        prometheus
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Option<Value> {
        let answer = self
            .client
            .get(format!("{}{path}", self.url))
            .query(query)
            .send()
            .await
            .ok()?;
        serde_json::from_slice(&answer.bytes().await.ok()?).ok()
    }

    /// The instant query `expr` at `time`: Prometheus' whole answer (`None` when it does
    /// not answer with JSON).
    pub(crate) async fn query(&self, expr: &str, time: f64) -> Option<Value> {
        self.get(
            "/api/v1/query",
            &[("query", expr), ("time", &format!("{time:.3}"))],
        )
        .await
    }

    /// The first sample's value of the instant query `expr` at `time`; `None` when the
    /// result is empty or Prometheus does not answer.
    pub(crate) async fn value(&self, expr: &str, time: f64) -> Option<f64> {
        let answer = self.query(expr, time).await?;
        assert_eq!(answer["status"], "success", "{expr}: {answer}");
        answer["data"]["result"][0]["value"][1]
            .as_str()?
            .parse()
            .ok()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
