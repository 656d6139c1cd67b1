//! The Datadog agent: trace API address and version, DogStatsD destination (`DD_*`).

use super::ConfigError;
use super::env::{Env, invalid};

/// Datadog agent trace API version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DatadogApi {
    /// `/v0.4/traces`.
    #[default]
    V04,
    /// `/v0.5/traces`.
    V05,
}

/// Where the Datadog agent takes traces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatadogAgent {
    /// Base URL (`DD_TRACE_AGENT_URL`, else `http://{DD_AGENT_HOST}:{DD_TRACE_AGENT_PORT}`,
    /// default `http://localhost:8126`).
    pub trace_agent_url: String,
    /// `DD_TRACE_API_VERSION` (`v0.4` default, `v0.5`).
    pub api_version: DatadogApi,
    /// DogStatsD destination: `host:port` (UDP) or `unix://path` / `unixgram://path`, from
    /// `DD_DOGSTATSD_URL` (`udp://…`, `unix://…`), else `DD_AGENT_HOST` + `DD_DOGSTATSD_PORT`
    /// (default `localhost:8125`).
    pub dogstatsd_addr: String,
}

impl Default for DatadogAgent {
    fn default() -> Self {
        Self {
            trace_agent_url: "http://localhost:8126".into(),
            api_version: DatadogApi::V04,
            dogstatsd_addr: "localhost:8125".into(),
        }
    }
}

pub(super) fn parse_datadog(env: &dyn Env) -> Result<DatadogAgent, ConfigError> {
    let trace_agent_url = match env.var("DD_TRACE_AGENT_URL")? {
        Some(url) => {
            let rest = url
                .strip_prefix("http://")
                .filter(|rest| !rest.is_empty() && !rest.contains(char::is_whitespace));
            if rest.is_none() {
                return Err(invalid(
                    "DD_TRACE_AGENT_URL",
                    &url,
                    "an http:// URL such as http://localhost:8126",
                ));
            }
            url
        }
        None => {
            let host = env
                .var("DD_AGENT_HOST")?
                .unwrap_or_else(|| "localhost".to_owned());
            if host.contains(['/', ' ', '@']) {
                return Err(invalid("DD_AGENT_HOST", &host, "a host name or IP address"));
            }
            let port = match env.var("DD_TRACE_AGENT_PORT")? {
                None => 8126,
                Some(text) => text.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
                    invalid(
                        "DD_TRACE_AGENT_PORT",
                        &text,
                        "a port number from 1 to 65535",
                    )
                })?,
            };
            let host = if host.contains(':') && !host.starts_with('[') {
                format!("[{host}]")
            } else {
                host
            };
            format!("http://{host}:{port}")
        }
    };
    let api_version = match env.var("DD_TRACE_API_VERSION")?.as_deref() {
        None | Some("v0.4") => DatadogApi::V04,
        Some("v0.5") => DatadogApi::V05,
        Some(other) => return Err(invalid("DD_TRACE_API_VERSION", other, "v0.4 or v0.5")),
    };
    let dogstatsd_addr = match env.var("DD_DOGSTATSD_URL")? {
        Some(url) => {
            const EXPECTED: &str = "udp://host:port, unix:///path or unixgram:///path";
            if let Some(rest) = url.strip_prefix("udp://") {
                if rest
                    .rsplit_once(':')
                    .is_none_or(|(host, port)| host.is_empty() || port.parse::<u16>().is_err())
                {
                    return Err(invalid("DD_DOGSTATSD_URL", &url, EXPECTED));
                }
                rest.to_owned()
            } else if url
                .strip_prefix("unix://")
                .or_else(|| url.strip_prefix("unixgram://"))
                .is_some_and(|p| p.starts_with('/'))
            {
                url
            } else {
                return Err(invalid("DD_DOGSTATSD_URL", &url, EXPECTED));
            }
        }
        None => {
            let host = env
                .var("DD_AGENT_HOST")?
                .unwrap_or_else(|| "localhost".to_owned());
            let port = match env.var("DD_DOGSTATSD_PORT")? {
                None => 8125,
                Some(text) => text.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
                    invalid("DD_DOGSTATSD_PORT", &text, "a port number from 1 to 65535")
                })?,
            };
            format!("{host}:{port}")
        }
    };
    Ok(DatadogAgent {
        trace_agent_url,
        api_version,
        dogstatsd_addr,
    })
}
