//! DogStatsD datagrams received on real UDP and Unix datagram sockets, parsed and checked.

use sdk_core::catalogue::{
    HTTP_SERVER_ACTIVE_REQUESTS, HTTP_SERVER_REQUEST_DURATION, PROPAGATION_REJECTED,
};
use sdk_core::config::Config;
use sdk_core::export::ExporterError;
use sdk_core::export::dogstatsd::recorder;
use sdk_core::semconv::{http, sdk};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq)]
struct Datagram {
    name: String,
    values: Vec<f64>,
    kind: String,
    tags: BTreeSet<String>,
}

/// Parses `name:value[:value…]|type[|@rate][|#tag,tag][|…]`.
fn parse(line: &str) -> Datagram {
    let mut sections = line.split('|');
    let head = sections.next().unwrap();
    let (name, values) = head
        .split_once(':')
        .unwrap_or_else(|| panic!("no value in {line:?}"));
    let values = values
        .split(':')
        .map(|v| {
            v.parse::<f64>()
                .unwrap_or_else(|_| panic!("bad value in {line:?}"))
        })
        .collect();
    let kind = sections
        .next()
        .unwrap_or_else(|| panic!("no type in {line:?}"))
        .to_owned();
    assert!(
        ["c", "g", "ms", "h", "s", "d"].contains(&kind.as_str()),
        "unknown type in {line:?}"
    );
    let mut tags = BTreeSet::new();
    for section in sections {
        if let Some(list) = section.strip_prefix('#') {
            tags.extend(list.split(',').map(str::to_owned));
        }
    }
    Datagram {
        name: name.to_owned(),
        values,
        kind,
        tags,
    }
}

fn config() -> Config {
    Config::builder()
        .service_name("checkout")
        .environment("ci")
        .service_version("1.2.3")
        .build_from_vars::<&str, &str>([])
        .unwrap()
}

fn workload() {
    PROPAGATION_REJECTED
        .counter(&[(sdk::PROPAGATOR, "b3".into())])
        .increment(3);
    HTTP_SERVER_ACTIVE_REQUESTS
        .gauge(&[(http::REQUEST_METHOD, "GET".into())])
        .set(7.0);
    let duration = HTTP_SERVER_REQUEST_DURATION.histogram(&[(http::ROUTE, "/users/{id}".into())]);
    duration.record(0.25);
    duration.record(0.5);
}

fn collect(mut receive: impl FnMut(&mut [u8]) -> Option<usize>) -> Vec<Datagram> {
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = vec![0u8; 65_536];
    while Instant::now() < deadline && out.len() < 3 {
        if let Some(n) = receive(&mut buf) {
            let text = std::str::from_utf8(&buf[..n]).unwrap();
            out.extend(text.lines().filter(|l| !l.is_empty()).map(parse));
        }
    }
    out
}

fn assert_workload(datagrams: &[Datagram]) {
    let find = |name: &str| {
        datagrams
            .iter()
            .find(|d| d.name == name)
            .unwrap_or_else(|| panic!("{name}: {datagrams:#?}"))
    };
    let unified = ["service:checkout", "env:ci", "version:1.2.3"];

    let rejected = find("sdk.propagation.rejected");
    assert_eq!(
        (rejected.kind.as_str(), rejected.values.as_slice()),
        ("c", &[3.0][..])
    );
    assert!(rejected.tags.contains("sdk.propagator:b3"), "{rejected:?}");

    let active = find("http.server.active_requests");
    assert_eq!(
        (active.kind.as_str(), active.values.as_slice()),
        ("g", &[7.0][..])
    );
    assert!(active.tags.contains("http.request.method:GET"));

    let duration = find("http.server.request.duration");
    assert_eq!(duration.kind, "d");
    let mut values = duration.values.clone();
    values.sort_by(f64::total_cmp);
    assert_eq!(values, [0.25, 0.5]);
    assert!(duration.tags.contains("http.route:/users/{id}"));

    for d in [rejected, active, duration] {
        for tag in unified {
            assert!(d.tags.contains(tag), "{tag} missing on {d:?}");
        }
    }
}

#[test]
fn udp_datagrams_carry_name_type_value_and_tags() {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let addr = socket.local_addr().unwrap().to_string();
    let recorder = recorder(&config(), &addr).unwrap();
    metrics::with_local_recorder(&recorder, workload);
    assert_workload(&collect(|buf| socket.recv(buf).ok()));
}

#[test]
fn unix_datagram_socket() {
    let dir = std::env::temp_dir().join(format!("sdk-dsd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("dsd.socket");
    let _ = std::fs::remove_file(&path);
    let socket = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let recorder = recorder(&config(), &format!("unixgram://{}", path.display())).unwrap();
    metrics::with_local_recorder(&recorder, workload);
    assert_workload(&collect(|buf| socket.recv(buf).ok()));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_addresses_are_errors() {
    let err = recorder(&config(), "ftp://nowhere")
        .err()
        .expect("an unknown scheme was accepted");
    assert!(
        matches!(&err, ExporterError::DogStatsDAddress { addr, .. } if addr == "ftp://nowhere"),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("\"ftp://nowhere\"") && message.contains("unixgram:///path"),
        "{message}"
    );
    let err = Config::builder()
        .build_from_vars([("DD_DOGSTATSD_URL", "tcp://agent:8125")])
        .unwrap_err();
    assert!(err.to_string().contains("DD_DOGSTATSD_URL"), "{err}");
    let ok = Config::builder()
        .build_from_vars([("DD_DOGSTATSD_URL", "udp://agent:9125")])
        .unwrap();
    assert_eq!(ok.datadog.dogstatsd_addr, "agent:9125");
    let ok = Config::builder()
        .build_from_vars([("DD_AGENT_HOST", "10.0.0.5"), ("DD_DOGSTATSD_PORT", "8200")])
        .unwrap();
    assert_eq!(ok.datadog.dogstatsd_addr, "10.0.0.5:8200");
}
