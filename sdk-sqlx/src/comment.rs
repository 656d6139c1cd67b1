//! Trace comments appended to statements, so the database's own views
//! (`pg_stat_activity`, slow-query logs, Datadog Database Monitoring) point back to the trace.
//!
//! The comment follows sqlcommenter: ` /*key='value',…*/`, keys sorted, keys and values
//! percent-encoded, appended at the end (before a final `;`). A statement that already holds
//! a comment is left alone. PostgreSQL's `pg_stat_statements` removes comments before it
//! normalizes a statement, so commented statements still fold into one entry.
//!
//! **Cost**: the comment carries the trace id, so every commented statement is new text to
//! sqlx's per-connection prepared-statement cache (one more parse and plan on the server,
//! and a cache slot until evicted). Comments are therefore only added to sampled spans;
//! keep the sampling ratio low when enabling them on hot paths.

use std::fmt::Write;

/// Which comment to add to each statement of a sampled span.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CommentMode {
    /// No comment (the default).
    #[default]
    Off,
    /// sqlcommenter: `traceparent` only.
    SqlCommenter,
    /// Datadog Database Monitoring `service` mode: service, environment, version and
    /// database identity (`dddb`, `dddbs`, `dde`, `ddh`, `ddps`, `ddpv`).
    DatadogService,
    /// Datadog Database Monitoring `full` mode: `service` mode plus `traceparent`.
    DatadogFull,
}

impl CommentMode {
    /// Parses `off`, `sqlcommenter`, `service` or `full` (Datadog's
    /// `DD_DBM_PROPAGATION_MODE` values, plus `sqlcommenter`; `disabled` means off).
    pub fn parse(value: &str) -> Option<Self> {
        Some(match value.trim().to_ascii_lowercase().as_str() {
            "" | "off" | "disabled" | "none" => Self::Off,
            "sqlcommenter" | "traceparent" => Self::SqlCommenter,
            "service" => Self::DatadogService,
            "full" => Self::DatadogFull,
            _ => return None,
        })
    }
}

/// Values a comment can carry.
#[derive(Debug, Clone, Default)]
pub struct CommentContext<'a> {
    /// `traceparent` header value of the query span.
    pub traceparent: Option<&'a str>,
    /// The application's service name (`ddps`).
    pub service: &'a str,
    /// Deployment environment (`dde`).
    pub environment: Option<&'a str>,
    /// Application version (`ddpv`).
    pub version: Option<&'a str>,
    /// Database name (`dddb`).
    pub database: Option<&'a str>,
    /// Service name of the database (`dddbs`).
    pub database_service: Option<&'a str>,
    /// Database host (`ddh`).
    pub host: Option<&'a str>,
}

/// Whether `sql` already holds a comment (then nothing is added).
pub fn has_comment(sql: &str) -> bool {
    sql.contains("/*") || sql.contains("--")
}

/// `sql` with the comment for `mode` appended; `None` when nothing is to be added.
pub fn with_comment(sql: &str, mode: CommentMode, context: &CommentContext<'_>) -> Option<String> {
    let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(7);
    if matches!(mode, CommentMode::DatadogService | CommentMode::DatadogFull) {
        pairs.push(("ddps", context.service));
        pairs.extend(context.environment.map(|v| ("dde", v)));
        pairs.extend(context.version.map(|v| ("ddpv", v)));
        pairs.extend(context.database.map(|v| ("dddb", v)));
        pairs.extend(context.database_service.map(|v| ("dddbs", v)));
        pairs.extend(context.host.map(|v| ("ddh", v)));
    }
    if matches!(mode, CommentMode::SqlCommenter | CommentMode::DatadogFull) {
        pairs.extend(context.traceparent.map(|v| ("traceparent", v)));
    }
    pairs.retain(|(_, v)| !v.is_empty());
    if pairs.is_empty() || has_comment(sql) {
        return None;
    }
    pairs.sort_unstable_by_key(|(k, _)| *k);
    let mut comment = String::from("/*");
    for (i, (key, value)) in pairs.iter().enumerate() {
        if i > 0 {
            comment.push(',');
        }
        encode(&mut comment, key);
        comment.push_str("='");
        encode(&mut comment, value);
        comment.push('\'');
    }
    comment.push_str("*/");
    let trimmed = sql.trim_end();
    let (body, tail) = match trimmed.strip_suffix(';') {
        Some(body) => (body.trim_end(), ";"),
        None => (trimmed, ""),
    };
    Some(format!("{body} {comment}{tail}"))
}

/// Percent-encodes everything but unreserved characters (RFC 3986), which also keeps `'`
/// and `*/` out of the comment.
fn encode(out: &mut String, value: &str) {
    for &b in value.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TP: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    #[test]
    fn sqlcommenter_appends_sorted_encoded_pairs() {
        let context = CommentContext {
            traceparent: Some(TP),
            service: "api",
            ..CommentContext::default()
        };
        assert_eq!(
            with_comment("SELECT 1", CommentMode::SqlCommenter, &context).as_deref(),
            Some(&*format!("SELECT 1 /*traceparent='{TP}'*/"))
        );
        assert_eq!(
            with_comment("SELECT 1;  ", CommentMode::SqlCommenter, &context).as_deref(),
            Some(&*format!("SELECT 1 /*traceparent='{TP}'*/;"))
        );
        assert_eq!(with_comment("SELECT 1", CommentMode::Off, &context), None);
        assert_eq!(
            with_comment("SELECT 1 /* mine */", CommentMode::SqlCommenter, &context),
            None
        );
        assert_eq!(
            with_comment("SELECT 1 -- mine", CommentMode::SqlCommenter, &context),
            None
        );
    }

    #[test]
    fn datadog_modes() {
        let context = CommentContext {
            traceparent: Some(TP),
            service: "my api",
            environment: Some("prod"),
            version: Some("1.2'3*/"),
            database: Some("test"),
            database_service: None,
            host: Some("127.0.0.1"),
        };
        let service = with_comment("SELECT 1", CommentMode::DatadogService, &context);
        assert_eq!(
            service.as_deref(),
            Some(
                "SELECT 1 /*dddb='test',dde='prod',ddh='127.0.0.1',ddps='my%20api',ddpv='1.2%273%2A%2F'*/"
            )
        );
        let full = with_comment("SELECT 1", CommentMode::DatadogFull, &context).unwrap_or_default();
        assert!(full.ends_with(&format!(",traceparent='{TP}'*/")), "{full}");
    }

    #[test]
    fn modes_parse() {
        assert_eq!(CommentMode::parse("full"), Some(CommentMode::DatadogFull));
        assert_eq!(
            CommentMode::parse("Service"),
            Some(CommentMode::DatadogService)
        );
        assert_eq!(CommentMode::parse("disabled"), Some(CommentMode::Off));
        assert_eq!(
            CommentMode::parse("sqlcommenter"),
            Some(CommentMode::SqlCommenter)
        );
        assert_eq!(CommentMode::parse("loud"), None);
    }
}
