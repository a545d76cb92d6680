//! How each kind of failure is reported, under every start method: a value that fails at
//! each of the five places a value can fail (Python's crash matrix), values too big for a
//! message, a worker that breaks the protocol, what a worker's panic prints, and a function
//! that is not the program's own. Each failure is its own task's, with an error that says
//! what went wrong, and the worker that saw it lives on wherever it can.

mod common;

use braid_procpool::__test::{corrupt_results, Corruption};
use braid_procpool::{PanicOutput, ProcessPool, StartMethod, TaskError};
use common::{double, eventually, Checks, METHODS};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A value that fails to encode or to decode when told to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Fragile {
    fails_to_encode: bool,
    fails_to_decode: bool,
    value: u64,
}

impl Fragile {
    fn fine(value: u64) -> Fragile {
        Fragile {
            fails_to_encode: false,
            fails_to_decode: false,
            value,
        }
    }
}

impl Serialize for Fragile {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.fails_to_encode {
            return Err(serde::ser::Error::custom("Fragile refuses to encode"));
        }
        (self.fails_to_decode, self.value).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Fragile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (fails_to_decode, value) = <(bool, u64)>::deserialize(d)?;
        if fails_to_decode {
            return Err(serde::de::Error::custom("Fragile refuses to decode"));
        }
        Ok(Fragile::fine(value))
    }
}

/// Where a value fails on its way: the five stages of CPython's
/// `test_concurrent_futures/test_deadlock.py`, the panic in the middle included.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Stage {
    /// Fine all the way.
    None,
    /// The argument, in the parent.
    EncodeArgument,
    /// The argument, in the worker.
    DecodeArgument,
    /// The function panics.
    Run,
    /// The result, in the worker.
    EncodeResult,
    /// The result, in the parent.
    DecodeResult,
}

const STAGES: [Stage; 5] = [
    Stage::EncodeArgument,
    Stage::DecodeArgument,
    Stage::Run,
    Stage::EncodeResult,
    Stage::DecodeResult,
];

/// The argument that fails at `stage`, carrying `value`.
fn argument(stage: Stage, value: u64) -> (Fragile, Stage) {
    let mut arg = Fragile::fine(value);
    arg.fails_to_encode = stage == Stage::EncodeArgument;
    arg.fails_to_decode = stage == Stage::DecodeArgument;
    (arg, stage)
}

/// Returns the argument's value in a result that fails where the stage says.
fn through((arg, stage): (Fragile, Stage)) -> Fragile {
    assert!(stage != Stage::Run, "item {} panics", arg.value);
    let mut result = Fragile::fine(arg.value);
    result.fails_to_encode = stage == Stage::EncodeResult;
    result.fails_to_decode = stage == Stage::DecodeResult;
    result
}

/// Checks that `error` is what a value failing at `stage` must give.
fn check_stage_error(stage: Stage, error: &TaskError) {
    let fragile = std::any::type_name::<Fragile>();
    let argument = std::any::type_name::<(Fragile, Stage)>();
    let (encode, message, names) = match (stage, error) {
        (Stage::Run, TaskError::Panicked { message }) => {
            assert!(message.contains("panics"), "{message}");
            return;
        }
        (Stage::EncodeArgument, TaskError::Encode(m)) => (true, m, argument),
        (Stage::DecodeArgument, TaskError::Decode(m)) => (false, m, argument),
        (Stage::EncodeResult, TaskError::Encode(m)) => (true, m, fragile),
        (Stage::DecodeResult, TaskError::Decode(m)) => (false, m, fragile),
        _ => panic!("{stage:?}: unexpected {error:?}"),
    };
    assert!(
        message.contains(names),
        "{stage:?}: {message:?} should name {names}"
    );
    let (value, verb) = match stage {
        Stage::EncodeArgument | Stage::DecodeArgument => ("argument", "argument"),
        _ => ("result", "result"),
    };
    assert!(
        message.contains(value),
        "{stage:?}: {message:?} should say {verb}"
    );
    let word = if encode { "encode" } else { "decode" };
    assert!(
        message.contains(word),
        "{stage:?}: {message:?} should say {word}"
    );
}

/// A value failing at `stage` fails its task alone; the worker lives on.
fn codec_stage(method: StartMethod, stage: Stage) {
    let pool = common::pool(method, 1);
    let pid = pool.submit(common::pid, ()).join().unwrap();
    let before = pool.metrics();
    let bad = pool.submit(through, argument(stage, 7));
    let behind = pool.submit(through, argument(Stage::None, 8));
    check_stage_error(stage, &bad.join().expect_err("the task must fail"));
    assert_eq!(behind.join(), Ok(Fragile::fine(8)));
    assert_eq!(
        pool.submit(common::pid, ()).join(),
        Ok(pid),
        "the same worker"
    );
    let m = pool.metrics();
    assert_eq!((m.worker_deaths, m.respawns), (0, 0), "{m:?}");
    // The argument that did not encode never reached the worker.
    let ran = if stage == Stage::EncodeArgument { 2 } else { 3 };
    assert_eq!(m.tasks_done, before.tasks_done + ran);
}

/// In a map, the item failing at `stage` fails alone, whether it shares its chunk or not.
fn codec_stage_in_map(method: StartMethod, stage: Stage) {
    let pool = common::pool(method, 1);
    let pid = pool.submit(common::pid, ()).join().unwrap();
    for chunksize in [1, 2, 5] {
        let items = (0..5).map(move |i| argument(if i == 2 { stage } else { Stage::None }, i));
        let results: Vec<_> = pool.map(through, items, chunksize).collect();
        for (i, result) in results.iter().enumerate() {
            match result {
                Err(error) if i == 2 => check_stage_error(stage, error),
                Ok(value) if i != 2 => assert_eq!(*value, Fragile::fine(i as u64)),
                _ => panic!("chunksize {chunksize}: item {i}: {result:?}"),
            }
        }
    }
    assert_eq!(
        pool.submit(common::pid, ()).join(),
        Ok(pid),
        "the same worker"
    );
    assert_eq!(pool.metrics().worker_deaths, 0);
}

/// The message limit the size checks run with: 2 GiB values are too big for a test.
const LIMIT: usize = 1 << 20;

fn sized_pool(method: StartMethod) -> ProcessPool {
    ProcessPool::builder()
        .workers(1)
        .start_method(method)
        .frame_limit(LIMIT)
        .build()
        .expect("pool starts")
}

fn byte_len(bytes: Vec<u8>) -> usize {
    bytes.len()
}

fn bytes_of(n: usize) -> Vec<u8> {
    vec![1; n]
}

/// The number that follows `label` in `message`.
fn number_after(message: &str, label: &str) -> usize {
    let at = message
        .find(label)
        .unwrap_or_else(|| panic!("{message:?} should say {label:?}"))
        + label.len();
    let digits: String = message[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no number after {label:?} in {message:?}"))
}

/// Checks a size error and returns the length of a `Vec<u8>` whose message is exactly at the
/// limit, worked out from what the error says about a `Vec<u8>` of `len` bytes: the value's
/// size, the message's, and the limit.
fn at_limit_from(error: &TaskError, len: usize) -> usize {
    let TaskError::Encode(message) = error else {
        panic!("expected an Encode error, got {error:?}");
    };
    assert!(message.contains("alloc::vec::Vec<u8>"), "{message}");
    assert_eq!(
        number_after(message, "over the limit of "),
        LIMIT,
        "{message}"
    );
    // A `Vec<u8>` near 1 MiB encodes as a 3-byte length and its bytes.
    assert_eq!(number_after(message, "encodes to "), len + 3, "{message}");
    let body = number_after(message, "makes a message of ");
    assert!(body > LIMIT, "{message}");
    len - (body - LIMIT)
}

/// An argument that would make a task message bigger than the limit fails to encode in the
/// parent, naming its size and the limit; one byte less and it runs.
fn argument_sizes(method: StartMethod) {
    let pool = sized_pool(method);
    let pid = pool.submit(common::pid, ()).join().unwrap();
    let before = pool.metrics();
    let error = pool.submit(byte_len, vec![0; LIMIT]).join().unwrap_err();
    let at = at_limit_from(&error, LIMIT);
    assert_eq!(pool.submit(byte_len, vec![0; at - 1]).join(), Ok(at - 1));
    assert_eq!(pool.submit(byte_len, vec![0; at]).join(), Ok(at));
    let over = pool.submit(byte_len, vec![0; at + 1]).join().unwrap_err();
    assert_eq!(at_limit_from(&over, at + 1), at);
    // The two refused arguments never reached the worker.
    assert_eq!(pool.metrics().tasks_done, before.tasks_done + 2);

    // In a map, the item that does not fit fails alone, in a chunk or by itself.
    for chunksize in [1, 3] {
        let items = vec![vec![0; 10], vec![0; at + 1], vec![0; 20]];
        let results: Vec<_> = pool.map(byte_len, items, chunksize).collect();
        assert_eq!(results[0], Ok(10), "chunksize {chunksize}");
        assert!(
            matches!(&results[1], Err(TaskError::Encode(m)) if m.contains("over the limit")),
            "chunksize {chunksize}: {:?}",
            results[1]
        );
        assert_eq!(results[2], Ok(20), "chunksize {chunksize}");
    }
    assert_eq!(pool.submit(common::pid, ()).join(), Ok(pid));
    assert_eq!(pool.metrics().worker_deaths, 0);
}

/// A result that would make a results message bigger than the limit fails to encode in the
/// worker, naming its type, its size and the limit; the worker lives on.
fn result_sizes(method: StartMethod) {
    let pool = sized_pool(method);
    let pid = pool.submit(common::pid, ()).join().unwrap();
    let error = pool.submit(bytes_of, LIMIT).join().unwrap_err();
    let at = at_limit_from(&error, LIMIT);
    assert_eq!(
        pool.submit(bytes_of, at - 1).join().map(|v| v.len()),
        Ok(at - 1)
    );
    assert_eq!(pool.submit(bytes_of, at).join().map(|v| v.len()), Ok(at));
    let over = pool.submit(bytes_of, at + 1).join().unwrap_err();
    assert_eq!(at_limit_from(&over, at + 1), at);

    // In a map, the result that does not fit fails alone, in a chunk or by itself. In a chunk
    // the other results share the message, so the big one is made big enough alone.
    for chunksize in [1, 3] {
        let results: Vec<_> = pool
            .map(bytes_of, [10, LIMIT, 20], chunksize)
            .map(|r| r.map(|v| v.len()))
            .collect();
        assert_eq!(results[0], Ok(10), "chunksize {chunksize}");
        assert!(
            matches!(&results[1], Err(TaskError::Encode(m)) if m.contains("over the limit")),
            "chunksize {chunksize}: {:?}",
            results[1]
        );
        assert_eq!(results[2], Ok(20), "chunksize {chunksize}");
    }
    assert_eq!(pool.submit(common::pid, ()).join(), Ok(pid));
    eventually("the pool to settle", || pool.metrics().workers == 1);
    assert_eq!(pool.metrics().worker_deaths, 0);
    assert_eq!(pool.metrics().respawns, 0);
}

fn sends_unknown_tag(_: ()) -> u32 {
    corrupt_results(Corruption::UnknownTag);
    std::process::id()
}

fn sends_bad_length(_: ()) -> u32 {
    corrupt_results(Corruption::BadLength);
    std::process::id()
}

fn sends_unowned_result(_: ()) -> u32 {
    corrupt_results(Corruption::UnownedResult);
    std::process::id()
}

/// A worker that sends what is not the protocol is killed, and its task fails with
/// `Protocol`, saying what was wrong; the task queued behind it runs on the replacement.
fn protocol_breach(method: StartMethod, f: fn(()) -> u32, says: &str) {
    let pool = common::pool(method, 1);
    let pid = pool.submit(common::pid, ()).join().unwrap();
    let bad = pool.submit(f, ());
    let behind = pool.submit(double, 21);
    let error = bad
        .join()
        .expect_err("the task of a worker that broke the protocol fails");
    let worker = format!("worker process {pid} ");
    assert!(
        matches!(&error, TaskError::Protocol(m) if m.contains(says) && m.contains(&worker)),
        "{error:?} should be Protocol, naming the worker and saying {says:?}"
    );
    assert!(error.is_protocol());
    assert!(error.to_string().contains("protocol"), "{error}");
    assert_eq!(behind.join(), Ok(42));
    eventually("a replacement worker", || pool.metrics().respawns == 1);
    assert_ne!(pool.submit(common::pid, ()).join().unwrap(), pid);
    let more: Vec<_> = (0..10).map(|i| pool.submit(double, i)).collect();
    let results: Vec<_> = more.into_iter().map(|h| h.join()).collect();
    assert_eq!(results, (0..10).map(|i| Ok(i * 2)).collect::<Vec<_>>());
}

/// A worker that sends a result for a task it does not hold is killed and replaced; the
/// task it did hold had its own result first.
fn unowned_result(method: StartMethod) {
    let pool = common::pool(method, 1);
    let pid = pool.submit(common::pid, ()).join().unwrap();
    assert_eq!(pool.submit(sends_unowned_result, ()).join(), Ok(pid));
    // Nothing is submitted until the worker is replaced: a task handed to it in between
    // would be taken for the owner of the stray result.
    eventually("a replacement worker", || pool.metrics().respawns == 1);
    assert_eq!(pool.metrics().worker_deaths, 1);
    assert_ne!(pool.submit(common::pid, ()).join().unwrap(), pid);
    let more: Vec<_> = (0..10).map(|i| pool.submit(double, i)).collect();
    let results: Vec<_> = more.into_iter().map(|h| h.join()).collect();
    assert_eq!(results, (0..10).map(|i| Ok(i * 2)).collect::<Vec<_>>());
}

fn panics(x: u64) -> u64 {
    panic!("task {x} refuses")
}

/// The flag that makes this program run [`panicking_pool`] instead of its checks.
const PANICKING_POOL: &str = "--panicking-pool";

/// Run as a program of its own, so that its standard error can be read: a pool whose
/// worker panics. Prints the worker's pid.
fn panicking_pool(method: &str, silent: bool) -> ! {
    let method = METHODS
        .into_iter()
        .find(|m| format!("{m:?}") == method)
        .expect("a start method");
    let mut builder = ProcessPool::builder().workers(1).start_method(method);
    if silent {
        builder = builder.worker_panic_output(PanicOutput::Silent);
    }
    let pool = builder.build().expect("pool starts");
    let pid = pool.submit(common::pid, ()).join().unwrap();
    let error = pool.submit(panics, 5).join().unwrap_err();
    assert!(
        matches!(&error, TaskError::Panicked { message } if message == "task 5 refuses"),
        "{error:?}"
    );
    assert_eq!(pool.submit(common::pid, ()).join(), Ok(pid));
    drop(pool);
    println!("{pid}");
    std::process::exit(0)
}

/// What a worker's panic prints on the standard error the parent shares with it: each line
/// prefixed with the worker's pid, or nothing at all.
fn panic_output(method: StartMethod, silent: bool) {
    let exe = std::env::current_exe().expect("the test's own executable");
    let mut command = std::process::Command::new(exe);
    command.args([PANICKING_POOL, &format!("{method:?}")]);
    if silent {
        command.arg("silent");
    }
    let out = command.output().expect("the test runs itself");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}\n{stdout}\n{stderr}", out.status);
    let pid: u32 = stdout.trim().parse().expect("the worker's pid");
    if silent {
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(!stderr.contains("task 5 refuses"), "{stderr}");
        return;
    }
    let prefix = format!("[braid-procpool worker {pid}] ");
    let lines: Vec<&str> = stderr.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains("panicked at"))
        .unwrap_or_else(|| panic!("no panic reported:\n{stderr}"));
    assert!(
        lines[at].starts_with(&format!("{prefix}thread '")),
        "{:?} should start with {prefix:?}",
        lines[at]
    );
    assert!(lines[at].contains("failure_kinds.rs"), "{}", lines[at]);
    assert_eq!(
        lines.get(at + 1),
        Some(&&*format!("{prefix}task 5 refuses"))
    );
    for line in &lines {
        assert!(
            line.starts_with(&prefix) || !line.contains("panic"),
            "{line:?} has no prefix:\n{stderr}"
        );
    }
}

/// A `fn(u64) -> u64` that lives in the C library, not in this program.
fn function_in_libc() -> fn(u64) -> u64 {
    // SAFETY: `RTLD_DEFAULT` searches every loaded object; the name is NUL-terminated.
    let abs = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"abs".as_ptr()) };
    assert!(!abs.is_null(), "abs is in the C library");
    // SAFETY: the pointer is never called: the pool must refuse it before any process can.
    // A code address and a `fn` pointer have the same size on every Unix braid supports.
    unsafe { std::mem::transmute::<*mut libc::c_void, fn(u64) -> u64>(abs) }
}

fn check_not_our_own(error: &TaskError) {
    let TaskError::Encode(message) = error else {
        panic!("expected an Encode error, got {error:?}");
    };
    let library = braid_sys::image::image_of(function_in_libc() as usize)
        .and_then(|image| image.path)
        .expect("the C library's file");
    let library = library.display().to_string();
    assert!(
        message.contains(&library),
        "{message} should name {library}"
    );
    assert!(message.contains("not in the program"), "{message}");
}

/// A function of a shared library is refused in the parent, for submit and for each item of
/// a map: a worker would look for it at the wrong address.
fn foreign_function(method: StartMethod) {
    let pool = common::pool(method, 1);
    let pid = pool.submit(common::pid, ()).join().unwrap();
    let before = pool.metrics();
    check_not_our_own(&pool.submit(function_in_libc(), 5).join().unwrap_err());
    let results: Vec<_> = pool.map(function_in_libc(), 0..4, 2).collect();
    assert_eq!(results.len(), 4);
    for result in &results {
        check_not_our_own(result.as_ref().unwrap_err());
    }
    let m = pool.metrics();
    assert_eq!(
        m.tasks_done, before.tasks_done,
        "nothing reached the worker"
    );
    assert_eq!(
        pool.submit(common::pid, ()).join(),
        Ok(pid),
        "the same worker"
    );
}

/// An initializer of a shared library is refused before any worker starts.
fn foreign_initializer() {
    let abs = function_in_libc();
    // SAFETY: never called, as in `function_in_libc`; only the address matters.
    let init = unsafe { std::mem::transmute::<fn(u64) -> u64, fn()>(abs) };
    let error = ProcessPool::builder()
        .workers(1)
        .initializer(init)
        .build()
        .expect_err("a foreign initializer must fail build");
    assert!(error.is_invalid_setting(), "{error:?}");
    assert!(error.to_string().contains("shared library"), "{error}");
}

fn main() {
    braid_procpool::init();
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(PANICKING_POOL) {
        panicking_pool(&args[2], args.get(3).is_some_and(|a| a == "silent"));
    }
    let mut checks = Checks::new();
    checks.run(
        "an initializer of a shared library is refused",
        foreign_initializer,
    );
    for method in METHODS {
        let name = |what: &str| format!("{method:?}: {what}");
        for stage in STAGES {
            checks.run(&name(&format!("a value failing at {stage:?}")), || {
                codec_stage(method, stage)
            });
            checks.run(&name(&format!("a map item failing at {stage:?}")), || {
                codec_stage_in_map(method, stage)
            });
        }
        checks.run(&name("an argument over the message limit"), || {
            argument_sizes(method)
        });
        checks.run(&name("a result over the message limit"), || {
            result_sizes(method)
        });
        checks.run(&name("a message with an unknown tag"), || {
            protocol_breach(method, sends_unknown_tag, "unknown tag 0xee")
        });
        checks.run(&name("a frame with a bad length"), || {
            protocol_breach(method, sends_bad_length, "a frame of 4294967295 bytes")
        });
        checks.run(
            &name("a result for a task the worker does not hold"),
            || unowned_result(method),
        );
        checks.run(&name("a worker's panic is printed with its pid"), || {
            panic_output(method, false)
        });
        checks.run(&name("a worker's panic is not printed when silent"), || {
            panic_output(method, true)
        });
        checks.run(&name("a function of a shared library is refused"), || {
            foreign_function(method)
        });
    }
    checks.finish();
}
