//! Plans of slow queries, taken off the request path (being built).
