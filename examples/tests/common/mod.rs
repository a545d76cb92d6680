//! Starting example programs and driving them with command-line clients, for the test files
//! that need it.
//!
//! Cargo gives integration tests the paths of `[[bin]]` targets but not of examples, so the
//! first call to [`example`] asks Cargo to build the examples (a freshness check after
//! `cargo test` built them) and reads each program's path from Cargo's JSON messages. Every
//! child is owned by a [`Running`] guard that kills and reaps it when dropped. The time
//! limits here only stop a broken example from hanging the suite; nothing asserts speed.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long any one step may take before a test gives up on it (a hang guard only).
pub const HANG_GUARD: Duration = Duration::from_secs(120);

/// The path of the example program `name`, built on first use.
pub fn example(name: &str) -> PathBuf {
    static BUILT: OnceLock<HashMap<String, PathBuf>> = OnceLock::new();
    let built = BUILT.get_or_init(build_examples);
    built
        .get(name)
        .unwrap_or_else(|| panic!("cargo built no example named {name}: {built:?}"))
        .clone()
}

fn build_examples() -> HashMap<String, PathBuf> {
    // CARGO_TARGET_TMPDIR is `<target dir>/tmp`: build there, with this test's profile, so
    // nothing is compiled a second time.
    let target_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR lies inside the target directory")
        .to_path_buf();
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .args(["build", "--examples", "--package", "examples"])
        .args(["--message-format", "json-render-diagnostics"])
        .arg("--target-dir")
        .arg(&target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(Stdio::inherit());
    if !cfg!(debug_assertions) {
        cargo.arg("--release");
    }
    let output = cargo.output().expect("cargo runs");
    assert!(output.status.success(), "cargo build --examples failed");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| line.contains(r#""reason":"compiler-artifact""#))
        .filter_map(|line| json_string(line, "executable"))
        .map(|path| {
            let path = PathBuf::from(path);
            let name = path.file_stem().expect("an executable has a name");
            (name.to_string_lossy().into_owned(), path)
        })
        .collect()
}

/// The string value of `"key":"..."` in one line of Cargo's JSON; Cargo escapes only quotes
/// and backslashes in paths.
fn json_string(line: &str, key: &str) -> Option<String> {
    let start = line.find(&format!(r#""{key}":""#))? + key.len() + 4;
    let mut value = String::new();
    let mut chars = line[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(value),
            '\\' => value.push(chars.next()?),
            c => value.push(c),
        }
    }
    None
}

/// A child process, killed and reaped when this is dropped. A thread reads its stdout into
/// a channel of lines, so the child never blocks on a full pipe.
pub struct Running {
    child: Child,
    lines: Receiver<String>,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Running {
    /// Starts the example `name` with `args`.
    pub fn start(name: &str, args: &[&str]) -> Running {
        Running::spawn(Command::new(example(name)).args(args))
            .unwrap_or_else(|error| panic!("cannot start example {name}: {error}"))
    }

    /// Starts `command` with its stdout and stderr captured.
    pub fn spawn(command: &mut Command) -> std::io::Result<Running> {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut stderr = child.stderr.take().expect("stderr is piped");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        Ok(Running {
            child,
            lines,
            stderr: Some(stderr),
        })
    }

    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Reads stdout until a line contains `needle`; returns that line.
    pub fn wait_for_line(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + HANG_GUARD;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(_) => panic!("the program never printed a line with {needle:?}"),
            }
        }
    }

    /// The address from a `listening on ADDRESS` line (`http://` or `ws://` and a trailing
    /// `/` allowed).
    pub fn listening_address(&mut self) -> SocketAddr {
        let line = self.wait_for_line("listening on ");
        let address = line
            .trim_start_matches("listening on ")
            .trim_start_matches("http://")
            .trim_start_matches("ws://")
            .trim_end_matches('/');
        address
            .parse()
            .unwrap_or_else(|_| panic!("not an address: {line:?}"))
    }

    /// Waits for the child to exit; returns its status and what is left of its stdout (the
    /// lines not yet read by `wait_for_line`), and its stderr.
    pub fn finish(mut self) -> (ExitStatus, String, String) {
        let deadline = Instant::now() + HANG_GUARD;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait works") {
                break status;
            }
            assert!(Instant::now() < deadline, "the program did not finish");
            std::thread::sleep(Duration::from_millis(20));
        };
        // The child has exited, so its pipes are closed and these reads end.
        let stdout: Vec<String> = self.lines.iter().collect();
        let stderr = self.stderr.take().expect("finish runs once");
        let stderr = stderr.join().unwrap_or_default();
        (status, stdout.join("\n"), stderr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Harmless if it already exited; reaping leaves no zombie either way.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the example `name` with `args` to the end, checks it succeeded, returns its stdout.
pub fn run_ok(name: &str, args: &[&str]) -> String {
    let (status, stdout, stderr) = Running::start(name, args).finish();
    assert!(
        status.success(),
        "{name} {args:?} failed with {status}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    stdout
}

/// Fails the test, saying how to get it, unless `program` can be started: a test that
/// drives a real client must not pass without having run it.
pub fn require(program: &str) {
    let started = Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if let Err(error) = started {
        panic!(
            "{program} cannot be started ({error}): this test drives it, so install it \
             (`apt-get install {program}`, `brew install {program}`) and make sure it is on PATH; \
             .ci/run installs it"
        );
    }
}

/// The arguments every curl run here starts with: quiet but for errors, a `--verbose` trace
/// on stderr, and a hang guard.
pub const CURL_ARGS: [&str; 5] = ["--silent", "--show-error", "--verbose", "--max-time", "60"];

/// Runs curl with `args`; returns its body (stdout) and its `--verbose` trace (stderr),
/// failing the test if curl did.
pub fn curl(args: &[&str]) -> (String, String) {
    require("curl");
    let output = Command::new("curl")
        .args(CURL_ARGS)
        .args(args)
        .output()
        .expect("curl runs");
    let body = String::from_utf8_lossy(&output.stdout).into_owned();
    let verbose = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "curl {args:?} failed:\n{verbose}");
    (body, verbose)
}

/// Runs `wrk` for a second against the server example `name`: it must count requests and
/// report neither socket errors nor non-2xx answers.
pub fn survives_wrk(name: &str) {
    require("wrk");
    let mut server = Running::start(name, &["127.0.0.1:0"]);
    let url = format!("http://{}/", server.listening_address());
    let output = Command::new("wrk")
        .args(["-t1", "-c10", "-d1s", &url])
        .output()
        .expect("wrk runs");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "wrk failed:\n{report}");
    let requests: u64 = report
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no request count in:\n{report}"));
    assert!(requests > 0, "{report}");
    assert!(!report.contains("Socket errors"), "{report}");
    assert!(!report.contains("Non-2xx"), "{report}");
}

/// Fails unless curl's `--verbose` trace shows it sent its later requests over the
/// connection it opened first (curl's wording changed between versions).
pub fn assert_one_connection(verbose: &str) {
    assert!(
        verbose.contains("Re-using existing connection")
            || verbose.contains("Reusing existing connection"),
        "curl opened a second connection:\n{verbose}"
    );
}
