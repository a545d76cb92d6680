//! The braid tutorial: the chapters of `docs/`, compiled into the documentation so that
//! every example in them is tested.
//!
//! A chapter whose examples need a feature appears only when that feature is on; build the
//! docs with `--features full` to see them all.

#[doc = include_str!("../../../docs/src/01-concurrency.md")]
pub mod ch01_concurrency {}

#[cfg(feature = "poller")]
#[doc = include_str!("../../../docs/src/02-readiness.md")]
pub mod ch02_readiness {}

#[cfg(feature = "poller")]
#[doc = include_str!("../../../docs/src/11-crates-and-features.md")]
pub mod ch11_crates_and_features {}

#[cfg(feature = "threadpool")]
#[doc = include_str!("../../../docs/src/08-thread-pool.md")]
pub mod ch08_thread_pool {}
