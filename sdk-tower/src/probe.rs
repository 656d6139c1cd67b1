//! Synthetic probes of dependencies and endpoints (being built).
