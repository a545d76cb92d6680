//! What one comparison row holds: a workload, its unit, braid's value and each peer's.

use std::fmt;

/// The unit a row is reported in, which also says which direction is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Nanoseconds per operation.
    NsPerOp,
    /// Microseconds per operation.
    UsPerOp,
    /// Milliseconds for the whole workload.
    Ms,
    /// Thousands of operations per second.
    KOpsPerSec,
    /// Mebibytes of memory.
    MiB,
    /// Bytes per task.
    BytesPerTask,
    /// How many times faster than the same job on one thread or in one process.
    Speedup,
    /// Voluntary context switches per operation (a thread or process that blocked and was
    /// woken), counted with `getrusage`: unlike a time, it does not swing with how busy the
    /// machine is.
    SwitchesPerOp,
}

impl Unit {
    /// The short label printed in the table and the chart.
    pub fn label(self) -> &'static str {
        match self {
            Unit::NsPerOp => "ns/op",
            Unit::UsPerOp => "µs/op",
            Unit::Ms => "ms",
            Unit::KOpsPerSec => "k op/s",
            Unit::MiB => "MiB",
            Unit::BytesPerTask => "B/task",
            Unit::Speedup => "×",
            Unit::SwitchesPerOp => "switches/op",
        }
    }

    /// Whether a bigger number is the better one (throughput, speedup), rather than a
    /// smaller one (time, memory).
    pub fn higher_is_better(self) -> bool {
        matches!(self, Unit::KOpsPerSec | Unit::Speedup)
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// One contender's result for one workload.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    /// The measured value, in the row's unit.
    Value(f64),
    /// The contender could not be measured here; the text says why (shown as `n/a`).
    Missing(String),
    /// The contender has no counterpart for this workload (shown as `-`).
    NotApplicable,
}

impl Cell {
    /// The value, if there is one.
    pub fn value(&self) -> Option<f64> {
        match self {
            Cell::Value(v) => Some(*v),
            _ => None,
        }
    }
}

/// How many times faster `parallel` ran than `baseline`, two times in the same unit: a
/// value when both were measured, `-` when the contender has no such workload, and the
/// reason when either is missing.
pub fn speedup(baseline: &Cell, parallel: &Cell) -> Cell {
    match (baseline, parallel) {
        (_, Cell::NotApplicable) => Cell::NotApplicable,
        (Cell::Value(base), Cell::Value(time)) if *time > 0.0 => Cell::Value(base / time),
        (Cell::Value(_), Cell::Value(time)) => {
            Cell::Missing(format!("a time of {time} gives no speedup"))
        }
        (_, Cell::Missing(why)) => Cell::Missing(why.clone()),
        (Cell::Missing(why), _) => Cell::Missing(format!("no baseline: {why}")),
        (Cell::NotApplicable, _) => Cell::Missing("no baseline".into()),
    }
}

/// A column next to braid's: a peer library, or a floor that no pool can beat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    /// The name shown in the header.
    pub name: &'static str,
    /// A floor is shown for reference and left out of the ratio.
    pub floor: bool,
}

impl Peer {
    /// A peer that braid is compared against.
    pub const fn rival(name: &'static str) -> Peer {
        Peer { name, floor: false }
    }

    /// A reference column that takes no part in the ratio.
    pub const fn floor(name: &'static str) -> Peer {
        Peer { name, floor: true }
    }
}

/// One workload's results: braid's and each peer's, in the layer's peer order.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// What was run, with its size.
    pub workload: String,
    /// The unit of every cell.
    pub unit: Unit,
    /// braid's result.
    pub braid: Cell,
    /// One cell per peer of the layer, in the same order.
    pub peers: Vec<Cell>,
}

impl Row {
    /// braid against the best rival (floors excluded), oriented so that below 1.0 means
    /// braid is better: braid ÷ best for times and memory, best ÷ braid for throughput and
    /// speedup.
    /// `None` when braid or every rival is missing.
    pub fn ratio(&self, peers: &[Peer]) -> Option<f64> {
        let braid = self.braid.value()?;
        let rivals = self
            .peers
            .iter()
            .zip(peers)
            .filter(|(_, peer)| !peer.floor)
            .filter_map(|(cell, _)| cell.value());
        if self.unit.higher_is_better() {
            let best = rivals.fold(f64::NAN, f64::max);
            (best.is_finite() && braid > 0.0).then(|| best / braid)
        } else {
            let best = rivals.fold(f64::NAN, f64::min);
            (best.is_finite() && best > 0.0).then(|| braid / best)
        }
    }
}

/// Everything one layer measured.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerReport {
    /// The layer's name, as `--only` takes it.
    pub layer: &'static str,
    /// The columns after braid's.
    pub peers: Vec<Peer>,
    /// One row per workload.
    pub rows: Vec<Row>,
    /// Remarks on how the layer was measured, and why a cell is missing.
    pub notes: Vec<String>,
}

impl LayerReport {
    /// An empty report for `layer` with these peer columns.
    pub fn new(layer: &'static str, peers: Vec<Peer>) -> LayerReport {
        LayerReport {
            layer,
            peers,
            rows: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Adds a row; `peers` must have one cell per peer column.
    ///
    /// # Panics
    ///
    /// Panics if `peers` does not have one cell per peer column, which is a mistake in the
    /// layer's code.
    pub fn push(&mut self, workload: impl Into<String>, unit: Unit, braid: Cell, peers: Vec<Cell>) {
        assert_eq!(peers.len(), self.peers.len(), "one cell per peer column");
        self.rows.push(Row {
            workload: workload.into(),
            unit,
            braid,
            peers,
        });
    }

    /// Adds a note, once.
    pub fn note(&mut self, note: impl Into<String>) {
        let note = note.into();
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(unit: Unit, braid: Cell, peers: Vec<Cell>) -> Row {
        Row {
            workload: "w".into(),
            unit,
            braid,
            peers,
        }
    }

    #[test]
    fn ratio_for_times_divides_braid_by_the_fastest_rival() {
        let peers = [Peer::rival("a"), Peer::rival("b")];
        let r = row(
            Unit::Ms,
            Cell::Value(2.0),
            vec![Cell::Value(8.0), Cell::Value(4.0)],
        );
        assert_eq!(r.ratio(&peers), Some(0.5));
    }

    #[test]
    fn ratio_for_throughput_is_below_one_when_braid_is_faster() {
        let peers = [Peer::rival("a"), Peer::rival("b")];
        let r = row(
            Unit::KOpsPerSec,
            Cell::Value(200.0),
            vec![Cell::Value(50.0), Cell::Value(100.0)],
        );
        assert_eq!(r.ratio(&peers), Some(0.5));
    }

    #[test]
    fn ratio_ignores_floors_and_missing_cells() {
        let peers = [Peer::rival("a"), Peer::rival("b"), Peer::floor("pipe")];
        let r = row(
            Unit::UsPerOp,
            Cell::Value(30.0),
            vec![
                Cell::Missing("no python3".into()),
                Cell::Value(10.0),
                Cell::Value(1.0),
            ],
        );
        assert_eq!(r.ratio(&peers), Some(3.0));
    }

    #[test]
    fn ratio_is_none_without_braid_or_rivals() {
        let peers = [Peer::rival("a"), Peer::floor("pipe")];
        let no_braid = row(
            Unit::Ms,
            Cell::Missing("x".into()),
            vec![Cell::Value(1.0), Cell::Value(1.0)],
        );
        assert_eq!(no_braid.ratio(&peers), None);
        let no_rival = row(
            Unit::Ms,
            Cell::Value(1.0),
            vec![Cell::NotApplicable, Cell::Value(1.0)],
        );
        assert_eq!(no_rival.ratio(&peers), None);
    }

    #[test]
    fn speedup_divides_the_baseline_by_the_time_and_keeps_reasons() {
        let base = Cell::Value(300.0);
        assert_eq!(speedup(&base, &Cell::Value(150.0)), Cell::Value(2.0));
        assert_eq!(speedup(&base, &Cell::NotApplicable), Cell::NotApplicable);
        assert_eq!(
            speedup(&base, &Cell::Missing("failed: boom".into())),
            Cell::Missing("failed: boom".into())
        );
        assert_eq!(
            speedup(&Cell::Missing("no python3".into()), &Cell::Value(1.0)),
            Cell::Missing("no baseline: no python3".into())
        );
        assert!(matches!(
            speedup(&base, &Cell::Value(0.0)),
            Cell::Missing(_)
        ));
    }

    #[test]
    fn ratio_for_speedup_is_below_one_when_braid_scales_better() {
        let peers = [Peer::rival("a"), Peer::rival("b")];
        let r = row(
            Unit::Speedup,
            Cell::Value(2.0),
            vec![Cell::Value(1.0), Cell::Value(1.6)],
        );
        assert_eq!(r.ratio(&peers), Some(0.8));
    }

    #[test]
    #[should_panic(expected = "one cell per peer column")]
    fn push_rejects_a_row_with_the_wrong_number_of_cells() {
        let mut layer = LayerReport::new("l", vec![Peer::rival("a")]);
        layer.push("w", Unit::Ms, Cell::Value(1.0), vec![]);
    }
}
