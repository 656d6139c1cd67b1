//! [`RedisConfig`]: where a connection goes and how its keys are grouped in cache metrics.

use crate::handles::MetricHandles;
use std::sync::Arc;

/// Where the connection goes and how keys are grouped in cache metrics.
#[derive(Debug, Clone, Default)]
pub struct RedisConfig {
    address: Option<Arc<str>>,
    port: Option<u16>,
    key_prefixes: Arc<[Arc<str>]>,
    handles: Arc<MetricHandles>,
}

impl RedisConfig {
    /// Server address and port from a redis-rs client's connection info.
    pub fn from_client(client: &redis::Client) -> Self {
        let (address, port) = match client.get_connection_info().addr() {
            redis::ConnectionAddr::Tcp(host, port) => (Some(host.as_str().into()), Some(*port)),
            redis::ConnectionAddr::TcpTls { host, port, .. } => {
                (Some(host.as_str().into()), Some(*port))
            }
            redis::ConnectionAddr::Unix(path) => (Some(path.to_string_lossy().into()), None),
            _ => (None, None),
        };
        Self {
            address,
            port,
            key_prefixes: Arc::from(Vec::new()),
            handles: Arc::default(),
        }
    }

    /// Key prefixes that label cache metrics (`cache.key_prefix`); a key matching none is
    /// labelled `other`. Without prefixes the label is absent. Raw keys never become labels.
    pub fn key_prefixes<I, S>(mut self, prefixes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.key_prefixes = prefixes
            .into_iter()
            .map(|p| Arc::from(p.as_ref()))
            .collect();
        self
    }

    /// The label value for `key`.
    pub(crate) fn prefix_of(&self, key: &[u8]) -> Option<Arc<str>> {
        if self.key_prefixes.is_empty() {
            return None;
        }
        Some(
            self.key_prefixes
                .iter()
                .find(|p| key.starts_with(p.as_bytes()))
                .cloned()
                .unwrap_or_else(|| self.handles.other_prefix()),
        )
    }

    /// The server's address (`server.address`), when known.
    pub(crate) fn address(&self) -> Option<&Arc<str>> {
        self.address.as_ref()
    }

    /// The server's port (`server.port`), when known.
    pub(crate) fn port(&self) -> Option<u16> {
        self.port
    }

    /// The metric handles shared by every connection made with this configuration.
    pub(crate) fn handles(&self) -> &MetricHandles {
        &self.handles
    }
}
