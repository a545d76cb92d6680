//! Running the Python baselines in `benches/python/`: one-shot scripts that print one JSON
//! line, and echo servers that print their port and live until they are dropped.

use std::io::{BufRead, BufReader, Read};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// A Python interpreter that answered `--version`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Python {
    command: String,
    version: String,
}

impl Python {
    /// Finds the interpreter run as `command` (usually `python3`).
    ///
    /// # Errors
    ///
    /// A sentence for the report when the command cannot be run or is not a Python 3.
    pub fn find(command: &str) -> Result<Python, String> {
        let output = Command::new(command)
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("`{command}` could not be run ({e}); install Python 3 to see the Python baselines"))?;
        // Python before 3.4 printed its version on stderr.
        let text = [output.stdout, output.stderr].concat();
        let version = String::from_utf8_lossy(&text).trim().to_string();
        if !output.status.success() || !version.starts_with("Python 3") {
            return Err(format!(
                "`{command}` is not a Python 3 (it says {version:?})"
            ));
        }
        Ok(Python {
            command: command.to_string(),
            version,
        })
    }

    /// What `--version` said, such as `Python 3.11.7`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Where a baseline script lives.
    pub fn script(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("python")
            .join(name)
    }

    /// Whether `import module` works.
    pub fn has_module(&self, module: &str) -> bool {
        Command::new(&self.command)
            .args(["-c", &format!("import {module}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }

    /// Installs `package` for this user with pip, quietly, giving up after `limit`.
    ///
    /// # Errors
    ///
    /// A sentence for the report when pip fails or takes too long.
    pub fn install(&self, package: &str, limit: Duration) -> Result<(), String> {
        let child = Command::new(&self.command)
            .args([
                "-m",
                "pip",
                "install",
                "--user",
                "--quiet",
                "--disable-pip-version-check",
                // Offline machines should fail fast rather than eat the run's time.
                "--retries",
                "1",
                "--timeout",
                "10",
                package,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("pip could not be started: {e}"))?;
        let finished = finish(child, limit)?;
        if finished.success {
            Ok(())
        } else {
            Err(format!(
                "`pip install --user {package}` failed: {}",
                last_line(&finished.stderr)
            ))
        }
    }

    /// Runs `script` with `args` and parses the last line it prints as JSON, giving up
    /// (and killing it) after `limit`.
    ///
    /// # Errors
    ///
    /// A sentence for the report when the script fails, overruns, or prints no JSON.
    pub fn run_json(
        &self,
        script: &str,
        args: &[String],
        limit: Duration,
    ) -> Result<Value, String> {
        let child = Command::new(&self.command)
            .arg(Python::script(script))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("{script} could not be started: {e}"))?;
        let finished = finish(child, limit)?;
        if !finished.success {
            return Err(format!("{script} failed: {}", last_line(&finished.stderr)));
        }
        let line = last_line(&finished.stdout);
        serde_json::from_str(&line)
            .map_err(|e| format!("{script} printed {line:?}, not JSON ({e})"))
    }

    /// Starts a server script that prints `{"port": N}` once it listens on 127.0.0.1, and
    /// waits up to `limit` for that line.
    ///
    /// The script is expected to exit when its standard input closes, so it ends with this
    /// process even if this process is killed before it can drop the server.
    ///
    /// # Errors
    ///
    /// A sentence for the report when it fails to start or says `{"error": ...}`.
    pub fn start_server(
        &self,
        script: &str,
        args: &[&str],
        limit: Duration,
    ) -> Result<PythonServer, String> {
        let mut child = Command::new(&self.command)
            .arg(Python::script(script))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("{script} could not be started: {e}"))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        // Made before anything can fail, so every way out below kills the child.
        let mut server = PythonServer {
            child,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        };
        let Some(line) = first_line(stdout, limit) else {
            server.stop();
            let mut stderr = String::new();
            if let Some(mut pipe) = server.child.stderr.take() {
                let _ = pipe.read_to_string(&mut stderr);
            }
            return Err(format!("{script} did not start: {}", last_line(&stderr)));
        };
        let reply: Value = serde_json::from_str(&line)
            .map_err(|e| format!("{script} printed {line:?}, not JSON ({e})"))?;
        if let Some(error) = reply.get("error").and_then(Value::as_str) {
            return Err(error.to_string());
        }
        let port = reply
            .get("port")
            .and_then(Value::as_u64)
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(|| format!("{script} printed {reply}, which has no port"))?;
        server.addr.set_port(port);
        Ok(server)
    }
}

/// A running Python server, killed and reaped when dropped.
#[derive(Debug)]
pub struct PythonServer {
    child: Child,
    addr: SocketAddr,
}

impl PythonServer {
    /// Where the server listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    fn stop(&mut self) {
        // Closing stdin alone would do, but a kill does not depend on the script's manners.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Finished {
    success: bool,
    stdout: String,
    stderr: String,
}

/// Waits for `child` up to `limit`, collecting its output; kills it when the time is up.
fn finish(mut child: Child, limit: Duration) -> Result<Finished, String> {
    let stdout = child.stdout.take().map(collect);
    let stderr = child.stderr.take().map(collect);
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("gave up after {} s", limit.as_secs()));
            }
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("could not wait for it: {e}"));
            }
        }
    };
    let join = |reader: Option<thread::JoinHandle<String>>| {
        reader
            .map(|r| r.join().unwrap_or_default())
            .unwrap_or_default()
    };
    Ok(Finished {
        success: status.success(),
        stdout: join(stdout),
        stderr: join(stderr),
    })
}

/// Reads a pipe to its end on a thread of its own, so a chatty child never blocks.
fn collect(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    })
}

/// The first line of `stdout`, or `None` if it ends or `limit` passes first. The pipe is
/// read on a thread that keeps it drained afterwards.
fn first_line(stdout: ChildStdout, limit: Duration) -> Option<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().and_then(Result::ok);
        let _ = tx.send(first);
        // Keep reading so the server never blocks on a full pipe; ends when it exits.
        for _ in lines {}
    });
    rx.recv_timeout(limit).ok().flatten()
}

fn last_line(text: &str) -> String {
    text.lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("no output")
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_interpreter_is_an_error_not_a_panic() {
        let error = Python::find("braid-no-such-python").unwrap_err();
        assert!(error.contains("could not be run"), "{error}");
    }

    #[test]
    fn last_line_skips_trailing_blank_lines() {
        assert_eq!(last_line("a\nb\n\n"), "b");
        assert_eq!(last_line(""), "no output");
    }

    #[test]
    fn scripts_live_in_the_python_folder() {
        assert!(Python::script("threadpool_bench.py").is_file());
    }
}
