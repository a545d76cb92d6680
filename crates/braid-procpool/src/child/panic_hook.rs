//! What a worker prints when a task panics in it: the parent's terminal is the worker's
//! too, so a bare panic report would read as if the parent had panicked.

use std::any::Any;
use std::backtrace::{Backtrace, BacktraceStatus};
use std::fmt::Write as _;
use std::io::Write as _;
use std::panic::{self, Location};

use crate::parent::settings::PanicOutput;

/// Sets this worker's panic hook for `output`, in place of any it inherited.
pub(super) fn install(output: PanicOutput) {
    match output {
        PanicOutput::Silent => panic::set_hook(Box::new(|_| {})),
        PanicOutput::Prefixed => {
            let prefix = format!("[braid-procpool worker {}] ", std::process::id());
            panic::set_hook(Box::new(move |info| {
                // One write, so that lines of panics in two threads do not interleave.
                let report = report(&prefix, info.payload(), info.location());
                let _ = std::io::stderr().write_all(report.as_bytes());
            }));
        }
    }
}

/// What Rust's own hook prints, every line starting with `prefix`.
fn report(prefix: &str, payload: &(dyn Any + Send), location: Option<&Location<'_>>) -> String {
    let thread = std::thread::current();
    let name = thread.name().unwrap_or("<unnamed>");
    let message = braid_threadpool::panic_message(payload).unwrap_or("Box<dyn Any>");
    let mut text = match location {
        Some(at) => format!("thread '{name}' panicked at {at}:\n{message}\n"),
        None => format!("thread '{name}' panicked:\n{message}\n"),
    };
    let backtrace = Backtrace::capture();
    match backtrace.status() {
        BacktraceStatus::Captured => {
            let _ = write!(text, "stack backtrace:\n{backtrace}");
        }
        _ => text.push_str(
            "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n",
        ),
    }
    let mut out = String::with_capacity(text.len() + 8 * prefix.len());
    for line in text.lines() {
        out.push_str(prefix);
        out.push_str(line);
        out.push('\n');
    }
    out
}
