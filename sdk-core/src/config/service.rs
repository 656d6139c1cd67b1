//! Service identity and `OTEL_RESOURCE_ATTRIBUTES`.

use super::ConfigError;
use super::env::invalid;

/// Identity of the service, attached to every signal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceInfo {
    /// `service.name` / `DD_SERVICE`.
    pub name: String,
    /// `service.version` / `DD_VERSION`.
    pub version: Option<String>,
    /// `deployment.environment.name` / `DD_ENV`.
    pub environment: Option<String>,
}

impl Default for ServiceInfo {
    /// `unknown_service`, no version, no environment.
    fn default() -> Self {
        Self {
            name: "unknown_service".into(),
            version: None,
            environment: None,
        }
    }
}

pub(super) fn parse_resource_attributes(value: &str) -> Result<Vec<(String, String)>, ConfigError> {
    const VAR: &str = "OTEL_RESOURCE_ATTRIBUTES";
    const EXPECTED: &str = "comma-separated key=value pairs with percent-encoded values";
    let mut out: Vec<(String, String)> = Vec::new();
    for pair in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, raw) = pair
            .split_once('=')
            .ok_or_else(|| invalid(VAR, value, EXPECTED))?;
        let key = key.trim();
        if key.is_empty() {
            return Err(invalid(VAR, value, EXPECTED));
        }
        let decoded = percent_encoding::percent_decode_str(raw.trim())
            .decode_utf8()
            .map_err(|_| invalid(VAR, value, EXPECTED))?;
        out.retain(|(k, _)| k != key);
        out.push((key.to_owned(), decoded.into_owned()));
    }
    Ok(out)
}
