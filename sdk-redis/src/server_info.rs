//! Redis server health from `INFO` (being built).
