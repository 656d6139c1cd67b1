//! Operation, tables and summary (`db.operation.name`, `db.collection.name`,
//! `db.query.summary`) read from a sanitized statement.

use super::lexer::{is_ident_char, is_ident_start, scan, skip_quoted, utf8_len};
use std::sync::Arc;

/// Longest summary kept, in bytes (OpenTelemetry suggests 255).
pub const MAX_SUMMARY_LEN: usize = 255;
/// Most tables named in a summary.
const MAX_SUMMARY_TABLES: usize = 4;

const OPERATIONS: &[&str] = &[
    "SELECT",
    "INSERT",
    "UPDATE",
    "DELETE",
    "MERGE",
    "UPSERT",
    "REPLACE",
    "CREATE",
    "DROP",
    "ALTER",
    "TRUNCATE",
    "BEGIN",
    "START",
    "COMMIT",
    "ROLLBACK",
    "SAVEPOINT",
    "RELEASE",
    "CALL",
    "EXPLAIN",
    "SET",
    "SHOW",
    "COPY",
    "VACUUM",
    "ANALYZE",
    "GRANT",
    "REVOKE",
    "LOCK",
    "PRAGMA",
    "VALUES",
    "LISTEN",
    "NOTIFY",
    "DO",
    "REFRESH",
    "REINDEX",
    "CLUSTER",
    "COMMENT",
    "DECLARE",
    "FETCH",
    "CLOSE",
    "PREPARE",
    "EXECUTE",
    "DEALLOCATE",
    "DISCARD",
    "ATTACH",
    "DETACH",
];

const MAIN_OPERATIONS: &[&str] = &["SELECT", "INSERT", "UPDATE", "DELETE", "MERGE"];

/// Words after `FROM`/`JOIN`/… that are not table names.
const NOT_TABLES: &[&str] = &[
    "ONLY",
    "IF",
    "NOT",
    "EXISTS",
    "LATERAL",
    "SELECT",
    "UNNEST",
    "TEMP",
    "TEMPORARY",
    "UNLOGGED",
    "OR",
    "IGNORE",
    "VALUES",
    "SET",
    "DEFAULT",
];

/// Tables named by a statement, the first few kept (on the stack).
#[derive(Default)]
pub(super) struct Tables<'a> {
    names: [&'a str; MAX_SUMMARY_TABLES * 2],
    len: usize,
}

impl<'a> Tables<'a> {
    fn push(&mut self, name: &'a str) {
        if let Some(slot) = self.names.get_mut(self.len) {
            *slot = name;
            self.len += 1;
        }
    }

    pub(super) fn as_slice(&self) -> &[&'a str] {
        &self.names[..self.len]
    }
}

/// The keyword of `list` that `token` is, in any case.
fn keyword(token: &str, list: &[&'static str]) -> Option<&'static str> {
    list.iter().copied().find(|k| k.eq_ignore_ascii_case(token))
}

/// Operation and tables of a sanitized statement; the tables borrow from `text`. Keywords
/// are compared in place, ignoring ASCII case (nothing is copied per token).
pub(super) fn shape(text: &str) -> (Option<&'static str>, Tables<'_>) {
    let mut words = Tokens { text, pos: 0 };
    let mut tables = Tables::default();
    let Some(first) = words.next() else {
        return (None, tables);
    };
    let is = |token: &str, word: &str| token.eq_ignore_ascii_case(word);
    let mut operation = if is(first, "WITH") {
        None
    } else {
        keyword(first, OPERATIONS)
    };
    // `WITH [RECURSIVE] name [(…)] AS (…), name AS (…) main`: the names are the
    // statement's own (common table expressions), not tables.
    let mut ctes = Tables::default();
    let mut expect_cte = is(first, "WITH");
    let mut depth = 0usize;
    let mut expect_table = is(first, "UPDATE");
    // The previous word was `RETURNS` (`RETURNS TABLE (…)` names no table).
    let mut after_returns = is(first, "RETURNS");
    // The table expected comes after `FROM`/`JOIN`, where a name followed by `(` is a
    // function (`FROM generate_series(1, $1)`, `JOIN unnest($1)`): the statement's target
    // only when it reads no table (`SELECT generate_series`, but `INSERT events` for
    // `INSERT INTO events SELECT … FROM generate_series(…)`).
    let mut from_item = false;
    let mut pending: Option<&str> = None;
    let mut functions = Tables::default();
    for token in words {
        if let Some(name) = pending.take() {
            let list = if token == "(" {
                &mut functions
            } else {
                &mut tables
            };
            if !list.as_slice().contains(&name) {
                list.push(name);
            }
        }
        match token {
            "(" => {
                depth += 1;
                expect_table = false;
                continue;
            }
            ")" => {
                depth = depth.saturating_sub(1);
                expect_table = false;
                continue;
            }
            _ => {}
        }
        if depth == 0 && operation.is_none() {
            if expect_cte && !is(token, "RECURSIVE") {
                expect_cte = false;
                let first_char = token.as_bytes()[0];
                if is_ident_start(first_char) || first_char == b'"' || first_char == b'`' {
                    ctes.push(token);
                    continue;
                }
            } else if token == "," {
                expect_cte = true;
                continue;
            }
        }
        if operation.is_none()
            && depth == 0
            && let Some(main) = keyword(token, MAIN_OPERATIONS)
        {
            operation = Some(main);
            if main == "UPDATE" {
                expect_table = true;
                after_returns = false;
                continue;
            }
        }
        if expect_table {
            if keyword(token, NOT_TABLES).is_some() {
                continue;
            }
            expect_table = false;
            let first_char = token.as_bytes()[0];
            if (is_ident_start(first_char) || first_char == b'"' || first_char == b'`')
                && !tables.as_slice().contains(&token)
                && !ctes
                    .as_slice()
                    .iter()
                    .any(|cte| cte.eq_ignore_ascii_case(token))
            {
                if from_item {
                    pending = Some(token);
                } else {
                    tables.push(token);
                }
            }
        } else if is(token, "FROM")
            || is(token, "JOIN")
            || is(token, "INTO")
            || (is(token, "TABLE") && !after_returns)
        {
            expect_table = true;
            from_item = is(token, "FROM") || is(token, "JOIN");
        }
        after_returns = is(token, "RETURNS");
    }
    if let Some(name) = pending
        && !tables.as_slice().contains(&name)
    {
        tables.push(name);
    }
    if tables.as_slice().is_empty() {
        return (operation, functions);
    }
    (operation, tables)
}

/// Words (with dotted and quoted parts joined: `public."Users"`) and single punctuation.
struct Tokens<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Iterator for Tokens<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let bytes = self.text.as_bytes();
        while self.pos < bytes.len() && bytes[self.pos] == b' ' {
            self.pos += 1;
        }
        if self.pos >= bytes.len() {
            return None;
        }
        let start = self.pos;
        let b = bytes[start];
        if is_ident_start(b) || b == b'"' || b == b'`' {
            let mut i = start;
            loop {
                match bytes.get(i) {
                    Some(&q @ (b'"' | b'`')) => i = skip_quoted(bytes, i, q),
                    Some(&c) if is_ident_start(c) => i = scan(bytes, i, is_ident_char),
                    _ => break,
                }
                if bytes.get(i) == Some(&b'.') {
                    i += 1;
                } else {
                    break;
                }
            }
            self.pos = i;
        } else {
            self.pos = start + utf8_len(b).min(bytes.len() - start);
        }
        self.text.get(start..self.pos)
    }
}

/// `db.query.summary`: the operation, then up to [`MAX_SUMMARY_TABLES`] tables while the
/// whole fits in [`MAX_SUMMARY_LEN`]; empty without an operation.
pub(super) fn summary(operation: Option<&str>, tables: &Tables<'_>) -> Arc<str> {
    // Built on the stack, then one shared copy.
    fn append(summary: &mut [u8; MAX_SUMMARY_LEN], len: &mut usize, part: &str) {
        summary[*len..*len + part.len()].copy_from_slice(part.as_bytes());
        *len += part.len();
    }
    let mut summary = [0u8; MAX_SUMMARY_LEN];
    let mut len = 0;
    if let Some(op) = operation.filter(|op| op.len() <= MAX_SUMMARY_LEN) {
        append(&mut summary, &mut len, op);
        for table in tables.as_slice().iter().take(MAX_SUMMARY_TABLES) {
            if len + 1 + table.len() > MAX_SUMMARY_LEN {
                break;
            }
            append(&mut summary, &mut len, " ");
            append(&mut summary, &mut len, table);
        }
    }
    Arc::from(std::str::from_utf8(&summary[..len]).unwrap_or_default())
}
