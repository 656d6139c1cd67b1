//! On-demand CPU profiles (being built).
