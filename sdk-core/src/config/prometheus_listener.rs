//! The standalone Prometheus listener (`OTEL_EXPORTER_PROMETHEUS_HOST` / `_PORT`).

use super::ConfigError;
use super::env::{Env, invalid};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

pub(super) fn parse_prometheus_listener(env: &dyn Env) -> Result<Option<SocketAddr>, ConfigError> {
    let host = env.var("OTEL_EXPORTER_PROMETHEUS_HOST")?;
    let port = env.var("OTEL_EXPORTER_PROMETHEUS_PORT")?;
    if host.is_none() && port.is_none() {
        return Ok(None);
    }
    let ip = match host.as_deref() {
        None | Some("localhost") => IpAddr::V4(Ipv4Addr::LOCALHOST),
        Some(text) => text.trim_matches(['[', ']']).parse().map_err(|_| {
            invalid(
                "OTEL_EXPORTER_PROMETHEUS_HOST",
                text,
                "an IP address or localhost",
            )
        })?,
    };
    let port = match port.as_deref() {
        None => 9464,
        Some(text) => text.parse::<u16>().map_err(|_| {
            invalid(
                "OTEL_EXPORTER_PROMETHEUS_PORT",
                text,
                "a port number from 0 to 65535",
            )
        })?,
    };
    Ok(Some(SocketAddr::new(ip, port)))
}
