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
//! The contenders of a row are measured side by side: each round runs every one of them once,
//! starting with a different one each time, so a change in the machine's load part-way
//! through lands on all of them alike.
//!
//! ```
//! use benches::{Cell, Contender, LayerReport, Peer, Settings, Unit};
//! use std::time::Instant;
//!
//! let settings = Settings::new(true);
//! let mut layer = LayerReport::new("demo", vec![Peer::rival("iterator"), Peer::rival("rayon")]);
//! let sum = |n: u64| {
//!     let start = Instant::now();
//!     std::hint::black_box((0..n).sum::<u64>());
//!     Ok(start.elapsed())
//! };
//! let mut total = 0;
//! let by_hand = || {
//!     let start = Instant::now();
//!     for i in 0..1000 {
//!         total += std::hint::black_box(i);
//!     }
//!     Ok(start.elapsed())
//! };
//! let (braid, peers) = settings.side_by_side(
//!     Unit::NsPerOp,
//!     1000,
//!     Contender::runs(by_hand),
//!     vec![Contender::runs(|| sum(1000)), Contender::not_applicable()],
//! );
//! layer.push("sum 1,000 numbers", Unit::NsPerOp, braid, peers);
//! assert!(matches!(layer.rows[0].braid, Cell::Value(_)));
//! assert_eq!(layer.rows[0].peers[1], Cell::NotApplicable);
//! ```

pub mod echo;
pub mod executor;
pub mod http;
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
pub use settings::{in_unit, panic_message, Contender, Settings};

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
pub const LAYERS: [Layer; 8] = [
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
        name: echo::CORES_LAYER,
        key: "echo-cores",
        measure: echo::measure_cores,
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
    Layer {
        name: procpool::REMOTE_LAYER,
        key: "procpool-remote",
        measure: procpool::measure_remote,
    },
    Layer {
        name: http::LAYER,
        key: "http",
        measure: http::measure,
    },
];
