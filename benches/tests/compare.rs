//! The `compare` binary end to end: its arguments, its probes, and small runs of the layers
//! that need a process of their own.

use std::path::PathBuf;
use std::process::{Command, Output};

fn compare(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_compare"))
        .args(args)
        .output()
        .expect("compare runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("braid-compare-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn read_json(dir: &std::path::Path) -> serde_json::Value {
    let json = std::fs::read_to_string(dir.join("compare.json")).expect("compare.json is written");
    serde_json::from_str(&json).expect("compare.json is JSON")
}

#[test]
fn help_prints_the_usage() {
    let output = compare(&["--help"]);
    assert!(output.status.success());
    assert!(text(&output.stdout).contains("--quick"));
}

#[test]
fn an_unknown_layer_is_refused_with_the_list_of_layers() {
    let output = compare(&["--only", "gevent"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("\"gevent\"")
            && stderr.contains("poller, executor, echo, echo-cores, threadpool, procpool"),
        "{stderr}"
    );
}

#[test]
fn an_unknown_argument_is_refused() {
    let output = compare(&["--fast"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("\"--fast\""));
}

#[test]
fn the_idle_tasks_probe_prints_a_peak_rss_that_grows_with_tasks() {
    for runtime in ["braid", "tokio", "async-executor"] {
        let rss = |tasks: &str| -> u64 {
            let output = compare(&["__braid-compare-idle-tasks", runtime, tasks]);
            assert!(output.status.success(), "{}", text(&output.stderr));
            text(&output.stdout).trim().parse().expect("a byte count")
        };
        let (none, many) = (rss("0"), rss("20000"));
        assert!(none > 0);
        // Every task costs something; 20,000 of them at least 20 bytes each.
        assert!(many > none + 20 * 20_000, "{runtime}: {none} -> {many}");
    }
}

#[test]
fn the_idle_tasks_probe_rejects_an_unknown_runtime() {
    let output = compare(&["__braid-compare-idle-tasks", "gevent", "10"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("gevent"));
}

#[test]
fn a_poller_run_prints_the_table_and_writes_json_and_svg() {
    let dir = scratch("poller");
    let output = compare(&[
        "--quick",
        "--only",
        "poller",
        "--no-python",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let table = text(&output.stdout);
    assert!(
        table.contains("braid/best") && table.contains("polling") && table.contains("mio"),
        "{table}"
    );
    let json = read_json(&dir);
    assert_eq!(json["quick"], true);
    assert!(json["machine"]["cores"].as_u64().unwrap() >= 1);
    let date = json["date"].as_str().expect("the run is dated");
    assert!(
        date.len() == 10 && date.starts_with("20") && date.as_bytes()[4] == b'-',
        "{date}"
    );
    let rows = json["layers"][0]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    for row in rows {
        assert!(row["braid"].as_f64().unwrap() > 0.0, "{row}");
        assert!(row["peers"]["mio"].as_f64().unwrap() > 0.0, "{row}");
    }
    let svg = std::fs::read_to_string(dir.join("compare.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_missing_python_leaves_gaps_with_a_reason_and_the_rust_rows_still_run() {
    let dir = scratch("echo");
    let output = compare(&[
        "--quick",
        "--only",
        "echo",
        "--python",
        "braid-no-such-python",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let table = text(&output.stdout);
    assert!(
        table.contains("n/a") && table.contains("braid-no-such-python"),
        "{table}"
    );
    let json = read_json(&dir);
    let row = &json["layers"][0]["rows"][0];
    assert!(row["braid"].as_f64().unwrap() > 0.0, "{row}");
    assert!(
        row["peers"]["tokio current"].as_f64().unwrap() > 0.0,
        "{row}"
    );
    assert!(row["peers"]["py asyncio"]["missing"].is_string(), "{row}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_process_pool_layer_measures_braid_and_the_pipe_floor() {
    let dir = scratch("procpool");
    let output = compare(&[
        "--quick",
        "--only",
        "procpool",
        "--no-python",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let json = read_json(&dir);
    let layer = &json["layers"][0];
    assert_eq!(layer["floors"], serde_json::json!(["raw pipe"]));
    for row in layer["rows"].as_array().unwrap() {
        let braid = row["braid"].as_f64().unwrap();
        if row["unit"] == "switches/op" {
            // A count: a run with no sleep at all is zero.
            assert!(braid >= 0.0, "{row}");
        } else {
            assert!(braid > 0.0, "{row}");
        }
    }
    assert!(layer["rows"][1]["peers"]["raw pipe"].as_f64().unwrap() > 0.0);
    let row = |start: &str| {
        layer["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|row| row["workload"].as_str().unwrap().starts_with(start))
            .unwrap_or_else(|| panic!("no row starts with {start:?}: {layer}"))
            .clone()
    };
    assert_eq!(row("pool start, spawn")["unit"], "ms");
    assert_eq!(row("pool start, fork")["unit"], "ms");
    let speedup = row("CPU-bound map: speedup");
    assert_eq!(speedup["unit"], "×");
    assert_eq!(speedup["higher_is_better"], true);
    // Without Python the peers have no baseline, and the cell says so.
    let missing = speedup["peers"]["py ProcessPool"]["missing"]
        .as_str()
        .unwrap();
    assert!(missing.contains("--no-python"), "{missing}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_broken_python_without_uvloop_is_reported_not_fatal() {
    use std::os::unix::fs::PermissionsExt;
    // An interpreter that claims to be Python 3 but can run nothing: the servers fail to
    // start, uvloop is missing, and installing it fails.
    let dir = scratch("broken-python");
    std::fs::create_dir_all(&dir).unwrap();
    let python = dir.join("python3");
    std::fs::write(
        &python,
        "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'Python 3.99.0'; exit 0; fi\necho 'nothing works here' >&2\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&python, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = dir.join("out");
    let output = compare(&[
        "--quick",
        "--only",
        "echo",
        "--python",
        python.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let table = text(&output.stdout);
    assert!(table.contains("Python 3.99.0"), "{table}");
    assert!(
        table.contains("pip install --user uvloop` failed: nothing works here"),
        "{table}"
    );
    assert!(
        table.contains("py asyncio: echo_asyncio.py did not start: nothing works here"),
        "{table}"
    );
    let row = &read_json(&out)["layers"][0]["rows"][0];
    assert!(row["braid"].as_f64().unwrap() > 0.0, "{row}");
    assert!(row["peers"]["py uvloop"]["missing"].is_string(), "{row}");
    std::fs::remove_dir_all(&dir).unwrap();
}
