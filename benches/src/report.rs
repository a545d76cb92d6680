//! The comparison's three outputs: a text table, JSON, and an SVG bar chart.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::machine::Machine;
use crate::measurement::{Cell, LayerReport, Row};

/// The line under the title that says how to read the ratio column.
pub const RATIO_LEGEND: &str = "braid/best = braid ÷ best peer for times and memory, best peer ÷ braid for throughput and speedup: below 1.0 means braid is better";

/// Everything one run of the comparison measured.
#[derive(Clone, Debug)]
pub struct Report {
    /// Where it ran.
    pub machine: Machine,
    /// Whether this was a `--quick` run.
    pub quick: bool,
    /// The Python baselines' interpreter version, or why there is none.
    pub python: Result<String, String>,
    /// Workers in every pool.
    pub workers: usize,
    /// One entry per layer, in the order run.
    pub layers: Vec<LayerReport>,
    /// How long the whole run took.
    pub elapsed: Duration,
}

impl Report {
    fn title(&self) -> String {
        format!(
            "braid vs its peers on {} core{}, {} ({} {}); {} run, pools of {} workers",
            self.machine.cores,
            if self.machine.cores == 1 { "" } else { "s" },
            self.machine.cpu,
            self.machine.os,
            self.machine.arch,
            if self.quick { "quick" } else { "full" },
            self.workers,
        )
    }

    /// The table printed at the end of a run: one section per layer, each with its own
    /// peer columns, then the notes.
    pub fn table(&self) -> String {
        let workload_width = self
            .layers
            .iter()
            .flat_map(|layer| layer.rows.iter().map(|row| row.workload.chars().count()))
            .chain(["workload".len()])
            .max()
            .unwrap_or(8);
        let cell_width = self
            .layers
            .iter()
            .flat_map(|layer| layer.peers.iter().map(|peer| peer.name.chars().count()))
            .chain([10])
            .max()
            .unwrap_or(10);
        let mut out = String::new();
        let _ = writeln!(out, "{}", self.title());
        let _ = writeln!(out, "{RATIO_LEGEND}");
        match &self.python {
            Ok(version) => {
                let _ = writeln!(out, "Python baselines: {version}");
            }
            Err(why) => {
                let _ = writeln!(out, "Python baselines: none ({why})");
            }
        }
        for layer in &self.layers {
            let _ = writeln!(out);
            let mut header = format!(
                "{:<workload_width$}  {:<6}  {:>cell_width$}",
                layer.layer, "unit", "braid"
            );
            for peer in &layer.peers {
                let _ = write!(header, "  {:>cell_width$}", peer.name);
            }
            let _ = write!(header, "  {:>10}", "braid/best");
            let _ = writeln!(out, "{header}");
            let _ = writeln!(out, "{}", "-".repeat(header.chars().count()));
            for row in &layer.rows {
                let mut line = format!(
                    "{:<workload_width$}  {:<6}  {:>cell_width$}",
                    row.workload,
                    row.unit.label(),
                    cell_text(&row.braid)
                );
                for cell in &row.peers {
                    let _ = write!(line, "  {:>cell_width$}", cell_text(cell));
                }
                let ratio = row
                    .ratio(&layer.peers)
                    .map_or("-".into(), |r| format!("{r:.2}"));
                let _ = write!(line, "  {ratio:>10}");
                let _ = writeln!(out, "{line}");
            }
        }
        let notes: Vec<String> = self
            .layers
            .iter()
            .flat_map(|layer| {
                layer
                    .notes
                    .iter()
                    .cloned()
                    .chain(unexplained_gaps(layer))
                    .map(move |note| format!("{}: {note}", layer.layer))
            })
            .collect();
        if !notes.is_empty() {
            let _ = writeln!(
                out,
                "\nnotes (n/a = could not be measured here, - = no counterpart):"
            );
            for note in notes {
                let _ = writeln!(out, "  - {note}");
            }
        }
        let _ = writeln!(out, "\nwhole run: {:.1} s", self.elapsed.as_secs_f64());
        out
    }

    /// The same results as JSON, with exact numbers, the day the run began (UTC: now less
    /// the run's length) and the kernel it ran on.
    pub fn json(&self) -> Value {
        let began = SystemTime::now()
            .checked_sub(self.elapsed)
            .unwrap_or(UNIX_EPOCH);
        self.json_at(began, kernel_release())
    }

    /// [`Report::json`] for a run that began at `began`, on the kernel `kernel` (its release,
    /// as `uname -r` prints it; `None` where it could not be read).
    pub fn json_at(&self, began: SystemTime, kernel: Option<String>) -> Value {
        let layers: Vec<Value> = self
            .layers
            .iter()
            .map(|layer| {
                let rows: Vec<Value> = layer
                    .rows
                    .iter()
                    .map(|row| {
                        let peers: serde_json::Map<String, Value> = layer
                            .peers
                            .iter()
                            .zip(&row.peers)
                            .map(|(peer, cell)| (peer.name.to_string(), cell_json(cell)))
                            .collect();
                        json!({
                            "workload": row.workload,
                            "unit": row.unit.label(),
                            "higher_is_better": row.unit.higher_is_better(),
                            "braid": cell_json(&row.braid),
                            "peers": peers,
                            "braid_over_best_peer": row.ratio(&layer.peers),
                        })
                    })
                    .collect();
                let floors: Vec<&str> = layer
                    .peers
                    .iter()
                    .filter(|p| p.floor)
                    .map(|p| p.name)
                    .collect();
                json!({
                    "layer": layer.layer,
                    "peers": layer.peers.iter().map(|p| p.name).collect::<Vec<_>>(),
                    "floors": floors,
                    "rows": rows,
                    "notes": layer.notes,
                })
            })
            .collect();
        json!({
            "machine": {
                "cores": self.machine.cores,
                "cpu": self.machine.cpu,
                "os": self.machine.os,
                "arch": self.machine.arch,
                "kernel": kernel,
            },
            "date": utc_date(began),
            "quick": self.quick,
            "workers": self.workers,
            "python": match &self.python { Ok(v) => json!(v), Err(_) => Value::Null },
            "python_missing_because": match &self.python { Ok(_) => Value::Null, Err(why) => json!(why) },
            "ratio": RATIO_LEGEND,
            "elapsed_s": self.elapsed.as_secs_f64(),
            "layers": layers,
        })
    }

    /// A horizontal bar chart: per workload, one bar for braid and one per peer, scaled so
    /// the slowest contender's bar is full length and a shorter bar is always better.
    pub fn svg(&self) -> String {
        const WIDTH: f64 = 1000.0;
        const LABEL_X: f64 = 16.0;
        const NAME_X: f64 = 370.0;
        const BAR_X: f64 = 500.0;
        const BAR_MAX: f64 = 380.0;
        const BAR_H: f64 = 13.0;
        const BAR_GAP: f64 = 3.0;
        const ROW_GAP: f64 = 12.0;
        const PALETTE: [&str; 5] = ["#8c8c8c", "#5b8fd9", "#d9a45b", "#6fbf73", "#b07cc6"];
        const BRAID: &str = "#d9485f";

        let mut body = String::new();
        let mut y = 56.0;
        for layer in &self.layers {
            y += 18.0;
            let _ = writeln!(
                body,
                r#"<text x="{LABEL_X}" y="{y}" font-size="15" font-weight="bold">{}</text>"#,
                escape(layer.layer)
            );
            y += 10.0;
            for row in &layer.rows {
                let bars: Vec<(&str, f64, &str)> =
                    std::iter::once(("braid", &row.braid, BRAID))
                        .chain(
                            layer.peers.iter().zip(&row.peers).enumerate().map(
                                |(i, (peer, cell))| (peer.name, cell, PALETTE[i % PALETTE.len()]),
                            ),
                        )
                        .filter_map(|(name, cell, colour)| cell.value().map(|v| (name, v, colour)))
                        .collect();
                let lengths = bar_lengths(row, &bars.iter().map(|b| b.1).collect::<Vec<_>>());
                let _ = writeln!(
                    body,
                    r#"<text x="{LABEL_X}" y="{}" font-size="12">{} ({})</text>"#,
                    y + BAR_H - 2.0,
                    escape(&row.workload),
                    escape(row.unit.label())
                );
                if bars.is_empty() {
                    let _ = writeln!(
                        body,
                        r##"<text x="{NAME_X}" y="{}" font-size="11" fill="#777">no results</text>"##,
                        y + BAR_H - 2.0
                    );
                    y += BAR_H + BAR_GAP;
                }
                for ((name, value, colour), length) in bars.iter().zip(lengths) {
                    let width = (length * BAR_MAX).max(1.0);
                    let _ = writeln!(
                        body,
                        r#"<text x="{NAME_X}" y="{ty}" font-size="11">{name}</text><rect x="{BAR_X}" y="{y}" width="{width:.1}" height="{BAR_H}" fill="{colour}"/><text x="{tx:.1}" y="{ty}" font-size="11">{value}</text>"#,
                        ty = y + BAR_H - 2.0,
                        name = escape(name),
                        tx = BAR_X + width + 4.0,
                        value = format_value(*value),
                    );
                    y += BAR_H + BAR_GAP;
                }
                y += ROW_GAP;
            }
        }
        let height = y + 16.0;
        format!(
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="{LABEL_X}" y="24" font-size="16" font-weight="bold">{title}</text>
<text x="{LABEL_X}" y="44" font-size="12" fill="#444">Bars are scaled to the slowest contender of each workload: shorter is better (throughput and speedup are drawn inverted).</text>
{body}</svg>
"##,
            title = escape(&self.title()),
        )
    }

    /// Writes `compare.json` and `compare.svg` into `dir`, creating it, and returns their
    /// paths.
    ///
    /// # Errors
    ///
    /// Any error creating the folder or writing a file.
    pub fn write(&self, dir: &Path) -> io::Result<[PathBuf; 2]> {
        fs::create_dir_all(dir)?;
        let json_path = dir.join("compare.json");
        let svg_path = dir.join("compare.svg");
        let mut json = serde_json::to_string_pretty(&self.json()).map_err(io::Error::other)?;
        json.push('\n');
        fs::write(&json_path, json)?;
        fs::write(&svg_path, self.svg())?;
        Ok([json_path, svg_path])
    }
}

/// The UTC calendar day of `time` as `YYYY-MM-DD`.
pub fn utc_date(time: SystemTime) -> String {
    let seconds = match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
    };
    let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
    format!("{year:04}-{month:02}-{day:02}")
}

/// The proleptic Gregorian date (year, month 1-12, day 1-31) `days` days after 1970-01-01:
/// Howard Hinnant's `civil_from_days`, which counts in 400-year eras of 146,097 days, each
/// year of an era starting on 1 March so that the leap day falls at its end.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097); // [0, 146096]
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365; // [0, 399]
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100); // [0, 365]
    let march_based_month = (5 * day_of_year + 2) / 153; // [0, 11], 0 = March
    let day = (day_of_year - (153 * march_based_month + 2) / 5 + 1) as u32;
    let month = if march_based_month < 10 {
        march_based_month + 3
    } else {
        march_based_month - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The kernel's release, as `uname -r` prints it.
#[cfg(target_os = "linux")]
fn kernel_release() -> Option<String> {
    let release = fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
    let release = release.trim();
    (!release.is_empty()).then(|| release.to_string())
}

/// The kernel's release, as `uname -r` prints it.
#[cfg(not(target_os = "linux"))]
fn kernel_release() -> Option<String> {
    let output = std::process::Command::new("uname")
        .arg("-r")
        .output()
        .ok()?;
    let release = String::from_utf8_lossy(&output.stdout).trim().to_string();
    (output.status.success() && !release.is_empty()).then_some(release)
}

/// A note for each missing cell whose reason no note of the layer gives yet, so every
/// `n/a` in the table is explained.
fn unexplained_gaps(layer: &LayerReport) -> Vec<String> {
    let mut gaps: Vec<String> = Vec::new();
    for row in &layer.rows {
        let cells = std::iter::once(("braid", &row.braid))
            .chain(layer.peers.iter().map(|peer| peer.name).zip(&row.peers));
        for (contender, cell) in cells {
            if let Cell::Missing(why) = cell {
                let explained = layer
                    .notes
                    .iter()
                    .chain(&gaps)
                    .any(|note| note.contains(why.as_str()));
                if !explained {
                    gaps.push(format!("{contender}, {}: {why}", row.workload));
                }
            }
        }
    }
    gaps
}

/// Each bar's length as a fraction of the longest: proportional to the value for times and
/// memory, to its inverse for throughput, so the slowest is 1.0 either way.
fn bar_lengths(row: &Row, values: &[f64]) -> Vec<f64> {
    if row.unit.higher_is_better() {
        let slowest = values.iter().copied().fold(f64::INFINITY, f64::min);
        values
            .iter()
            .map(|v| if *v > 0.0 { slowest / v } else { 1.0 })
            .collect()
    } else {
        let slowest = values.iter().copied().fold(0.0, f64::max);
        values
            .iter()
            .map(|v| if slowest > 0.0 { v / slowest } else { 1.0 })
            .collect()
    }
}

fn cell_text(cell: &Cell) -> String {
    match cell {
        Cell::Value(v) => format_value(*v),
        Cell::Missing(_) => "n/a".into(),
        Cell::NotApplicable => "-".into(),
    }
}

fn cell_json(cell: &Cell) -> Value {
    match cell {
        Cell::Value(v) => json!(v),
        Cell::Missing(why) => json!({ "missing": why }),
        Cell::NotApplicable => Value::Null,
    }
}

/// Three significant figures, without an exponent: 1234 → "1234", 12.345 → "12.3",
/// 0.01234 → "0.0123".
pub fn format_value(value: f64) -> String {
    if value == 0.0 || !value.is_finite() {
        return format!("{value}");
    }
    let magnitude = value.abs().log10().floor() as i32;
    let decimals = (2 - magnitude).max(0) as usize;
    format!("{value:.decimals$}")
}

/// `1000000` as `1,000,000`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measurement::{Peer, Unit};

    fn report() -> Report {
        let mut layer =
            LayerReport::new("poller", vec![Peer::rival("polling"), Peer::rival("mio")]);
        layer.push(
            "notify <same thread>",
            Unit::NsPerOp,
            Cell::Value(100.0),
            vec![Cell::Value(200.0), Cell::Missing("no mio".into())],
        );
        layer.push(
            "echo",
            Unit::KOpsPerSec,
            Cell::Value(50.0),
            vec![Cell::Value(25.0), Cell::NotApplicable],
        );
        layer.note("mio: no mio");
        Report {
            machine: Machine {
                cores: 2,
                cpu: "Test CPU".into(),
                os: "linux",
                arch: "x86_64",
            },
            quick: true,
            python: Err("no python3".into()),
            workers: 2,
            layers: vec![layer],
            elapsed: Duration::from_secs(3),
        }
    }

    #[test]
    fn table_shows_values_gaps_ratios_and_notes() {
        let table = report().table();
        assert!(table.contains("2 cores, Test CPU"), "{table}");
        let notify = table.lines().find(|l| l.starts_with("notify")).unwrap();
        assert!(
            notify.contains("100") && notify.contains("200") && notify.contains("n/a"),
            "{notify}"
        );
        assert!(notify.trim_end().ends_with("0.50"), "{notify}");
        let echo = table.lines().find(|l| l.starts_with("echo")).unwrap();
        assert!(echo.trim_end().ends_with("0.50"), "{echo}");
        assert!(table.contains("poller: mio: no mio"), "{table}");
        assert!(
            table.contains("Python baselines: none (no python3)"),
            "{table}"
        );
    }

    #[test]
    fn every_missing_cell_is_explained_once() {
        let mut report = report();
        let layer = &mut report.layers[0];
        layer.push(
            "socket rounds",
            Unit::UsPerOp,
            Cell::Missing("failed: too many open files".into()),
            vec![Cell::Value(1.0), Cell::Missing("no mio".into())],
        );
        let table = report.table();
        // "no mio" already has a note; the new failure gets one of its own.
        assert_eq!(table.matches("no mio").count(), 1, "{table}");
        assert!(
            table.contains("poller: braid, socket rounds: failed: too many open files"),
            "{table}"
        );
    }

    #[test]
    fn json_keeps_missing_reasons_and_ratios() {
        let json = report().json();
        let row = &json["layers"][0]["rows"][0];
        assert_eq!(row["braid"], json!(100.0));
        assert_eq!(row["peers"]["mio"]["missing"], json!("no mio"));
        assert_eq!(row["braid_over_best_peer"], json!(0.5));
        assert_eq!(json["layers"][0]["rows"][1]["peers"]["mio"], Value::Null);
        assert_eq!(json["python"], Value::Null);
    }

    #[test]
    fn json_names_the_day_the_run_began_and_the_kernel() {
        // 2026-12-04 23:59:59 UTC.
        let began = UNIX_EPOCH + Duration::from_secs(1_796_428_799);
        let json = report().json_at(began, Some("6.18.44".into()));
        assert_eq!(json["date"], json!("2026-12-04"));
        assert_eq!(json["machine"]["kernel"], json!("6.18.44"));
        let json = report().json_at(began + Duration::from_secs(1), None);
        assert_eq!(json["date"], json!("2026-12-05"));
        assert_eq!(json["machine"]["kernel"], Value::Null);
    }

    #[test]
    fn json_dates_this_run() {
        let date = report().json()["date"].as_str().unwrap().to_owned();
        let bytes = date.as_bytes();
        assert_eq!(bytes.len(), 10, "{date}");
        assert!(
            bytes.iter().enumerate().all(|(i, b)| if i == 4 || i == 7 {
                *b == b'-'
            } else {
                b.is_ascii_digit()
            }),
            "{date}"
        );
        assert!(date.as_str() >= "2024-01-01", "{date}");
    }

    #[test]
    fn utc_dates_are_gregorian_days() {
        let at = |seconds: u64| utc_date(UNIX_EPOCH + Duration::from_secs(seconds));
        assert_eq!(at(0), "1970-01-01");
        assert_eq!(at(86_399), "1970-01-01");
        assert_eq!(at(86_400), "1970-01-02");
        assert_eq!(at(951_782_400), "2000-02-29"); // a leap day of a century divisible by 400
        assert_eq!(at(951_868_800), "2000-03-01");
        assert_eq!(at(1_709_164_800), "2024-02-29");
        assert_eq!(at(1_735_603_200), "2024-12-31");
        assert_eq!(at(1_735_689_600), "2025-01-01");
        assert_eq!(at(4_107_542_400), "2100-03-01"); // 2100 is not a leap year
        assert_eq!(utc_date(UNIX_EPOCH - Duration::from_secs(1)), "1969-12-31");
    }

    #[test]
    fn civil_from_days_walks_every_day_of_four_centuries() {
        let days_in = |year: i64, month: u32| match month {
            2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        let (mut year, mut month, mut day) = (1900, 1, 1);
        // 1900-01-01 is 25,567 days before 1970-01-01.
        for days in -25_567..-25_567 + 146_097 {
            assert_eq!(civil_from_days(days), (year, month, day), "day {days}");
            day += 1;
            if day > days_in(year, month) {
                day = 1;
                month += 1;
                if month > 12 {
                    month = 1;
                    year += 1;
                }
            }
        }
        assert_eq!((year, month, day), (2300, 1, 1));
    }

    #[test]
    fn svg_escapes_text_and_draws_one_bar_per_value() {
        let svg = report().svg();
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("notify &lt;same thread&gt;"));
        assert!(!svg.contains("<same thread>"));
        // braid and polling in each of the two rows; the missing and `-` cells draw nothing.
        assert_eq!(svg.matches("<rect x=").count(), 4);
    }

    #[test]
    fn bars_are_scaled_so_the_slowest_is_full_length() {
        let r = &report().layers[0].rows;
        assert_eq!(bar_lengths(&r[0], &[100.0, 200.0]), vec![0.5, 1.0]);
        assert_eq!(bar_lengths(&r[1], &[50.0, 25.0]), vec![0.5, 1.0]);
    }

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }

    #[test]
    fn values_keep_three_significant_figures() {
        assert_eq!(format_value(1234.4), "1234");
        assert_eq!(format_value(12.345), "12.3");
        assert_eq!(format_value(0.012345), "0.0123");
        assert_eq!(format_value(0.0), "0");
    }

    #[test]
    fn write_creates_both_files() {
        let dir = std::env::temp_dir().join(format!("braid-compare-test-{}", std::process::id()));
        let [json, svg] = report().write(&dir).unwrap();
        assert!(fs::read_to_string(&json).unwrap().contains("\"layers\""));
        assert!(fs::read_to_string(&svg).unwrap().contains("</svg>"));
        fs::remove_dir_all(&dir).unwrap();
    }
}
