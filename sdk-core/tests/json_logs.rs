//! JSON log lines parsed back, with correlation fields checked against the active span.

use sdk_core::config::ServiceInfo;
use sdk_core::propagation::{SpanContext, SpanId, TraceId};
use sdk_core::testing::CapturedLogs;
use sdk_core::trace::{set_parent, set_user_id, span_context};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

fn service() -> ServiceInfo {
    ServiceInfo {
        name: "checkout".into(),
        version: Some("1.4.2".into()),
        environment: Some("prod".into()),
    }
}

#[test]
fn line_schema_and_correlation_with_the_active_span() {
    let logs = CapturedLogs::default();
    let remote = SpanContext::new(
        TraceId::new(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736).unwrap(),
        SpanId::new(0x00f0_67aa_0ba9_02b7).unwrap(),
        true,
    );
    let (expected_trace, expected_span) =
        tracing::subscriber::with_default(logs.subscriber(&service()), || {
            let request = tracing::info_span!(
                "GET /users/{id}",
                request_id = "req-42",
                user.id = tracing::field::Empty
            );
            assert!(set_parent(&request, &remote));
            let _request = request.enter();
            set_user_id(&request, "u-7");
            let query = tracing::info_span!("SELECT users");
            let _query = query.enter();
            tracing::warn!(
                rows = 3u64,
                ratio = 0.5,
                cached = false,
                table = "users",
                "slow \"query\"\n"
            );
            let ctx = span_context(&query).unwrap();
            (ctx.trace_id, ctx.span_id)
        });

    let lines = logs.lines();
    assert_eq!(lines.len(), 1, "{}", logs.text());
    let line = &lines[0];
    let ts = line["timestamp"].as_str().unwrap();
    let parsed = OffsetDateTime::parse(ts, &Rfc3339).unwrap();
    assert!(
        (OffsetDateTime::now_utc() - parsed).whole_seconds().abs() < 60,
        "{ts}"
    );
    assert!(ts.ends_with('Z'), "{ts}");
    assert_eq!(line["level"], "WARN");
    assert_eq!(line["target"], "json_logs");
    assert_eq!(line["message"], "slow \"query\"\n");
    assert_eq!(line["fields"]["rows"], 3);
    assert_eq!(line["fields"]["ratio"], 0.5);
    assert_eq!(line["fields"]["cached"], false);
    assert_eq!(line["fields"]["table"], "users");
    assert_eq!(line["span"], "SELECT users");

    // The trace continues the remote parent; the span id is the innermost span's.
    assert_eq!(expected_trace, remote.trace_id);
    assert_eq!(line["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(line["span_id"], expected_span.to_hex());
    assert_eq!(line["dd.trace_id"], remote.trace_id.low_u64().to_string());
    assert_eq!(line["dd.trace_id"], "11803532876627986230");
    assert_eq!(line["dd.span_id"], expected_span.get().to_string());
    assert_eq!(line["request_id"], "req-42");
    assert_eq!(line["user_id"], "u-7");
    assert_eq!(line["dd.service"], "checkout");
    assert_eq!(line["dd.env"], "prod");
    assert_eq!(line["dd.version"], "1.4.2");
}

#[test]
fn outside_a_span_there_is_no_correlation() {
    let logs = CapturedLogs::default();
    tracing::subscriber::with_default(logs.subscriber(&ServiceInfo::default()), || {
        tracing::info!("boot");
    });
    let line = &logs.lines()[0];
    assert_eq!(line["message"], "boot");
    for key in [
        "trace_id",
        "span_id",
        "dd.trace_id",
        "dd.span_id",
        "request_id",
        "user_id",
        "span",
        "dd.env",
        "dd.version",
        "fields",
    ] {
        assert!(line.get(key).is_none(), "{key} present: {line}");
    }
    assert_eq!(line["dd.service"], "unknown_service");
}

#[test]
fn root_spans_start_traces_and_children_share_them() {
    let logs = CapturedLogs::default();
    tracing::subscriber::with_default(logs.subscriber(&ServiceInfo::default()), || {
        for i in 0..2 {
            let root = tracing::info_span!("job", user_id = 100 + i).entered();
            tracing::info!("start");
            let child = tracing::info_span!("step").entered();
            tracing::info!("inner");
            drop(child);
            drop(root);
        }
    });
    let lines = logs.lines();
    assert_eq!(lines.len(), 4);
    let id = |line: &Value, key: &str| line[key].as_str().unwrap().to_owned();
    assert_eq!(id(&lines[0], "trace_id"), id(&lines[1], "trace_id"));
    assert_ne!(id(&lines[0], "span_id"), id(&lines[1], "span_id"));
    assert_ne!(id(&lines[0], "trace_id"), id(&lines[2], "trace_id"));
    assert_eq!(lines[1]["user_id"], "100");
    assert_eq!(lines[3]["user_id"], "101");
    for line in &lines {
        let trace = id(line, "trace_id");
        assert_eq!(trace.len(), 32);
        assert!(
            trace
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_ne!(trace, "0".repeat(32));
        let low = u64::from_str_radix(&trace[16..], 16).unwrap();
        assert_eq!(line["dd.trace_id"], low.to_string());
        let span = id(line, "span_id");
        assert_eq!(span.len(), 16);
        assert_eq!(
            line["dd.span_id"],
            u64::from_str_radix(&span, 16).unwrap().to_string()
        );
    }
}

#[test]
fn debug_and_error_fields_are_strings() {
    let logs = CapturedLogs::default();
    tracing::subscriber::with_default(logs.subscriber(&ServiceInfo::default()), || {
        let err = std::io::Error::other("disk full");
        tracing::error!(error = &err as &(dyn std::error::Error + 'static), list = ?vec![1, 2], nan = f64::NAN, "failed");
    });
    let line = &logs.lines()[0];
    assert_eq!(line["fields"]["error"], "disk full");
    assert_eq!(line["fields"]["list"], "[1, 2]");
    assert_eq!(line["fields"]["nan"], "NaN");
    assert_eq!(line["level"], "ERROR");
}

#[test]
fn filtered_lines_keep_correlation_of_filtered_spans() {
    let logs = CapturedLogs::default();
    let subscriber = logs
        .subscriber_with_filter(&ServiceInfo::default(), "warn,json_logs::kept=debug")
        .unwrap();
    let trace = tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("request", request_id = "r-9");
        let _g = span.enter();
        tracing::info!("dropped by the filter");
        tracing::debug!(target: "json_logs::kept", "kept by a target directive");
        tracing::warn!("kept");
        span_context(&span).unwrap().trace_id
    });
    let lines = logs.lines();
    let messages: Vec<&str> = lines
        .iter()
        .map(|l| l["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages, ["kept by a target directive", "kept"]);
    for line in &lines {
        assert_eq!(line["trace_id"], trace.to_hex());
        assert_eq!(line["request_id"], "r-9");
        assert_eq!(line["span"], "request");
    }
    assert!(
        logs.subscriber_with_filter(&ServiceInfo::default(), "=[")
            .is_err()
    );
}
