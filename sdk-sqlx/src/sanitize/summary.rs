//! Operation, tables and summary (`db.operation.name`, `db.collection.name`,
//! `db.query.summary`) read from a sanitized statement.

use super::lexer::{is_ident_char, is_ident_start, scan, skip_quoted, utf8_len};

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

/// Operation and tables of a sanitized statement.
pub(super) fn shape(text: &str) -> (Option<&'static str>, Vec<String>) {
    let mut words = Tokens { text, pos: 0 };
    let Some(first) = words.next() else {
        return (None, Vec::new());
    };
    let first_upper = first.to_ascii_uppercase();
    let mut operation = OPERATIONS.iter().copied().find(|op| *op == first_upper);
    if first_upper == "WITH" {
        operation = None;
    }
    let mut tables: Vec<String> = Vec::new();
    let mut depth = 0usize;
    let mut expect_table = false;
    let mut previous_upper = first_upper.clone();
    let rest = Tokens {
        text,
        pos: words.pos,
    };
    if first_upper == "UPDATE" {
        expect_table = true;
    }
    for token in rest {
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
        let upper = token.to_ascii_uppercase();
        if operation.is_none()
            && depth == 0
            && let Some(main) = MAIN_OPERATIONS.iter().copied().find(|op| *op == upper)
        {
            operation = Some(main);
            if upper == "UPDATE" {
                expect_table = true;
                previous_upper = upper;
                continue;
            }
        }
        if expect_table {
            if NOT_TABLES.contains(&upper.as_str()) {
                continue;
            }
            expect_table = false;
            let first_char = token.as_bytes()[0];
            if (is_ident_start(first_char) || first_char == b'"' || first_char == b'`')
                && tables.len() < MAX_SUMMARY_TABLES * 2
                && !tables.iter().any(|t| t == token)
            {
                tables.push(token.to_owned());
            }
        } else if matches!(upper.as_str(), "FROM" | "JOIN" | "INTO")
            || (upper == "TABLE" && previous_upper != "RETURNS")
        {
            expect_table = true;
        }
        previous_upper = upper;
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
pub(super) fn summary(operation: Option<&str>, tables: &[String]) -> String {
    let mut summary = String::new();
    if let Some(op) = operation {
        summary.push_str(op);
        for table in tables.iter().take(MAX_SUMMARY_TABLES) {
            if summary.len() + 1 + table.len() > MAX_SUMMARY_LEN {
                break;
            }
            summary.push(' ');
            summary.push_str(table);
        }
    }
    summary
}
