//! braid: the concurrency models Python programmers know, for Rust.
//!
//! | module | what it is | Python analogue |
//! |---|---|---|
//! | [`poller`] | epoll / kqueue readiness poller with a cross-thread wake | `selectors` |
//! | [`threadpool`] | work-stealing thread pool with fork-join | `ThreadPoolExecutor` |
//! | [`executor`] | single-threaded event loop, timers, sockets, async primitives | `asyncio` |
//! | [`procpool`] | pool of worker processes that survives crashes and hangs | `ProcessPoolExecutor` |
//!
//! Each module is a crate of its own (`braid-poller`, `braid-threadpool`, `braid-executor`,
//! `braid-procpool`) behind a feature of the same name; `full` turns on all of them, and the
//! default is `executor` and `threadpool`. Depend on a single crate when that is all you
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

#[cfg(feature = "executor")]
#[cfg_attr(docsrs, doc(cfg(feature = "executor")))]
#[doc(inline)]
pub use braid_executor as executor;

#[cfg(feature = "procpool")]
#[cfg_attr(docsrs, doc(cfg(feature = "procpool")))]
#[doc(inline)]
pub use braid_procpool as procpool;

pub mod tutorial;
