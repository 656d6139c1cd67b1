//! Statement and index insights from PostgreSQL's statistics views (being built).
