//! Secrets in no sink: a service instrumented with every SDK crate receives a corpus of
//! secrets through every path a secret takes in real services — `Authorization`, cookie
//! and API-key headers, query strings, URL credentials of an outbound call, SQL literals in
//! every syntax (PostgreSQL and SQLite), bound parameters, database errors that quote
//! values, Redis `AUTH`/`HELLO`/`SET`/`MSET`/`HSET`/`CONFIG SET` arguments and an unknown
//! command's arguments, a cached value, a panic message, browser beacons (error messages,
//! URLs) and the exporters' own credentials in the environment. Then everything that left
//! the process is searched: OTLP traces, metrics and logs, Datadog traces, DogStatsD
//! datagrams, the Prometheus text and the JSON log lines on stdout. Every sink must have
//! received the telemetry of those paths (so the search means something) and hold none of
//! the secrets.
//!
//! The service is this test binary run again with [`SERVICE_ENV`] set, so that its stdout
//! (the JSON logs) is a sink the test reads whole.

mod common;

use bytes::Bytes;
use common::statsd::StatsdListener;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Set in the child process: it serves instead of testing.
const SERVICE_ENV: &str = "SDK_SECRETS_SERVICE";
/// The child's Redis keys start with this (and are deleted at the end).
const KEY_PREFIX: &str = "secrets-probe:";

/// Every secret the test sends, each unique to its path, so a hit names the leak.
const SECRETS: &[&str] = &[
    // HTTP server: headers and query string.
    "httpsecretbearer",
    "httpsecretcookie",
    "httpsecretapikey",
    "httpsecretquery",
    "httpsecretsetcookie",
    // Outbound HTTP: query, basic credentials in the URL, Authorization.
    "clientsecretquery",
    "clientsecretuserinfo",
    "clientsecretbasic",
    // SQL literals, bound values and database error messages.
    "sqlsecretplain",
    "sqlsecretescape",
    "sqlsecretdollar",
    "sqlsecrettagged",
    "sqlsecretunicode",
    "sqlsecretnational",
    "5EC12E7AB1E0",
    "4111111111111111",
    "sqlsecretbound",
    "sqlsecretcast",
    "sqlsecretduplicate",
    "sqlsecretintx",
    "sqlitesecretplain",
    "sqlitesecretdouble",
    "5EC17E5B10B0",
    "sqlitesecretnotnull",
    // Redis.
    "redissecretauth",
    "redissecretacl",
    "redissecrethello",
    "redissecretset",
    "redissecretmset",
    "redissecrethset",
    "redissecretconfig",
    "redissecretunknown",
    "redissecretcached",
    "redissecretcorrupt",
    // A panic message.
    "panicsecret",
    // Browser beacons.
    "beaconsecreterror",
    "beaconsecreturl",
    "beaconsecretscript",
    "beaconsecretroute",
    // The exporters' own credentials.
    "envsecretotlpheader",
    "envsecretddapikey",
];

#[test]
fn secrets_reach_no_sink() {
    if std::env::var_os(SERVICE_ENV).is_some() {
        service::run();
        return;
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(drive());
}

/// The child: the service whose sinks are searched.
mod service {
    use axum::Router;
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::{IntoResponse, Response};
    use axum::routing::get;
    use sdk_core::config::Config;
    use sdk_sqlx::InstrumentedPool;
    use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
    use sqlx::{ConnectOptions, Postgres, Sqlite};
    use std::sync::{Arc, OnceLock};
    use std::time::Duration;

    #[derive(Clone)]
    struct Probe {
        pg: InstrumentedPool<Postgres>,
        sqlite: InstrumentedPool<Sqlite>,
        redis: sdk_redis::InstrumentedConnection<redis::aio::MultiplexedConnection>,
        cache: sdk_redis::Cache<redis::aio::MultiplexedConnection>,
        client: reqwest_middleware::ClientWithMiddleware,
        base: Arc<OnceLock<String>>,
    }

    pub(super) fn run() {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(serve());
    }

    async fn serve() {
        let config = Config::builder()
            .default_service_name("secrets-probe")
            .build()
            .expect("the configuration the test set is valid");
        let telemetry = sdk_core::builder(config).init().expect("telemetry starts");
        let shutdown = sdk_core::shutdown::shutdown_signal();
        sdk_tower::panic::record_panic_locations();
        let db_config = sdk_sqlx::SqlxConfig::from_installed().expect("sqlx configuration");

        let pg = PgPoolOptions::new()
            .max_connections(2)
            .connect_with(
                "postgres://postgres@127.0.0.1:5432/test"
                    .parse::<PgConnectOptions>()
                    .expect("a PostgreSQL URL")
                    .disable_statement_logging(),
            )
            .await
            .expect("PostgreSQL at 127.0.0.1:5432 (database test) is reachable");
        let sqlite_file =
            std::env::temp_dir().join(format!("sdk-secrets-{}.sqlite", std::process::id()));
        let sqlite = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(
                SqliteConnectOptions::new()
                    .filename(&sqlite_file)
                    .create_if_missing(true)
                    .disable_statement_logging(),
            )
            .await
            .expect("a SQLite file");
        let client = redis::Client::open("redis://127.0.0.1:6379").expect("a Redis URL");
        let connection = tokio::time::timeout(
            Duration::from_secs(30),
            client.get_multiplexed_async_connection(),
        )
        .await
        .expect("Redis at 127.0.0.1:6379 answers within 30 s")
        .expect("Redis at 127.0.0.1:6379 is reachable");
        let redis_config =
            sdk_redis::RedisConfig::from_client(&client).key_prefixes([super::KEY_PREFIX]);
        let redis = sdk_redis::InstrumentedConnection::new(connection, redis_config);
        let probe = Probe {
            pg: InstrumentedPool::new(pg, db_config.clone()),
            sqlite: InstrumentedPool::new(sqlite, db_config),
            cache: sdk_redis::Cache::new(redis.clone(), Duration::from_secs(5)),
            redis,
            client: reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
                .with(sdk_tower::ReqwestMiddleware::new())
                .build(),
            base: Arc::default(),
        };

        let mut router = Router::new()
            .route("/login", get(login))
            .route("/call", get(call))
            .route("/sql", get(sql))
            .route("/redis", get(redis_commands))
            .route("/panic", get(panicking))
            .route_service(
                "/rum",
                sdk_tower::rum::RumIngest::new()
                    .routes(["/", "/login"])
                    .allow_any_origin(),
            );
        if let Some(metrics) = telemetry.metrics_service() {
            router = router.route_service("/metrics", metrics);
        }
        let app = router
            .layer(sdk_tower::CatchPanicLayer::new())
            .layer(sdk_tower::HttpServerLayer::new().record_headers([
                "authorization",
                "cookie",
                "user-agent",
                "x-api-key",
            ]))
            .with_state(probe.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let addr = listener.local_addr().expect("local address").to_string();
        let _ = probe.base.set(format!("http://{addr}"));
        tracing::info!(addr = %addr, "listening");
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
            .expect("serves");
        probe.pg.inner().close().await;
        probe.sqlite.inner().close().await;
        let _ = std::fs::remove_file(&sqlite_file);
        tracing::info!("shutting down");
        telemetry.shutdown();
    }

    /// Headers and the query string carry secrets; the answer sets a secret cookie.
    async fn login(headers: HeaderMap) -> Response {
        tracing::info!(
            has_authorization = headers.contains_key("authorization"),
            "login"
        );
        (
            [("set-cookie", "session=httpsecretsetcookie; HttpOnly")],
            "welcome\n",
        )
            .into_response()
    }

    /// An outbound call with a secret query, URL credentials and `Authorization`.
    async fn call(State(probe): State<Probe>) -> Response {
        let base = probe.base.get().cloned().unwrap_or_default();
        let with_userinfo = base.replacen("http://", "http://probe:clientsecretuserinfo@", 1);
        let mut statuses = Vec::new();
        for (url, auth) in [
            (
                format!("{base}/login?token=clientsecretquery"),
                "Basic clientsecretbasic",
            ),
            (format!("{with_userinfo}/login"), "Bearer clientsecretbasic"),
        ] {
            match probe
                .client
                .get(url)
                .header("authorization", auth)
                .send()
                .await
            {
                Ok(answer) => statuses.push(answer.status().as_u16()),
                Err(_) => return StatusCode::BAD_GATEWAY.into_response(),
            }
        }
        axum::Json(statuses).into_response()
    }

    /// Statements with literals in every syntax, bound values, and statements whose
    /// errors quote values; the answer counts the errors (which the test expects).
    async fn sql(State(probe): State<Probe>) -> Response {
        let mut failed = 0_u32;
        for statement in [
            "SELECT 'sqlsecretplain' AS v",
            "SELECT E'sqlsecretescape\\n' AS v",
            "SELECT $$sqlsecretdollar$$ AS v",
            "SELECT $tag$sqlsecrettagged$tag$ AS v",
            "SELECT U&'sqlsecretunicode' AS v",
            "SELECT N'sqlsecretnational' AS v",
            "SELECT X'5EC12E7AB1E0' AS v",
            "SELECT 4111111111111111 AS card",
            // invalid input syntax for type integer: "sqlsecretcast"
            "SELECT 'sqlsecretcast'::int AS v",
        ] {
            if sqlx::query(statement).execute(&probe.pg).await.is_err() {
                failed += 1;
            }
        }
        if sqlx::query("SELECT $1::text AS v")
            .bind("sqlsecretbound")
            .execute(&probe.pg)
            .await
            .is_err()
        {
            failed += 1;
        }
        // A unique violation quotes the duplicate value in its detail; an invalid value in
        // a transaction quotes it in its message.
        match probe.pg.begin().await {
            Ok(mut tx) => {
                for statement in [
                    "CREATE TEMP TABLE secrets_probe (v TEXT UNIQUE) ON COMMIT DROP",
                    "INSERT INTO secrets_probe VALUES ('sqlsecretduplicate')",
                    "INSERT INTO secrets_probe VALUES ('sqlsecretduplicate')",
                ] {
                    if sqlx::query(statement).execute(&mut *tx).await.is_err() {
                        failed += 1;
                    }
                }
                let _ = tx.rollback().await;
            }
            Err(_) => failed += 100,
        }
        match probe.pg.begin().await {
            Ok(mut tx) => {
                if sqlx::query("SELECT 'sqlsecretintx'::int")
                    .execute(&mut *tx)
                    .await
                    .is_err()
                {
                    failed += 1;
                }
                let _ = tx.rollback().await;
            }
            Err(_) => failed += 100,
        }
        for statement in [
            "SELECT 'sqlitesecretplain' AS v",
            // SQLite takes a double-quoted word that names no column as a string.
            "SELECT \"sqlitesecretdouble\" AS v",
            "SELECT X'5EC17E5B10B0' AS v",
            "CREATE TABLE IF NOT EXISTS probe (v TEXT NOT NULL CHECK (v <> 'sqlitesecretnotnull'))",
            // CHECK constraint failed: v <> 'sqlitesecretnotnull'
            "INSERT INTO probe VALUES ('sqlitesecretnotnull')",
        ] {
            if sqlx::query(statement).execute(&probe.sqlite).await.is_err() {
                failed += 1;
            }
        }
        axum::Json(serde_json::json!({ "failed": failed })).into_response()
    }

    /// Commands carrying secrets (most refused by a server without a password, which is
    /// a path too: the refusal is recorded), and a cached value.
    async fn redis_commands(State(probe): State<Probe>) -> Response {
        let key = |k: &str| format!("{}{k}", super::KEY_PREFIX);
        let commands: Vec<redis::Cmd> = vec![
            redis::cmd("AUTH").arg("redissecretauth").clone(),
            redis::cmd("AUTH")
                .arg("probe-user")
                .arg("redissecretacl")
                .clone(),
            redis::cmd("HELLO")
                .arg(3)
                .arg("AUTH")
                .arg("probe-user")
                .arg("redissecrethello")
                .clone(),
            redis::cmd("SET")
                .arg(key("set"))
                .arg("redissecretset")
                .arg("EX")
                .arg(60)
                .clone(),
            redis::cmd("MSET")
                .arg(key("mset"))
                .arg("redissecretmset")
                .clone(),
            redis::cmd("HSET")
                .arg(key("hset"))
                .arg("field")
                .arg("redissecrethset")
                .clone(),
            redis::cmd("CONFIG")
                .arg("SET")
                .arg("no-such-parameter")
                .arg("redissecretconfig")
                .clone(),
            // Refused, and the refusal quotes the arguments.
            redis::cmd("NOSUCHCOMMAND")
                .arg(key("unknown"))
                .arg("redissecretunknown")
                .clone(),
        ];
        let mut connection = probe.redis.clone();
        let mut failed = 0_u32;
        for command in commands {
            let reply: redis::RedisResult<redis::Value> =
                command.query_async(&mut connection).await;
            if reply.is_err() {
                failed += 1;
            }
        }
        let loaded = probe
            .cache
            .get_or_load(&key("cached"), Duration::from_secs(60), || async {
                Ok::<_, String>("redissecretcached".to_owned())
            })
            .await;
        // A cached value of the wrong type: the decoder's error quotes it.
        let stored: redis::RedisResult<()> = redis::cmd("SET")
            .arg(key("corrupt"))
            .arg("\"redissecretcorrupt\"")
            .query_async(&mut connection)
            .await;
        let reloaded = probe
            .cache
            .get_or_load(&key("corrupt"), Duration::from_secs(60), || async {
                Ok::<u64, String>(7)
            })
            .await;
        let cleanup: redis::RedisResult<i64> = redis::cmd("DEL")
            .arg(key("corrupt"))
            .arg(key("set"))
            .arg(key("mset"))
            .arg(key("hset"))
            .arg(key("cached"))
            .query_async(&mut connection)
            .await;
        axum::Json(serde_json::json!({
            "failed": failed,
            "cached": loaded.is_ok() && stored.is_ok() && reloaded.is_ok_and(|n| n == 7),
            "deleted": cleanup.unwrap_or(-1),
        }))
        .into_response()
    }

    async fn panicking() -> &'static str {
        let secret = std::hint::black_box("panicsecret");
        panic!("token {secret} rejected");
    }
}

/// The child service, its stdout read line by line.
struct ServiceProcess {
    child: Child,
    lines: mpsc::Receiver<String>,
    stdout: Vec<String>,
}

impl ServiceProcess {
    fn start(env: &[(&str, &str)]) -> (Self, String) {
        let mut command = Command::new(std::env::current_exe().expect("the test binary"));
        command
            .args(["--exact", "secrets_reach_no_sink", "--nocapture"])
            .env(SERVICE_ENV, "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy().into_owned();
            if key.starts_with("OTEL_") || key.starts_with("DD_") || key == "RUST_LOG" {
                command.env_remove(key);
            }
        }
        command.envs(env.iter().copied());
        let mut child = command.spawn().expect("the service process starts");
        let lines = common::stdout_lines(&mut child);
        let mut service = Self {
            child,
            lines,
            stdout: Vec::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        let addr = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = service
                .lines
                .recv_timeout(left)
                .expect("the service logs `listening` within 60 s (PostgreSQL and Redis up?)");
            service.stdout.push(line.clone());
            if let Ok(value) = serde_json::from_str::<Value>(&line)
                && value["message"] == "listening"
            {
                break value["fields"]["addr"]
                    .as_str()
                    .expect("an addr field")
                    .to_owned();
            }
        };
        (service, addr)
    }

    /// SIGTERM, then every stdout line until the process exits (up to 60 s).
    fn stop(&mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -TERM failed");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.stdout.push(line),
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    panic!("the service had not closed stdout 60 s after SIGTERM")
                }
            }
        }
        let exit = self.child.wait().expect("wait");
        assert!(exit.success(), "the service exits 0 after SIGTERM: {exit}");
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `method` `http://{addr}{path}` with `headers` and `body`: status and body text.
async fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut builder = http::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let answer = tokio::time::timeout(
        Duration::from_secs(60),
        client.request(
            builder
                .body(Full::new(Bytes::from(body.to_owned())))
                .unwrap(),
        ),
    )
    .await
    .unwrap_or_else(|_| panic!("{method} {path} answered within 60 s"))
    .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let status = answer.status().as_u16();
    let text = answer
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes();
    (status, String::from_utf8_lossy(&text).into_owned())
}

/// Polls `check` every 100 ms until it holds, up to `timeout`; panics with `what`.
async fn wait_until(timeout: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "after {timeout:?}: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `(sink, secret, the text around it)` for every secret found in `text`.
fn hits(sink: &str, text: &str) -> Vec<String> {
    let lower = text.to_ascii_lowercase();
    SECRETS
        .iter()
        .filter_map(|secret| {
            let at = lower.find(&secret.to_ascii_lowercase())?;
            let start = text.floor_char_boundary(at.saturating_sub(120));
            let end = text.ceil_char_boundary((at + secret.len() + 120).min(text.len()));
            Some(format!("{sink}: {secret} in …{}…", &text[start..end]))
        })
        .collect()
}

async fn drive() {
    let agent = sdk_core::testing::TestAgent::start().expect("the Datadog test agent starts");
    let receiver = sdk_core::testing::otlp::OtlpReceiver::start().expect("the OTLP receiver");
    let statsd = StatsdListener::start();
    let otlp = format!("http://{}", receiver.http_addr);
    let statsd_url = format!("udp://{}", statsd.addr);
    let (mut service, addr) = ServiceProcess::start(&[
        ("OTEL_TRACES_EXPORTER", "datadog,otlp"),
        ("OTEL_METRICS_EXPORTER", "otlp,dogstatsd,prometheus"),
        ("OTEL_LOGS_EXPORTER", "otlp,console"),
        ("DD_TRACE_AGENT_URL", &agent.url()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &otlp),
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            "authorization=Bearer%20envsecretotlpheader",
        ),
        ("DD_API_KEY", "envsecretddapikey"),
        ("DD_DOGSTATSD_URL", &statsd_url),
        ("RUST_LOG", "debug,h2=info,hyper=info,tower=info"),
    ]);

    // HTTP server paths.
    let (status, _) = request(
        &addr,
        "GET",
        "/login?token=httpsecretquery&user=probe",
        &[
            ("authorization", "Bearer httpsecretbearer"),
            ("cookie", "session=httpsecretcookie; theme=dark"),
            ("x-api-key", "httpsecretapikey"),
            ("user-agent", "secrets-probe/1"),
        ],
        "",
    )
    .await;
    assert_eq!(status, 200, "/login");
    // Outbound calls (the service calls its own /login).
    let (status, body) = request(&addr, "GET", "/call", &[], "").await;
    assert_eq!((status, body.as_str()), (200, "[200,200]"), "/call");
    // Databases: 2 cast errors, 1 unique violation and 1 CHECK failure are expected.
    let (status, body) = request(&addr, "GET", "/sql", &[], "").await;
    assert_eq!(status, 200, "/sql: {body}");
    let failed: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(
        failed["failed"], 4,
        "the statements that quote their values in errors failed, the others ran: {body}"
    );
    // Redis: AUTH ×2, HELLO … AUTH, CONFIG SET and the unknown command are refused.
    let (status, body) = request(&addr, "GET", "/redis", &[], "").await;
    assert_eq!(status, 200, "/redis: {body}");
    let redis: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(redis["failed"], 5, "{body}");
    assert_eq!(redis["cached"], true, "{body}");
    assert_eq!(
        redis["deleted"], 5,
        "every key the probe wrote is deleted: {body}"
    );
    // A panic carrying a secret.
    let (status, _) = request(&addr, "GET", "/panic", &[], "").await;
    assert_eq!(status, 500, "/panic");
    // Browser beacons: an error message, URLs with secret queries, a raw path as route.
    for beacon in [
        r##"{"service":"web","route":"/login","vitals":[{"name":"LCP","value":1800,"delta":1800,
            "id":"v6-1-1","rating":"good","navigationType":"navigate","attribution":{"target":"#hero",
            "url":"https://shop.example/hero.png?token=beaconsecreturl","timeToFirstByte":20,
            "resourceLoadDelay":100,"resourceLoadDuration":1500,"elementRenderDelay":180}},
            {"name":"INP","value":161,"delta":161,"id":"v6-1-2","rating":"good","navigationType":"navigate",
            "attribution":{"interactionType":"pointer","inputDelay":2,"processingDuration":150,
            "presentationDelay":9,"loadState":"complete","scriptUrl":"https://shop.example/app.js?key=beaconsecretscript",
            "scriptInvoker":"BUTTON#buy.onclick","scriptSubpart":"processing-duration","scriptDuration":149}}],
            "errors":[{"kind":"error","message":"TypeError: token beaconsecreterror is invalid"}]}"##,
        r#"{"service":"web","route":"/reset/beaconsecretroute","vitals":[{"name":"FCP","value":900,
            "delta":900,"id":"v6-1-3","rating":"good","navigationType":"navigate"}]}"#,
    ] {
        let (status, body) = request(
            &addr,
            "POST",
            "/rum",
            &[("content-type", "text/plain;charset=UTF-8")],
            beacon,
        )
        .await;
        assert_eq!(status, 204, "beacon accepted: {body}");
    }
    let (status, prometheus) = request(&addr, "GET", "/metrics", &[], "").await;
    assert_eq!(status, 200);
    service.stop();

    // Every sink received the telemetry of those paths.
    let received = receiver.received();
    let spans = receiver.spans();
    for name in ["GET /login", "GET /sql", "GET /redis", "GET /panic"] {
        assert!(
            spans.iter().any(|s| s.name == name),
            "OTLP has the span {name}: {:?}",
            spans.iter().map(|s| &s.name).collect::<Vec<_>>()
        );
    }
    for kind in ["SELECT", "INSERT", "AUTH", "SET", "HSET", "GET"] {
        assert!(
            spans.iter().any(|s| s.name.starts_with(kind)),
            "OTLP has a {kind} span: {:?}",
            spans.iter().map(|s| &s.name).collect::<Vec<_>>()
        );
    }
    assert!(!received.logs.is_empty(), "OTLP logs arrived");
    assert!(!received.metrics.is_empty(), "OTLP metrics arrived");
    let mut dd_traces = String::new();
    wait_until(
        Duration::from_secs(30),
        "the Datadog agent has the /panic span",
        || {
            let (status, traces) = agent
                .get("/test/session/traces")
                .expect("the agent answers");
            dd_traces = traces.to_string();
            status == 200 && dd_traces.contains("GET /panic") && dd_traces.contains("GET /sql")
        },
    )
    .await;
    wait_until(
        Duration::from_secs(30),
        "DogStatsD received the request durations",
        || {
            statsd
                .lines()
                .iter()
                .any(|l| l.starts_with("http.server.request.duration:"))
        },
    )
    .await;
    assert!(
        prometheus.contains("http_server_request_duration_seconds_count")
            && prometheus.contains("db_client_operation_duration_seconds_count")
            && prometheus.contains("browser_web_vital_duration_seconds_count"),
        "the Prometheus text has the HTTP, database and browser metrics"
    );
    let stdout = service.stdout.join("\n");
    for message in ["login", "handler panicked", "web vital attribution"] {
        assert!(
            service
                .stdout
                .iter()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .any(|l| l["message"] == message),
            "stdout has the JSON log line {message:?}"
        );
    }

    // And none of the secrets.
    let mut found = Vec::new();
    found.extend(hits("OTLP traces", &format!("{:?}", received.traces)));
    found.extend(hits("OTLP metrics", &format!("{:?}", received.metrics)));
    found.extend(hits("OTLP logs", &format!("{:?}", received.logs)));
    found.extend(hits("Datadog traces", &dd_traces));
    found.extend(hits("DogStatsD", &statsd.lines().join("\n")));
    found.extend(hits("Prometheus", &prometheus));
    found.extend(hits("stdout", &stdout));
    eprintln!(
        "searched {} OTLP spans, {} OTLP log requests, {} OTLP metric requests, {} bytes of Datadog traces, {} DogStatsD lines, {} bytes of Prometheus text, {} stdout lines for {} secrets: {} hits",
        spans.len(),
        received.logs.len(),
        received.metrics.len(),
        dd_traces.len(),
        statsd.lines().len(),
        prometheus.len(),
        service.stdout.len(),
        SECRETS.len(),
        found.len()
    );
    assert!(
        found.is_empty(),
        "secrets left the process:\n{}",
        found.join("\n")
    );
}
