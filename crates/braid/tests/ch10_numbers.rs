//! Chapter 10's numbers come from one run of the comparison benchmark, kept as
//! `tutorial/data/compare.json` (the JSON `cargo run --release -p benches --bin compare`
//! writes). The table between the chapter's `compare-table` markers is rendered from it here,
//! and every number the prose quotes is checked against it, so the text and the data cannot
//! drift apart.
//!
//! After a new run, copy its `compare.json` over the data file, then rewrite the table with
//! `BRAID_BLESS=1 cargo test -p braid --test ch10_numbers`, and fix the prose this test
//! names.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

const START: &str = "<!-- compare-table:start -->";
const END: &str = "<!-- compare-table:end -->";
const BLESS: &str = "BRAID_BLESS";

fn chapter_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tutorial/10-choosing.md")
}

fn data() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tutorial/data/compare.json");
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Three significant figures and no exponent, as `compare` prints them: 2115.8 → "2116",
/// 51.17 → "51.2", 0.0011 → "0.00110".
fn sig3(value: f64) -> String {
    if value == 0.0 || !value.is_finite() {
        return format!("{value}");
    }
    let magnitude = value.abs().log10().floor() as i32;
    let decimals = (2 - magnitude).max(0) as usize;
    format!("{value:.decimals$}")
}

/// The last column: two decimals, as `compare` prints it, but never a bare "0.00".
fn ratio_text(ratio: &Value) -> String {
    match ratio.as_f64() {
        Some(r) if r < 0.005 => "< 0.01".into(),
        Some(r) => format!("{r:.2}"),
        None => "-".into(),
    }
}

/// A measured value with its unit: "200 ns/op", "1.70×".
fn with_unit(value: &str, unit: &str) -> String {
    if unit == "×" {
        format!("{value}×")
    } else {
        format!("{value} {unit}")
    }
}

/// A cell's text: a number, "n/a" for a contender that could not be measured, or `None`
/// for one with no counterpart (JSON `null`).
fn cell_text(cell: &Value) -> Option<String> {
    match cell {
        Value::Null => None,
        Value::Number(n) => Some(sig3(n.as_f64().unwrap())),
        _ => Some("n/a".into()),
    }
}

fn strs(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// The sentence that says where and when the numbers were measured.
fn provenance(data: &Value) -> String {
    let machine = &data["machine"];
    let cores = machine["cores"].as_u64().expect("machine.cores");
    let mut system = format!(
        "{} {}",
        machine["os"].as_str().expect("machine.os"),
        machine["arch"].as_str().expect("machine.arch")
    );
    if let Some(kernel) = machine["kernel"].as_str() {
        let _ = write!(system, ", kernel {kernel}");
    }
    let python = match data["python"].as_str() {
        Some(version) => format!("the Python baselines on {version}"),
        None => format!(
            "no Python baselines ({})",
            data["python_missing_because"]
                .as_str()
                .unwrap_or("no reason given")
        ),
    };
    format!(
        "Measured on {date} by one {kind} run of `compare`, on {cores} core{s} ({cpu}, {system}), \
         with {python}; every pool has {workers} workers.",
        date = data["date"]
            .as_str()
            .expect("the data has a `date` (YYYY-MM-DD): the day of the run"),
        kind = if data["quick"].as_bool().expect("quick") {
            "quick"
        } else {
            "full"
        },
        s = if cores == 1 { "" } else { "s" },
        cpu = machine["cpu"].as_str().expect("machine.cpu"),
        workers = data["workers"].as_u64().expect("workers"),
    )
}

/// What goes between the markers: the provenance sentence, then one table row per workload.
fn render(data: &Value) -> String {
    let mut out = provenance(data);
    out.push_str(
        "\n\n| layer | workload | braid | peers | braid ÷ best |\n|---|---|---|---|---|\n",
    );
    for layer in data["layers"].as_array().expect("layers") {
        let name = layer["layer"].as_str().expect("layer name");
        let peers = strs(&layer["peers"]);
        let floors = strs(&layer["floors"]);
        for row in layer["rows"].as_array().expect("rows") {
            let unit = row["unit"].as_str().expect("unit");
            let braid = cell_text(&row["braid"]).map_or("-".into(), |v| with_unit(&v, unit));
            let listed = |floor: bool| -> Vec<String> {
                peers
                    .iter()
                    .filter(|peer| floors.contains(peer) == floor)
                    .filter_map(|peer| {
                        cell_text(&row["peers"][*peer]).map(|value| format!("{peer} {value}"))
                    })
                    .collect()
            };
            let mut cell = listed(false).join(", ");
            let below = listed(true);
            if !below.is_empty() {
                if !cell.is_empty() {
                    cell.push(' ');
                }
                let _ = write!(cell, "(floor: {})", below.join(", "));
            }
            if cell.is_empty() {
                cell.push('-');
            }
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                escape(name),
                escape(row["workload"].as_str().expect("workload")),
                escape(&braid),
                escape(&cell),
                ratio_text(&row["braid_over_best_peer"]),
            );
        }
    }
    out
}

fn escape(text: &str) -> String {
    text.replace('|', "\\|")
}

/// Where the text between the markers starts and ends in `chapter`.
fn block(chapter: &str) -> (usize, usize) {
    assert_eq!(
        (chapter.matches(START).count(), chapter.matches(END).count()),
        (1, 1),
        "chapter 10 needs exactly one `{START}` and one `{END}`"
    );
    let start = chapter.find(START).unwrap() + START.len();
    let end = chapter.find(END).unwrap();
    assert!(start <= end, "`{START}` comes after `{END}`");
    (start, end)
}

#[test]
fn the_table_is_the_committed_run() {
    let path = chapter_path();
    let chapter = fs::read_to_string(&path).unwrap();
    let (start, end) = block(&chapter);
    // Blank lines around the table, so that no Markdown reader takes a marker for a row.
    let expected = format!("\n\n{}\n", render(&data()));
    if chapter[start..end] == expected {
        return;
    }
    if std::env::var_os(BLESS).is_some() {
        let rewritten = format!("{}{expected}{}", &chapter[..start], &chapter[end..]);
        fs::write(&path, rewritten).unwrap();
        eprintln!("rewrote the table of {}", path.display());
        return;
    }
    let have: Vec<&str> = chapter[start..end].lines().collect();
    let want: Vec<&str> = expected.lines().collect();
    let line = (0..have.len().max(want.len()))
        .find(|&i| have.get(i) != want.get(i))
        .unwrap_or(0);
    let first_difference = format!(
        "the chapter has\n  {}\nwhere the data gives\n  {}",
        have.get(line).unwrap_or(&"(no line)"),
        want.get(line).unwrap_or(&"(no line)"),
    );
    panic!(
        "chapter 10's table disagrees with tutorial/data/compare.json: {first_difference}\n\
         To rewrite the table from the data, run\n  \
         {BLESS}=1 cargo test -p braid --test ch10_numbers"
    );
}

/// What a quoted number is taken from.
enum Pick {
    Braid,
    Peer(&'static str),
    Ratio,
}

/// Numbers the prose quotes: each phrase, with `{}` for the number, must be in the chapter
/// with the number the data gives for (layer, workload, which cell).
const QUOTES: &[(&str, &str, &str, Pick)] = &[
    // The decision table.
    (
        "one thread, {} bytes each",
        "event loop",
        "memory per idle task",
        Pick::Braid,
    ),
    (
        "{} µs of overhead per job",
        "thread pool",
        "submit 20,000 tasks, join each result",
        Pick::Braid,
    ),
    // What to take from it.
    (
        "An idle task costs {} bytes",
        "event loop",
        "memory per idle task",
        Pick::Braid,
    ),
    (
        "tokio's {} bytes",
        "event loop",
        "memory per idle task",
        Pick::Peer("tokio current"),
    ),
    (
        "100,000 concurrent sleeps take {} ms",
        "event loop",
        "100,000 concurrent 1 ms sleeps",
        Pick::Braid,
    ),
    (
        "{} ns a yield",
        "event loop",
        "yield storm: 1,000 tasks x 1,000 yields",
        Pick::Braid,
    ),
    (
        "{} ns a channel round trip",
        "event loop",
        "channel ping-pong, 100,000 round trips",
        Pick::Braid,
    ),
    (
        "costs {} µs to submit and",
        "thread pool",
        "submit 20,000 tasks, join each result",
        Pick::Braid,
    ),
    (
        "against {} µs for",
        "thread pool",
        "submit 20,000 tasks, join each result",
        Pick::Peer("py ThreadPool"),
    ),
    (
        "{} ns fire-and-forget",
        "thread pool",
        "1,000,000 tiny tasks, no handle (braid spawn)",
        Pick::Braid,
    ),
    (
        "runs faster than chili's `join` ({} here)",
        "thread pool",
        "join: fib(32)",
        Pick::Ratio,
    ),
    (
        "million numbers {} times as fast",
        "thread pool",
        "quicksort speedup over one thread",
        Pick::Braid,
    ),
    (
        "one at a time, {} µs a job",
        "process pool",
        "one task at a time, 2,000 round trips",
        Pick::Braid,
    ),
    (
        "the raw pipe's {} µs",
        "process pool",
        "one task at a time, 2,000 round trips",
        Pick::Peer("raw pipe"),
    ),
    (
        "{} voluntary context switches per round trip",
        "process pool",
        "voluntary switches per round trip, one at a time, 2,000",
        Pick::Peer("raw pipe"),
    ),
    (
        "{} µs a job when 10,000 are in flight",
        "process pool",
        "submit 10,000 trivial tasks, then join each",
        Pick::Braid,
    ),
    (
        "`map` with chunks of 1,000 takes {} ms",
        "process pool",
        "map 100,000 items, chunks of 1,000",
        Pick::Braid,
    ),
    // Level, or swinging.
    (
        "the `threadpool` crate ({} here",
        "thread pool",
        "the same, braid submit with each handle dropped",
        Pick::Ratio,
    ),
    (
        "one-thread echo is level ({} here",
        "echo",
        "50 connections x 2,000 round trips of 64 B",
        Pick::Ratio,
    ),
    (
        "{} µs of server CPU per round trip",
        "echo",
        "server CPU time per round trip (same runs)",
        Pick::Braid,
    ),
    (
        "against tokio's {}",
        "echo",
        "server CPU time per round trip (same runs)",
        Pick::Peer("tokio current"),
    ),
    (
        "notify between two threads ({})",
        "poller",
        "notify round trip, two threads",
        Pick::Ratio,
    ),
    (
        "1,000 socket pairs ({})",
        "poller",
        "1,000 socket pairs, 10% ready per round",
        Pick::Ratio,
    ),
    (
        "the loop-per-core echo is ahead ({})",
        "echo, loop per core",
        "50 connections x 2,000 round trips, 2 threads",
        Pick::Ratio,
    ),
    (
        "in most runs ({} in this one",
        "echo, loop per core",
        "the same, braid's loops never yield before sleeping",
        Pick::Ratio,
    ),
    (
        "with every thread free to move ({})",
        "echo, loop per core",
        "1 connection x 2,000 round trips beside 2 spinning threads",
        Pick::Ratio,
    ),
    (
        "that a pinned spinner shares ({})",
        "echo, loop per core",
        "the same, each server thread pinned to a core with a pinned spinning thread",
        Pick::Ratio,
    ),
    // The process pool past one machine.
    (
        "Over TCP a task sent on its own costs {} µs",
        "process pool past one machine",
        "TCP: one task at a time, 2,000 round trips",
        Pick::Braid,
    ),
    (
        "against {} µs, and 10,000 in flight",
        "process pool past one machine",
        "TCP: one task at a time, 2,000 round trips",
        Pick::Peer("braid, local pipes"),
    ),
    (
        "10,000 in flight {} µs each against",
        "process pool past one machine",
        "TCP: submit 10,000 trivial tasks, then join each",
        Pick::Braid,
    ),
    (
        "each against {} µs; a CPU-bound",
        "process pool past one machine",
        "TCP: submit 10,000 trivial tasks, then join each",
        Pick::Peer("braid, local pipes"),
    ),
    (
        "as on local workers ({} against",
        "process pool past one machine",
        "Slurm, one node: CPU-bound map, per range of 20,000",
        Pick::Braid,
    ),
    (
        "against {} µs per range)",
        "process pool past one machine",
        "Slurm, one node: CPU-bound map, per range of 20,000",
        Pick::Peer("braid, local pipes"),
    ),
    (
        "takes {} ms to start, run and shut down",
        "process pool past one machine",
        "Slurm, one node: pool start, 2 workers, 2 results, shut down",
        Pick::Braid,
    ),
];

fn row<'a>(data: &'a Value, layer: &str, workload: &str) -> &'a Value {
    let layer = data["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["layer"] == layer)
        .unwrap_or_else(|| panic!("no layer {layer:?} in the data"));
    layer["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["workload"] == workload)
        .unwrap_or_else(|| panic!("no workload {workload:?} in layer {layer} of the data"))
}

/// `phrase` with its `{}` replaced by the number the data gives for (layer, workload, pick).
fn quote(data: &Value, phrase: &str, layer: &str, workload: &str, pick: &Pick) -> String {
    let row = row(data, layer, workload);
    let number = match pick {
        Pick::Braid => cell_text(&row["braid"]),
        Pick::Peer(peer) => cell_text(&row["peers"][*peer]),
        Pick::Ratio => Some(ratio_text(&row["braid_over_best_peer"])),
    }
    .unwrap_or_else(|| panic!("{layer}, {workload}: no number for {phrase:?}"));
    phrase.replace("{}", &number)
}

#[test]
fn the_prose_quotes_the_committed_run() {
    let data = data();
    let chapter = fs::read_to_string(chapter_path()).unwrap();
    let (start, end) = block(&chapter);
    // Lines are wrapped anywhere, so any run of white space counts as one space.
    let prose = format!("{} {}", &chapter[..start], &chapter[end..])
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let mut wrong = Vec::new();
    for (phrase, layer, workload, pick) in QUOTES {
        let quoted = quote(&data, phrase, layer, workload, pick);
        if !prose.contains(&quoted) {
            wrong.push(format!("  {quoted:?} ({layer}, {workload})"));
        }
    }
    assert!(
        wrong.is_empty(),
        "chapter 10's prose should quote these numbers from tutorial/data/compare.json, \
         and does not:\n{}",
        wrong.join("\n")
    );
}

/// Numbers other chapters quote from the same run: (chapter file, phrase, layer, workload,
/// which cell).
const QUOTES_ELSEWHERE: &[(&str, &str, &str, &str, Pick)] = &[
    (
        "01-concurrency.md",
        "a similar prime count {} times as fast",
        "thread pool",
        "primes speedup over one thread",
        Pick::Braid,
    ),
    (
        "05-networking.md",
        "({} B measured, chapter 10's table",
        "event loop",
        "memory per idle task",
        Pick::Braid,
    ),
    (
        "09-process-pool.md",
        "always safe; {} ms to start two workers",
        "process pool",
        "pool start, spawn: 2 workers, 2 results, shut down",
        Pick::Braid,
    ),
    (
        "09-process-pool.md",
        "against {} ms with `Fork` in the same run",
        "process pool",
        "pool start, fork: 2 workers, 2 results, shut down",
        Pick::Braid,
    ),
    (
        "13-processes-signals-cores.md",
        "round trips a second: {} thousand over 50 connections",
        "echo",
        "50 connections x 2,000 round trips of 64 B",
        Pick::Braid,
    ),
];

#[test]
fn other_chapters_quote_the_committed_run() {
    let data = data();
    let mut wrong = Vec::new();
    for (file, phrase, layer, workload, pick) in QUOTES_ELSEWHERE {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tutorial")
            .join(file);
        let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let quoted = quote(&data, phrase, layer, workload, pick);
        if !text.contains(&quoted) {
            wrong.push(format!("  {file}: {quoted:?} ({layer}, {workload})"));
        }
    }
    assert!(
        wrong.is_empty(),
        "these chapters should quote these numbers from tutorial/data/compare.json, and do \
         not:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_renderer_formats_cells_floors_gaps_and_ratios() {
    let data = json!({
        "date": "2026-01-02",
        "machine": { "cores": 1, "cpu": "Test CPU", "os": "linux", "arch": "x86_64", "kernel": "6.1.0" },
        "python": null,
        "python_missing_because": "no python3",
        "quick": true,
        "workers": 2,
        "layers": [{
            "layer": "pool",
            "peers": ["b", "a", "pipe"],
            "floors": ["pipe"],
            "rows": [
                { "workload": "w|1", "unit": "µs/op", "braid": 0.0011,
                  "peers": { "a": 2115.84465, "b": { "missing": "no b" }, "pipe": 1.997 },
                  "braid_over_best_peer": 0.0009 },
                { "workload": "w2", "unit": "×", "braid": 1.7001,
                  "peers": { "a": null, "b": null, "pipe": null },
                  "braid_over_best_peer": null },
                { "workload": "w3", "unit": "ms", "braid": 28.98,
                  "peers": { "a": 28.27, "b": null, "pipe": null },
                  "braid_over_best_peer": 1.025265982474867 }
            ]
        }]
    });
    assert_eq!(
        render(&data),
        "Measured on 2026-01-02 by one quick run of `compare`, on 1 core (Test CPU, linux \
         x86_64, kernel 6.1.0), with no Python baselines (no python3); every pool has 2 \
         workers.\n\
         \n\
         | layer | workload | braid | peers | braid ÷ best |\n\
         |---|---|---|---|---|\n\
         | pool | w\\|1 | 0.00110 µs/op | b n/a, a 2116 (floor: pipe 2.00) | < 0.01 |\n\
         | pool | w2 | 1.70× | - | - |\n\
         | pool | w3 | 29.0 ms | a 28.3 | 1.03 |\n"
    );
}

#[test]
fn numbers_keep_three_significant_figures() {
    assert_eq!(sig3(2115.84465), "2116");
    assert_eq!(sig3(199.706835), "200");
    assert_eq!(sig3(51.1735876), "51.2");
    assert_eq!(sig3(0.24586005), "0.246");
    assert_eq!(sig3(0.0005), "0.000500");
    assert_eq!(sig3(1.997), "2.00");
}
