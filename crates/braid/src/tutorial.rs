//! The braid tutorial: the chapters of `docs/`, compiled into the documentation so that
//! every example in them is tested.
//!
//! Start with [chapter 1](ch01_concurrency). A chapter whose examples need a feature appears
//! only when that feature is on; build the docs with `--features full` to see them all.

#[doc = include_str!("../../../docs/src/01-concurrency.md")]
pub mod ch01_concurrency {}

#[cfg(feature = "poller")]
#[doc = include_str!("../../../docs/src/02-readiness.md")]
pub mod ch02_readiness {}

#[cfg(feature = "executor")]
#[doc = include_str!("../../../docs/src/03-event-loop.md")]
pub mod ch03_event_loop {}

#[cfg(feature = "executor")]
#[doc = include_str!("../../../docs/src/04-many-things.md")]
pub mod ch04_many_things {}

#[cfg(feature = "executor")]
#[doc = include_str!("../../../docs/src/05-networking.md")]
pub mod ch05_networking {}

#[cfg(feature = "executor")]
#[doc = include_str!("../../../docs/src/06-coordinating.md")]
pub mod ch06_coordinating {}

#[cfg(all(feature = "executor", feature = "threadpool"))]
#[doc = include_str!("../../../docs/src/07-sync-and-async.md")]
pub mod ch07_sync_and_async {}

#[cfg(feature = "threadpool")]
#[doc = include_str!("../../../docs/src/08-thread-pool.md")]
pub mod ch08_thread_pool {}

#[cfg(feature = "procpool")]
#[doc = include_str!("../../../docs/src/09-process-pool.md")]
pub mod ch09_process_pool {}

#[doc = include_str!("../../../docs/src/10-choosing.md")]
pub mod ch10_choosing {}

#[cfg(feature = "poller")]
#[doc = include_str!("../../../docs/src/11-crates-and-features.md")]
pub mod ch11_crates_and_features {}

#[cfg(all(
    feature = "executor",
    feature = "threadpool",
    feature = "procpool",
    feature = "poller"
))]
#[doc = include_str!("../../../docs/src/12-from-python.md")]
pub mod ch12_from_python {}

#[cfg(feature = "executor")]
#[doc = include_str!("../../../docs/src/13-processes-signals-cores.md")]
pub mod ch13_processes_signals_cores {}

#[cfg(feature = "hyper")]
#[doc = include_str!("../../../docs/src/14-ecosystem.md")]
pub mod ch14_ecosystem {}
