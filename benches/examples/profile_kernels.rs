//! Runs one CPU-only kernel of the SDK in a loop for a profiler (callgrind counts the
//! instructions of `profile_kernels::run` only): `profile_kernels <kernel> [iterations]`,
//! kernel one of
//!
//! - `propagation`: extract + inject of W3C `traceparent`/`tracestate` with `baggage`,
//!   Datadog and B3 (single and multi) headers, one round of each per iteration;
//! - `datadog`: the Datadog v0.4 payload of a 512-span batch (per iteration: the batch);
//! - `otlp`: the OTLP protobuf request of the same batch, as the OTLP exporter builds it;
//! - `sanitize`: the SQL sanitizer over the benchmark's 7-statement corpus.

use prost::Message;
use sdk_core::config::ServiceInfo;
use sdk_core::propagation::{PropagationFormat, Propagator};
use sdk_core::spans::FinishedSpan;
use std::collections::HashMap;
use std::hint::black_box;

fn carriers() -> Vec<(Propagator, HashMap<String, String>)> {
    let headers = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    vec![
        (
            Propagator::new([PropagationFormat::TraceContext, PropagationFormat::Baggage]),
            headers(&[
                (
                    "traceparent",
                    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                ),
                ("tracestate", "dd=s:1;o:rum,congo=t61rcWkgMzE"),
                (
                    "baggage",
                    "userId=alice,serverNode=DF%2028,isProduction=false",
                ),
            ]),
        ),
        (
            Propagator::new([PropagationFormat::Datadog]),
            headers(&[
                ("x-datadog-trace-id", "11803532876627986230"),
                ("x-datadog-parent-id", "67667974448284343"),
                ("x-datadog-sampling-priority", "1"),
                ("x-datadog-tags", "_dd.p.tid=4bf92f3577b34da6,_dd.p.dm=-4"),
            ]),
        ),
        (
            Propagator::new([PropagationFormat::B3]),
            headers(&[("b3", "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1")]),
        ),
        (
            Propagator::new([PropagationFormat::B3Multi]),
            headers(&[
                ("x-b3-traceid", "4bf92f3577b34da6a3ce929d0e0e4736"),
                ("x-b3-spanid", "00f067aa0ba902b7"),
                ("x-b3-sampled", "1"),
            ]),
        ),
    ]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let kernel = args.next().unwrap_or_else(|| "propagation".to_owned());
    let iterations: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(1_000);
    let carriers = carriers();
    let spans = sdk_benches::sample_batch(512);
    let service = ServiceInfo {
        name: "checkout".into(),
        version: Some("1.2.3".into()),
        environment: Some("prod".into()),
    };
    let total = run(&kernel, iterations, &carriers, &spans, &service);
    println!("{kernel}: {iterations} iterations, {total} bytes out");
}

/// The measured loop.
#[inline(never)]
fn run(
    kernel: &str,
    iterations: u64,
    carriers: &[(Propagator, HashMap<String, String>)],
    spans: &[FinishedSpan],
    service: &ServiceInfo,
) -> usize {
    let resource = sdk_core::export::otlp::resource(service, &[]);
    let proto_resource = (&resource).into();
    let scope = opentelemetry::InstrumentationScope::builder("export").build();
    let mut total = 0;
    for _ in 0..iterations {
        total += match kernel {
            "datadog" => sdk_core::export::datadog::encode_batch_v04(black_box(spans), service)
                .map_or(0, |(bytes, _)| bytes.len()),
            "otlp" => {
                let data = black_box(spans)
                    .iter()
                    .map(|s| sdk_core::export::otlp::to_span_data(s, scope.clone()))
                    .collect();
                let resource_spans =
                    opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope(
                        data,
                        &proto_resource,
                    );
                opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest {
                    resource_spans,
                }
                .encode_to_vec()
                .len()
            }
            "sanitize" => sdk_benches::SQL_CORPUS
                .iter()
                .map(|sql| sdk_sqlx::sanitize::sanitize(black_box(sql)).text.len())
                .sum(),
            _ => carriers
                .iter()
                .map(|(propagator, carrier)| {
                    let extracted = propagator.extract(black_box(carrier));
                    let mut out = HashMap::with_capacity(4);
                    if let Some(context) = &extracted.context {
                        propagator.inject(context, &extracted.baggage, &mut out);
                    }
                    out.len()
                })
                .sum(),
        };
    }
    total
}
