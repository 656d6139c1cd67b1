//! The SQL dialects whose lexical rules differ where the sanitizer cares.

/// SQL dialect rules the sanitizer needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dialect {
    /// PostgreSQL (the default): `"…"` is an identifier, block comments nest.
    #[default]
    Postgres,
    /// SQLite: `"…"` may be a string (SQLite accepts it when no column has that name), so
    /// it is masked; block comments do not nest.
    Sqlite,
}
