//! Shared helpers for braid's benchmarks.
