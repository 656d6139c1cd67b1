//! The SQL sanitizer, both dialects. Statements are built from tokens — keywords,
//! identifiers, numbers, placeholders, operators, comments and string literals in every
//! syntax the sanitizer knows (`'…'` with `''`, `E'…'` with `\'`, `N'…'`, `X'…'`, `U&'…'`,
//! `$$…$$`, `$tag$…$tag$`, and `"…"` in SQLite) — whose contents carry a marker: the
//! sanitized text never contains a marker, and the text and summary stay within their
//! bounds. Raw bytes are sanitized too (no panic, same bounds).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sdk_sqlx::sanitize::{Dialect, MAX_SUMMARY_LEN, MAX_TEXT_LEN, sanitize_for};

/// What a literal holds: never the marker elsewhere in the statement.
const MARKER: &str = "s3cr3t";

#[derive(Debug, Arbitrary)]
enum Token {
    Keyword(u8),
    Identifier(String),
    Number(u32, u8),
    Placeholder(u8),
    Operator(u8),
    LineComment(String),
    BlockComment(String),
    Literal(Quote, String),
    Raw(String),
}

#[derive(Debug, Arbitrary)]
enum Quote {
    Single,
    Escaped,
    National,
    Hex,
    Unicode,
    Dollar,
    TaggedDollar,
    Double,
}

const KEYWORDS: [&str; 24] = [
    "SELECT",
    "FROM",
    "WHERE",
    "INSERT",
    "INTO",
    "VALUES",
    "UPDATE",
    "SET",
    "DELETE",
    "JOIN",
    "ON",
    "AND",
    "OR",
    "IN",
    "(",
    ")",
    ",",
    "WITH",
    "AS",
    "RECURSIVE",
    "LIMIT",
    "TABLE",
    "CALL",
    "RETURNING",
];
const OPERATORS: [&str; 10] = ["=", "<>", "<=", "||", "::", "-", "+", "*", ";", "."];

/// The marker's text inside a literal, with the literal's own quote escaped.
fn content(text: &str, quote: &str, escape: &str) -> String {
    format!("{MARKER}{}", text.replace(quote, escape))
}

fn write(sql: &mut String, token: &Token, dialect: Dialect) -> bool {
    let clean = |text: &str| !text.contains(MARKER);
    match token {
        Token::Keyword(k) => sql.push_str(KEYWORDS[usize::from(*k) % KEYWORDS.len()]),
        Token::Identifier(name) => {
            let name: String = name
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if name.is_empty() || !clean(&name) || name.starts_with(|c: char| c.is_ascii_digit()) {
                return true;
            }
            sql.push_str(&name);
        }
        Token::Number(n, scale) => sql.push_str(&format!("{n}.{scale}")),
        Token::Placeholder(n) => sql.push_str(&format!("${}", n % 20 + 1)),
        Token::Operator(o) => sql.push_str(OPERATORS[usize::from(*o) % OPERATORS.len()]),
        Token::LineComment(text) => {
            sql.push_str("-- ");
            sql.push_str(&text.replace(['\n', '\r'], " "));
            sql.push('\n');
        }
        Token::BlockComment(text) => {
            // A comment that cannot end early or open a nested one.
            sql.push_str("/* ");
            sql.push_str(&text.replace("*/", "").replace("/*", "").replace('*', ""));
            sql.push_str(" */");
        }
        Token::Literal(quote, text) => {
            let text: String = text.chars().filter(|c| *c != '\\' && *c != '$').collect();
            match quote {
                Quote::Single => sql.push_str(&format!("'{}'", content(&text, "'", "''"))),
                Quote::Escaped => sql.push_str(&format!("E'{}'", content(&text, "'", "\\'"))),
                Quote::National => sql.push_str(&format!("N'{}'", content(&text, "'", "''"))),
                Quote::Hex => sql.push_str(&format!("X'{}'", content(&text, "'", "''"))),
                Quote::Unicode => sql.push_str(&format!("U&'{}'", content(&text, "'", "''"))),
                Quote::Dollar => sql.push_str(&format!("$${}$$", content(&text, "$$", ""))),
                Quote::TaggedDollar => {
                    sql.push_str(&format!("$tag${}$tag$", content(&text, "$tag$", "")))
                }
                Quote::Double if dialect == Dialect::Sqlite => {
                    sql.push_str(&format!("\"{}\"", content(&text, "\"", "\"\"")))
                }
                Quote::Double => return true,
            }
        }
        // Free text may break the statement's shape, but never holds the marker.
        Token::Raw(text) => {
            // SQLite's backticks quote identifiers (whose text is not a literal).
            let backtick = dialect == Dialect::Sqlite && text.contains('`');
            if !clean(text)
                || backtick
                || text.contains(['\'', '"', '$', '\\'])
                || text.contains("--")
                || text.contains("/*")
            {
                return true;
            }
            sql.push_str(text);
        }
    }
    sql.push(' ');
    true
}

#[derive(Debug, Arbitrary)]
struct Input {
    sqlite: bool,
    tokens: Vec<Token>,
    raw: String,
}

fuzz_target!(|input: Input| {
    let dialect = if input.sqlite {
        Dialect::Sqlite
    } else {
        Dialect::Postgres
    };
    let mut sql = String::new();
    for token in &input.tokens {
        write(&mut sql, token, dialect);
    }
    let sanitized = sanitize_for(&sql, dialect);
    assert!(
        !sanitized.text.contains(MARKER) && !sanitized.summary.contains(MARKER),
        "a literal leaked ({dialect:?}):\n  {sql}\n→ {}\n  summary {}",
        sanitized.text,
        sanitized.summary
    );
    for (name, value) in [("text", &sanitized.text), ("summary", &sanitized.summary)] {
        assert!(!value.contains(MARKER), "{name}: {value}");
    }
    assert!(sanitized.text.len() <= MAX_TEXT_LEN);
    assert!(sanitized.summary.len() <= MAX_SUMMARY_LEN);
    if let Some(collection) = &sanitized.collection {
        assert!(!collection.contains(MARKER), "{collection}");
    }

    let raw = sanitize_for(&input.raw, dialect);
    assert!(raw.text.len() <= MAX_TEXT_LEN);
    assert!(raw.summary.len() <= MAX_SUMMARY_LEN);
});
