//! braid measured against the libraries a user would otherwise pick, on the same machine in
//! the same run.
//!
//! Two ways in:
//!
//! - `cargo bench -p benches` runs the criterion benches in `benches/`, one group per
//!   workload with braid and its Rust peers side by side. They call the workload functions
//!   of the layer modules, such as [`poller::socket_rounds_braid`], which time a number of
//!   iterations, so both ways measure the same code.
//! - `cargo run --release -p benches --bin compare` (add `-- --quick` for a run of under two
//!   minutes) runs every [`LAYERS`] workload, Python baselines included, and prints one table;
//!   it also writes `target/compare/compare.json` and `target/compare/compare.svg`.
//!
//! This library is the `compare` harness. Each layer module measures its workloads for braid
//! and every peer and returns a [`LayerReport`]; a [`Report`] renders them all.
//!
//! ```
//! use benches::{Cell, LayerReport, Peer, Settings, Unit};
//! use std::time::{Duration, Instant};
//!
//! let settings = Settings::new(true);
//! let mut layer = LayerReport::new("demo", vec![Peer::rival("std")]);
//! let sum = |n: u64| {
//!     let start = Instant::now();
//!     std::hint::black_box((0..n).sum::<u64>());
//!     Ok(start.elapsed())
//! };
//! let braid = settings.measure(Unit::NsPerOp, 1000, || sum(1000));
//! let peer = settings.measure(Unit::NsPerOp, 1000, || sum(1000));
//! layer.push("sum 1,000 numbers", Unit::NsPerOp, braid, vec![peer]);
//! assert!(matches!(layer.rows[0].braid, Cell::Value(_)));
//! ```

pub mod echo;
pub mod executor;
mod machine;
mod measurement;
pub mod poller;
pub mod probe;
pub mod procpool;
mod python;
mod report;
mod settings;
pub mod threadpool;

pub use machine::Machine;
pub use measurement::{speedup, Cell, LayerReport, Peer, Row, Unit};
pub use python::{Python, PythonServer};
pub use report::{format_value, Report, RATIO_LEGEND};
pub use settings::{in_unit, panic_message, Settings};

/// Workers in every pool that is compared, braid's and the peers' alike.
pub const WORKERS: usize = 2;

/// One layer of braid and the function that measures it against its peers.
#[derive(Clone, Copy, Debug)]
pub struct Layer {
    /// The name the table shows.
    pub name: &'static str,
    /// The one-word name `--only` takes.
    pub key: &'static str,
    /// Runs every workload of the layer for braid and each peer.
    pub measure: fn(&Settings) -> LayerReport,
}

/// Every layer, in the order `compare` runs them.
pub const LAYERS: [Layer; 5] = [
    Layer {
        name: poller::LAYER,
        key: "poller",
        measure: poller::measure,
    },
    Layer {
        name: executor::LAYER,
        key: "executor",
        measure: executor::measure,
    },
    Layer {
        name: echo::LAYER,
        key: "echo",
        measure: echo::measure,
    },
    Layer {
        name: threadpool::LAYER,
        key: "threadpool",
        measure: threadpool::measure,
    },
    Layer {
        name: procpool::LAYER,
        key: "procpool",
        measure: procpool::measure,
    },
];
