//! braid: the concurrency models Python programmers know, for Rust.
//!
//! | module | what it is | Python analogue |
//! |---|---|---|
//! | `braid::poller` | epoll / kqueue readiness poller with a cross-thread wake | `selectors` |
//! | `braid::threadpool` | work-stealing thread pool with fork-join | `ThreadPoolExecutor` |
//!
//! Each module is a crate of its own behind a feature of the same name; `full` turns on all
//! of them. More models join as their crates land. Depend on a single crate when that is all you
//! need, or on `braid` for all of them under one name.
//!
//! The [`tutorial`] teaches the models from first principles, for a reader who knows Python
//! and a little Rust; every example in it is compiled and run by the test suite.
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "poller")]
#[cfg_attr(docsrs, doc(cfg(feature = "poller")))]
#[doc(inline)]
pub use braid_poller as poller;

#[cfg(feature = "threadpool")]
#[cfg_attr(docsrs, doc(cfg(feature = "threadpool")))]
#[doc(inline)]
pub use braid_threadpool as threadpool;

pub mod tutorial;
