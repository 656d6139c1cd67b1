//! OTLP transports (`OTEL_EXPORTER_OTLP_*`): the protocol per signal, and the checks of the
//! variables the exporter reads itself.

use super::ConfigError;
use super::env::{Env, invalid};

/// OTLP transport (`OTEL_EXPORTER_OTLP_PROTOCOL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OtlpProtocol {
    /// `grpc`.
    Grpc,
    /// `http/protobuf` (the default).
    #[default]
    HttpProtobuf,
    /// `http/json`.
    HttpJson,
}

/// OTLP transport per signal. Endpoints, headers, timeout and compression are read by the
/// exporter from the standard variables, which
/// [`ConfigBuilder::build`](super::ConfigBuilder::build) validates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OtlpConfig {
    /// `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, else `OTEL_EXPORTER_OTLP_PROTOCOL`.
    pub traces_protocol: OtlpProtocol,
    /// `OTEL_EXPORTER_OTLP_METRICS_PROTOCOL`, else `OTEL_EXPORTER_OTLP_PROTOCOL`.
    pub metrics_protocol: OtlpProtocol,
    /// `OTEL_EXPORTER_OTLP_LOGS_PROTOCOL`, else `OTEL_EXPORTER_OTLP_PROTOCOL`.
    pub logs_protocol: OtlpProtocol,
}

const PROTOCOL_EXPECTED: &str = "grpc, http/protobuf or http/json";

fn parse_protocol(var: &'static str, value: &str) -> Result<OtlpProtocol, ConfigError> {
    match value.to_ascii_lowercase().as_str() {
        "grpc" => Ok(OtlpProtocol::Grpc),
        "http/protobuf" => Ok(OtlpProtocol::HttpProtobuf),
        "http/json" => Ok(OtlpProtocol::HttpJson),
        _ => Err(invalid(var, value, PROTOCOL_EXPECTED)),
    }
}

pub(super) fn parse_otlp(env: &dyn Env) -> Result<OtlpConfig, ConfigError> {
    let general = match env.var("OTEL_EXPORTER_OTLP_PROTOCOL")? {
        Some(value) => parse_protocol("OTEL_EXPORTER_OTLP_PROTOCOL", &value)?,
        None => OtlpProtocol::default(),
    };
    let signal = |var: &'static str| -> Result<OtlpProtocol, ConfigError> {
        env.var(var)?
            .map_or(Ok(general), |value| parse_protocol(var, &value))
    };
    let config = OtlpConfig {
        traces_protocol: signal("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")?,
        metrics_protocol: signal("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL")?,
        logs_protocol: signal("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL")?,
    };
    for prefix in ["", "TRACES_", "METRICS_", "LOGS_"] {
        check_otlp_var(env, prefix)?;
    }
    Ok(config)
}

/// Validates the variables the OTLP exporter reads itself, so a typo is an error here.
fn check_otlp_var(env: &dyn Env, prefix: &str) -> Result<(), ConfigError> {
    const VARS: [[&str; 4]; 4] = [
        [
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "OTEL_EXPORTER_OTLP_TIMEOUT",
            "OTEL_EXPORTER_OTLP_COMPRESSION",
            "OTEL_EXPORTER_OTLP_HEADERS",
        ],
        [
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
            "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
        ],
        [
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
            "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
            "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION",
            "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
        ],
        [
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
            "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT",
            "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION",
            "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
        ],
    ];
    let [endpoint, timeout, compression, headers] = match prefix {
        "TRACES_" => VARS[1],
        "METRICS_" => VARS[2],
        "LOGS_" => VARS[3],
        _ => VARS[0],
    };
    if let Some(value) = env.var(endpoint)?
        && (!(value.starts_with("http://") || value.starts_with("https://"))
            || value.contains(char::is_whitespace))
    {
        return Err(invalid(
            endpoint,
            &without_userinfo(&value),
            "an http:// or https:// URL",
        ));
    }
    if let Some(value) = env.var(timeout)?
        && !value.parse::<u64>().is_ok_and(|ms| ms > 0)
    {
        return Err(invalid(
            timeout,
            &value,
            "a positive whole number of milliseconds",
        ));
    }
    if let Some(value) = env.var(compression)?
        && !matches!(value.to_ascii_lowercase().as_str(), "gzip" | "none")
    {
        return Err(invalid(compression, &value, "gzip or none"));
    }
    if let Some(value) = env.var(headers)? {
        let ok = value
            .split(',')
            .filter(|p| !p.trim().is_empty())
            .all(|pair| {
                pair.split_once('=')
                    .is_some_and(|(k, _)| crate::propagation::is_header_token(k.trim()))
            });
        if !ok {
            return Err(invalid(
                headers,
                &redacted_headers(&value),
                "comma-separated key=value pairs with header-name keys",
            ));
        }
    }
    Ok(())
}

/// Header pairs as an error may quote them: keys only (values are credentials), and `…`
/// for a pair without `=`.
fn redacted_headers(value: &str) -> String {
    value
        .split(',')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) => format!("{key}=…"),
            None if pair.trim().is_empty() => String::new(),
            None => "…".to_owned(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// A URL as an error may quote it: without a `user:password@` part.
fn without_userinfo(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) if scheme.is_empty() => format!("…@{}", &rest[at + 1..]),
        Some(at) => format!("{scheme}://…@{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod redaction_tests {
    use super::*;

    #[test]
    fn errors_never_quote_credentials() {
        assert_eq!(
            redacted_headers("authorization=Bearer s3cr3t,Api-Key s3cr3t"),
            "authorization=…,…"
        );
        assert_eq!(
            without_userinfo("htps://user:s3cr3t@collector:4318/v1"),
            "htps://…@collector:4318/v1"
        );
        assert_eq!(without_userinfo("collector:4318"), "collector:4318");
        let error = crate::config::Config::builder()
            .build_from_vars([("OTEL_EXPORTER_OTLP_HEADERS", "authorization Bearer s3cr3t")])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("OTEL_EXPORTER_OTLP_HEADERS") && !error.contains("s3cr3t"),
            "{error}"
        );
    }
}
