//! The braid tutorial: its chapters, compiled into the documentation so that every example
//! in them is tested.
//!
//! Start with [chapter 1](ch01_concurrency). The chapters are the files of the crate's
//! `tutorial/` directory, which is also a book: `mdbook serve docs` at the top of the
//! repository. Every chapter is here whatever features are on; an example that needs a
//! feature outside the defaults (`poller`, `procpool`, `hyper`) runs only when that feature is
//! on, so build the docs and run the doctests with `--all-features` to see and run them all.
//!
//! The build script copies each chapter into `OUT_DIR` with its pictures inlined, since
//! rustdoc publishes no image files next to its pages.

#[doc = include_str!(concat!(env!("OUT_DIR"), "/01-concurrency.md"))]
pub mod ch01_concurrency {}

#[doc = include_str!(concat!(env!("OUT_DIR"), "/02-readiness.md"))]
pub mod ch02_readiness {}

#[doc = include_str!(concat!(env!("OUT_DIR"), "/03-event-loop.md"))]
pub mod ch03_event_loop {}

#[doc = include_str!(concat!(env!("OUT_DIR"), "/04-many-things.md"))]
pub mod ch04_many_things {}

#[doc = include_str!(concat!(env!("OUT_DIR"), "/05-networking.md"))]
pub mod ch05_networking {}

#[doc = include_str!(concat!(env!("OUT_DIR"), "/06-coordinating.md"))]
pub mod ch06_coordinating {}

#[doc = include_str!(concat!(env!("OUT_DIR"), "/07-sync-and-async.md"))]
pub mod ch07_sync_and_async {}

#[doc = include_str!(concat!(env!("OUT_DIR"), "/08-thread-pool.md"))]
pub mod ch08_thread_pool {}

#[doc = include_str!(concat!(env!("OUT_DIR"), "/09-process-pool.md"))]
pub mod ch09_process_pool {}

#[doc = include_str!(concat!(env!("OUT_DIR"), "/10-choosing.md"))]
pub mod ch10_choosing {}

#[doc = include_str!(concat!(env!("OUT_DIR"), "/11-crates-and-features.md"))]
pub mod ch11_crates_and_features {}

#[doc = include_str!(concat!(env!("OUT_DIR"), "/12-from-python.md"))]
pub mod ch12_from_python {}

#[doc = include_str!(concat!(env!("OUT_DIR"), "/13-processes-signals-cores.md"))]
pub mod ch13_processes_signals_cores {}

#[doc = include_str!(concat!(env!("OUT_DIR"), "/14-ecosystem.md"))]
pub mod ch14_ecosystem {}
