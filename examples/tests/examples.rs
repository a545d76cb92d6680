//! Runs every example with small arguments and checks what it prints, so none of them rots.
//!
//! # Finding the example programs
//!
//! Cargo hands integration tests the paths of `[[bin]]` targets (`CARGO_BIN_EXE_*`) but not
//! of examples. So the first test to need one asks Cargo to build them all, once, with
//! `cargo build --examples --message-format=json`, and takes each program's path from the
//! `executable` field Cargo reports. That stays right whatever the target directory, profile
//! or target triple, and never runs a stale binary: `cargo test` already built the examples,
//! so this build only checks they are fresh. It builds into the target directory this test
//! was built in (the parent of `CARGO_TARGET_TMPDIR`), with the same profile, so nothing is
//! compiled twice.
//!
//! The helpers that start examples live in `common/` (shared with `ecosystem.rs`). Every child
//! process is owned by a [`Running`] guard that kills and reaps it when dropped,
//! even when an assertion fails. Timeouts here only keep a broken example from hanging the
//! suite; no test asserts how fast anything is.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use common::{assert_one_connection, curl, require, run_ok, survives_wrk, Running, HANG_GUARD};

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("the server accepts");
    stream.set_read_timeout(Some(HANG_GUARD)).unwrap();
    stream
}

#[test]
fn tour_prints_a_table_and_a_conclusion() {
    let out = run_ok("tour", &["--quick"]);
    for expected in [
        "fetching 20 pages one by one...",
        "fetching 20 pages on the event loop...",
        "counting on one thread...",
        "(25997 primes below 300000)", // π(300000): all three models agreed on it
        "workload  model",
        "thread pool, 16 threads",
        "event loop, 1 thread, 20 tasks",
        "process pool,",
        "Conclusion:",
        "- I/O-bound: ",
        "- CPU-bound: ",
    ] {
        assert!(out.contains(expected), "no {expected:?} in:\n{out}");
    }
    let table_rows = out.lines().filter(|l| l.trim_end().ends_with('x')).count();
    assert_eq!(table_rows, 6, "three models for each workload:\n{out}");
}

#[test]
fn tour_rejects_bad_arguments() {
    let (status, _, stderr) = Running::start("tour", &["many"]).finish();
    assert_eq!(status.code(), Some(2));
    assert!(stderr.contains("PAGES must be a whole number"), "{stderr}");
    assert!(stderr.contains("usage: tour"), "{stderr}");
}

#[test]
fn echo_client_checks_every_echo_from_echo_server() {
    let mut server = Running::start("echo_server", &["127.0.0.1:0"]);
    let addr = server.listening_address().to_string();
    let out = run_ok("echo_client", &[&addr, "200"]);
    assert!(out.contains("200 messages"), "{out}");
    assert!(out.contains("echoed correctly"), "{out}");
    // The server saw the client leave after every byte.
    let bytes: usize = (0..200).map(|i| format!("message {i}\n").len()).sum();
    server.wait_for_line(&format!("closed after {bytes} bytes"));
}

#[test]
fn echo_client_reports_an_unreachable_server() {
    // A port that was free a moment ago: nothing listens there.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let (status, _, stderr) = Running::start("echo_client", &[&addr, "3"]).finish();
    assert_eq!(status.code(), Some(1));
    assert!(stderr.contains(&addr), "{stderr}");
}

#[test]
fn http_hello_serves_curl_on_one_connection() {
    require("curl");
    let mut server = Running::start("http_hello", &["127.0.0.1:0"]);
    let url = format!("http://{}/", server.listening_address());
    let (body, verbose) = curl(&[&url, &url]);
    assert_eq!(body, "Hello, world!Hello, world!");
    assert_eq!(verbose.matches("HTTP/1.1 200 OK").count(), 2, "{verbose}");
    assert_one_connection(&verbose);
}

#[test]
fn http_get_fetches_from_http_hello() {
    let mut server = Running::start("http_hello", &["127.0.0.1:0"]);
    let url = format!("http://{}/", server.listening_address());
    let (status, stdout, stderr) = Running::start("http_get", &[&url]).finish();
    assert!(status.success(), "{stderr}");
    assert_eq!(stdout, "Hello, world!");
    assert!(stderr.contains("HTTP/1.1 200 OK"), "{stderr}");
}

/// A one-shot server on a plain thread: reads one request, sends `answer`, and closes once
/// `close` is received (or at once if it is `None`).
fn answer_once(
    answer: &'static str,
    close: Option<Receiver<()>>,
) -> (String, std::thread::JoinHandle<String>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/missing?x=1", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 1024];
        while !request.ends_with(b"\r\n\r\n") {
            let n = stream.read(&mut buf).unwrap();
            assert!(n > 0, "the request ended early");
            request.extend_from_slice(&buf[..n]);
        }
        stream.write_all(answer.as_bytes()).unwrap();
        if let Some(close) = close {
            let _ = close.recv_timeout(HANG_GUARD);
        }
        String::from_utf8(request).unwrap()
    });
    (url, server)
}

#[test]
fn http_get_sends_the_path_and_fails_on_a_404() {
    let (url, server) = answer_once(
        "HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\n\r\nnope\n",
        None,
    );
    let (status, stdout, stderr) = Running::start("http_get", &[&url]).finish();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert_eq!(stdout, "nope");
    assert!(stderr.contains("404 Not Found"), "{stderr}");
    let request = server.join().unwrap();
    assert!(
        request.starts_with("GET /missing?x=1 HTTP/1.1\r\n"),
        "{request}"
    );
    assert!(request.contains("\r\nConnection: close\r\n"), "{request}");
}

#[test]
fn http_get_ends_the_body_at_its_content_length_on_an_open_connection() {
    // The server keeps the connection open after the body, ignoring `Connection: close`.
    let (close, closed) = mpsc::channel();
    let (url, server) = answer_once(
        "HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nsix ch",
        Some(closed),
    );
    let (status, stdout, stderr) = Running::start("http_get", &[&url]).finish();
    close.send(()).unwrap();
    assert!(status.success(), "{stderr}");
    assert_eq!(stdout, "six ch");
    server.join().unwrap();
}

#[test]
fn http_get_reports_bad_urls_and_unreachable_servers() {
    let (status, _, stderr) = Running::start("http_get", &["https://example.org/"]).finish();
    assert_eq!(status.code(), Some(1));
    assert!(stderr.contains("only http:// URLs"), "{stderr}");

    let (status, _, stderr) = Running::start("http_get", &[]).finish();
    assert_eq!(status.code(), Some(2));
    assert!(stderr.contains("usage"), "{stderr}");

    // A port that was free a moment ago: nothing listens there.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("http://{addr}/");
    let (status, _, stderr) = Running::start("http_get", &[&url]).finish();
    assert_eq!(status.code(), Some(1));
    assert!(
        stderr.contains(&url) && stderr.contains("refused"),
        "{stderr}"
    );
}

#[test]
fn tokio_crates_answers_every_request_made_on_tokio() {
    let stdout = run_ok("tokio_crates", &["12"]);
    for i in 0..12 {
        let line = format!("tokio asked \"request {i}\", braid answered \"REQUEST {i}\"");
        assert!(stdout.contains(&line), "no {line:?} in:\n{stdout}");
    }
    assert!(stdout.ends_with("12 requests made on tokio were answered on braid"));
}

#[test]
fn python_idioms_each_check_out() {
    let stdout = run_ok("python_idioms", &[]);
    for idiom in [
        "asyncio.gather of two types: (\"braid\", 5)",
        "asyncio.gather raising the first error: Err(\"no\")",
        "asyncio.as_completed with each task's index: all 3 came back",
        "await task raising OSError, without nesting: \"hello\"",
        "ThreadPoolExecutor.map, collected: [1, 4, 9, 16, 25]",
        "future.result(timeout) on both pools: 36 and 49",
        "concurrent.futures.as_completed with indices: [1, 4, 9, 16]",
    ] {
        assert!(stdout.contains(idiom), "no {idiom:?} in:\n{stdout}");
    }
}

#[test]
fn http_hello_survives_wrk() {
    survives_wrk("http_hello");
}

#[test]
fn http_hello_answers_pipelined_requests_in_order_then_closes() {
    let mut server = Running::start("http_hello", &["127.0.0.1:0"]);
    let mut stream = connect(server.listening_address());
    // Three requests in one write, the last asking to close.
    stream
        .write_all(
            b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n\
              POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc\
              GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
    let mut reply = String::new();
    // Ends only because the server closes the connection after the third answer.
    stream.read_to_string(&mut reply).unwrap();
    let statuses: Vec<&str> = reply
        .match_indices("HTTP/1.1 ")
        .map(|(i, _)| &reply[i + 9..i + 12])
        .collect();
    assert_eq!(statuses, ["200", "405", "200"], "{reply}");
    assert_eq!(
        reply.matches("Content-Length: 13\r\n").count(),
        2,
        "{reply}"
    );
    assert!(reply.ends_with("Connection: close\r\nContent-Length: 13\r\n\r\nHello, world!"));
}

#[test]
fn http_hello_waits_for_a_request_split_across_writes() {
    let mut server = Running::start("http_hello", &["127.0.0.1:0"]);
    let mut stream = connect(server.listening_address());
    stream.set_nodelay(true).unwrap();
    for piece in [&b"GET / HT"[..], b"TP/1.1\r\nHost: x\r", b"\n\r\n"] {
        stream.write_all(piece).unwrap();
        // Give the server the chance to see each piece on its own.
        std::thread::sleep(Duration::from_millis(20));
    }
    let expected =
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, world!";
    let mut reply = vec![0; expected.len()];
    stream.read_exact(&mut reply).unwrap();
    assert_eq!(String::from_utf8_lossy(&reply), expected);
    // Still open: HTTP/1.1 keeps the connection alive.
    stream.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap(); // HTTP/1.0: the server closes after it
    assert!(reply.ends_with("Hello, world!"), "{reply}");
}

#[test]
fn http_hello_rejects_garbage_with_400_and_closes() {
    let mut server = Running::start("http_hello", &["127.0.0.1:0"]);
    let mut stream = connect(server.listening_address());
    stream.write_all(b"HELLO\r\n\r\n").unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{reply}");
    assert!(reply.contains("Connection: close\r\n"), "{reply}");
}

#[test]
fn fetch_many_fetches_from_its_own_server() {
    let out = run_ok("fetch_many", &["5"]);
    assert_eq!(out.matches("200     2048 bytes").count(), 5, "{out}");
    for i in 0..5 {
        assert!(out.contains(&format!("/page/{i}\n")), "{out}");
    }
    assert!(out.contains("fetched 5 of 5 pages"), "{out}");
}

#[test]
fn fetch_many_fetches_a_url_list_and_reports_failures() {
    let mut server = Running::start("http_hello", &["127.0.0.1:0"]);
    let addr = server.listening_address();
    let refused = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (status, out, _) = Running::start(
        "fetch_many",
        &[
            &format!("http://{addr}/one"),
            &format!("http://{refused}/"),
            &format!("http://{addr}/two"),
        ],
    )
    .finish();
    assert_eq!(status.code(), Some(1), "one fetch failed:\n{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("200       13 bytes"), "{out}");
    assert!(lines[1].starts_with("ERR"), "{out}");
    assert!(lines[2].starts_with("200       13 bytes"), "{out}");
    assert!(out.contains("fetched 2 of 3 pages"), "{out}");

    let (status, _, stderr) = Running::start("fetch_many", &["https://example.com/"]).finish();
    assert_eq!(status.code(), Some(2));
    assert!(stderr.contains("only http:// URLs"), "{stderr}");
}

#[test]
fn chat_passes_lines_between_clients() {
    let mut server = Running::start("chat", &["127.0.0.1:0"]);
    let addr = server.listening_address();
    let mut alice = BufReader::new(connect(addr));
    let read_until = |reader: &mut BufReader<TcpStream>, wanted: &str| loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).expect("the server answers");
        assert!(n > 0, "the server closed before sending {wanted:?}");
        if line.trim_end() == wanted {
            break;
        }
    };
    read_until(&mut alice, "welcome, guest1: 1 online");
    let mut bob = BufReader::new(connect(addr));
    read_until(&mut bob, "welcome, guest2: 2 online");
    read_until(&mut alice, "* guest2 joined");

    alice.get_mut().write_all(b"hello, bob\n").unwrap();
    read_until(&mut bob, "guest1: hello, bob");
    bob.get_mut().write_all(b"hi alice\n").unwrap();
    read_until(&mut alice, "guest2: hi alice");

    drop(bob);
    read_until(&mut alice, "* guest2 left");
}

#[test]
fn pipeline_keeps_its_queues_bounded() {
    let out = run_ok("pipeline", &["12", "3"]);
    assert!(out.contains("sum of squares 1..=12 = 650"), "{out}");
    let mut consumed = 0;
    for line in out.lines().filter(|l| l.starts_with("consumed")) {
        consumed += 1;
        for queue in ["raw ", "squared "] {
            let at = line.find(queue).expect("each line shows both queues") + queue.len();
            let length: usize = line[at..].split('/').next().unwrap().parse().unwrap();
            assert!(length <= 3, "a queue grew past its capacity: {line}");
        }
    }
    assert_eq!(consumed, 12, "{out}");
}

#[test]
fn blocking_in_async_gets_both_results() {
    let out = run_ok("blocking_in_async", &["100"]);
    assert!(out.contains("spawn_blocking result: 500500"), "{out}");
    assert!(out.contains("thread pool job result: 2001000"), "{out}");
    assert!(out.contains("both jobs done"), "{out}");
}

#[test]
fn primes_agree_on_threads_and_processes() {
    let out = run_ok("primes", &["50000", "2", "8"]);
    // π(50000) = 5133.
    assert_eq!(out.matches("5133 primes below 50000").count(), 2, "{out}");
    assert!(out.contains("the counts agree"), "{out}");
}

#[test]
fn quicksort_sorts() {
    let out = run_ok("quicksort", &["50000", "256"]);
    assert!(out.contains("sorted 50000 numbers"), "{out}");
    assert!(out.contains("the result is sorted"), "{out}");

    let (status, _, stderr) = Running::start("quicksort", &["1e6"]).finish();
    assert_eq!(status.code(), Some(2));
    assert!(stderr.contains("LENGTH must be a whole number"), "{stderr}");
}

#[test]
fn hyper_hello_serves_curl_on_one_connection() {
    require("curl");
    let mut server = Running::start("hyper_hello", &["127.0.0.1:0"]);
    let url = format!("http://{}/", server.listening_address());
    let (body, verbose) = curl(&[&url, &url]);
    assert_eq!(body, "Hello, world!Hello, world!");
    assert_eq!(verbose.matches("HTTP/1.1 200 OK").count(), 2, "{verbose}");
    assert_one_connection(&verbose);
}

#[test]
fn hyper_hello_speaks_http2_with_prior_knowledge_on_the_same_port() {
    require("curl");
    let mut server = Running::start("hyper_hello", &["127.0.0.1:0"]);
    let url = format!("http://{}/", server.listening_address());
    // One URL per run: curl 7.88 fails a second request that reuses a prior-knowledge
    // connection (curl issue 10634). braid-hyper's own tests run many streams on one.
    let (body, verbose) = curl(&["--http2-prior-knowledge", &url]);
    assert_eq!(body, "Hello, world!");
    assert!(verbose.contains("< HTTP/2 200"), "{verbose}");
    // And HTTP/1.1 still, on the same listener.
    let (body, verbose) = curl(&["--http1.1", &url]);
    assert_eq!(body, "Hello, world!");
    assert!(verbose.contains("HTTP/1.1 200 OK"), "{verbose}");
}

#[test]
fn hyper_hello_answers_other_methods_with_405() {
    require("curl");
    let mut server = Running::start("hyper_hello", &["127.0.0.1:0"]);
    let url = format!("http://{}/", server.listening_address());
    let (body, verbose) = curl(&["--request", "POST", &url]);
    assert_eq!(body, "only GET is served here\n");
    assert!(verbose.contains("HTTP/1.1 405"), "{verbose}");
}

#[test]
fn hyper_hello_survives_wrk() {
    survives_wrk("hyper_hello");
}

#[test]
fn hyper_websocket_echoes_over_an_upgraded_connection() {
    let mut server = Running::start("hyper_websocket", &["127.0.0.1:0"]);
    let url = format!("ws://{}/ws", server.listening_address());
    let stdout = run_ok(
        "hyper_websocket",
        &["--client", &url, "hello", "braid", "ünïcödé"],
    );
    assert_eq!(
        stdout, "echo: hello\necho: braid\necho: ünïcödé\nclosed",
        "the client printed something else"
    );
    // The server serves the next client too: upgrades do not end it.
    let stdout = run_ok("hyper_websocket", &["--client", &url, "again"]);
    assert_eq!(stdout, "echo: again\nclosed");
}

#[test]
fn hyper_websocket_answers_plain_requests_without_upgrading() {
    require("curl");
    let mut server = Running::start("hyper_websocket", &["127.0.0.1:0"]);
    let addr = server.listening_address();
    let (body, verbose) = curl(&[&format!("http://{addr}/ws")]);
    assert!(verbose.contains("HTTP/1.1 426"), "{verbose}");
    assert!(
        verbose.to_ascii_lowercase().contains("upgrade: websocket"),
        "{verbose}"
    );
    assert_eq!(body, "connect a WebSocket client to this URL\n");
    let (body, verbose) = curl(&[&format!("http://{addr}/elsewhere")]);
    assert!(verbose.contains("HTTP/1.1 404"), "{verbose}");
    assert_eq!(body, "the WebSocket echo is at /ws\n");
}

#[test]
fn hyper_websocket_client_reports_bad_urls_and_refused_connections() {
    let (status, _, stderr) =
        Running::start("hyper_websocket", &["--client", "http://x/"]).finish();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("not a ws:// URL"), "{stderr}");
    // A port that was just free: nothing listens there.
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (status, _, stderr) = Running::start(
        "hyper_websocket",
        &["--client", &format!("ws://{free}/ws"), "x"],
    )
    .finish();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("refused"), "{stderr}");
}

/// The time-out the link checker tests give each fetch: far longer than the site's pages
/// take even on a loaded machine, far shorter than `/slow`, which answers after a minute.
const LIMIT_MS: &str = "10000";

/// The broken links of the link checkers' built-in site (`examples::site`): what is wrong,
/// the link's path, and the path of the page it is on.
const SITE_BROKEN: [(&str, &str, &str); 6] = [
    ("404", "/about", "/"),
    ("timed out", "/slow", "/"),
    ("refused", "/", "/"),
    ("404", "/page/30", "/page/29"),
    ("404", "/old/12", "/page/12"),
    ("refused", "/app", "/page/21"),
];

/// Checks that a crawl's report lists exactly the site's broken links, each once, with the
/// page it is on.
fn assert_reports_the_broken_links(out: &str) {
    let listed: Vec<&str> = out
        .lines()
        .skip_while(|line| *line != "broken links:")
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .collect();
    assert_eq!(listed.len(), SITE_BROKEN.len(), "{out}");
    for (why, path, on) in SITE_BROKEN {
        let found = listed.iter().filter(|line| {
            line.trim_start().starts_with(why)
                && line.contains(&format!("{path}  (on http://127.0.0.1:"))
                && line.ends_with(&format!("{on})"))
        });
        assert_eq!(found.count(), 1, "{why} {path} on {on}:\n{out}");
    }
}

/// Checks the report of a link checker that checks the links of the home page only.
fn assert_checks_every_link_of_the_home_page(out: &str) {
    assert!(out.contains("/: 8 links\n"), "{out}");
    // In the order of the links on the page, whichever fetch ended first: pages 0 to 4 first.
    let lines: Vec<&str> = out.lines().collect();
    for page in 0..5 {
        let line = lines[1 + page];
        let ok = line.starts_with("  ok ") && line.contains(&format!("/page/{page}  ("));
        assert!(ok, "page {page} is not ok, or not in its place:\n{out}");
    }
    for (why, path) in [("404", "/about"), ("timed out", "/slow"), ("refused", "/")] {
        let line = format!("  {why:<10} http://127.0.0.1:");
        let found = out.lines().any(|l| {
            l.starts_with(&line) && l.ends_with(path) && !l.ends_with(&format!("/{path}"))
        });
        assert!(found, "no {why} {path}:\n{out}");
    }
    assert!(out.ends_with("8 links: 5 ok, 3 broken"), "{out}");
}

#[test]
fn linkcheck_fetch_checks_every_link_of_the_home_page() {
    let out = run_ok("linkcheck_fetch", &["site", LIMIT_MS]);
    assert_checks_every_link_of_the_home_page(&out);
}

#[test]
fn linkcheck_gather_checks_every_link_of_the_home_page() {
    let out = run_ok("linkcheck_gather", &["site", LIMIT_MS]);
    assert_checks_every_link_of_the_home_page(&out);
}

#[test]
fn linkcheck_fetch_checks_a_given_url_and_fails_on_an_unreachable_one() {
    let site = examples::site::Site::start().unwrap();
    let home = site.home().to_string();
    let out = run_ok("linkcheck_fetch", &[&home, LIMIT_MS]);
    assert!(out.starts_with(&format!("{home}: 8 links\n")), "{out}");
    assert!(out.ends_with("8 links: 5 ok, 3 broken"), "{out}");

    let refused = format!("http://{}/", site.refused());
    let (status, _, stderr) = Running::start("linkcheck_fetch", &[&refused]).finish();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("{refused}: refused")), "{stderr}");
}

#[test]
fn linkcheck_crawl_finds_every_broken_link_once_in_waves() {
    let out = run_ok("linkcheck_crawl", &["site", LIMIT_MS]);
    assert_reports_the_broken_links(&out);
    assert!(
        out.ends_with("checked 37 links on 31 pages in 6 waves: 31 ok, 6 broken"),
        "{out}"
    );
}

#[test]
fn linkcheck_queue_finds_every_broken_link_once() {
    let out = run_ok("linkcheck_queue", &["site", "4", "8", LIMIT_MS]);
    assert_reports_the_broken_links(&out);
    assert!(
        out.ends_with("checked 37 links on 31 pages with 4 fetchers: 31 ok, 6 broken"),
        "{out}"
    );
    assert_found_stays_bounded(&out, 12);
    // One fetcher and a queue of one find the same.
    let out = run_ok("linkcheck_queue", &["site", "1", "1", LIMIT_MS]);
    assert_reports_the_broken_links(&out);
    assert_found_stays_bounded(&out, 2);
    assert!(out.ends_with("with 1 fetchers: 31 ok, 6 broken"), "{out}");
}

/// Checks that the crawl's `found` queue never held more than `QUEUE + FETCHERS` reports.
fn assert_found_stays_bounded(out: &str, bound: usize) {
    let line = out
        .lines()
        .find(|line| line.starts_with("at most "))
        .unwrap_or_else(|| panic!("no peak of `found`:\n{out}"));
    let most: usize = line["at most ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        line.ends_with(&format!("(QUEUE + FETCHERS = {bound})")),
        "{out}"
    );
    assert!(most <= bound, "{out}");
}

#[test]
fn linkcheck_queue_rejects_bad_arguments() {
    let (status, _, stderr) = Running::start("linkcheck_queue", &["site", "0"]).finish();
    assert_eq!(status.code(), Some(2));
    assert!(stderr.contains("must be at least 1"), "{stderr}");
    let (status, _, stderr) = Running::start("linkcheck_queue", &["https://x/"]).finish();
    assert_eq!(status.code(), Some(2));
    assert!(stderr.contains("only http:// URLs"), "{stderr}");
}

#[test]
fn linkcheck_parse_finds_the_same_links_on_the_thread_pool() {
    let out = run_ok("linkcheck_parse", &["site", "4", "8", LIMIT_MS, "3"]);
    assert_reports_the_broken_links(&out);
    assert!(
        out.ends_with("with 4 fetchers and 3 parser threads: 31 ok, 6 broken"),
        "{out}"
    );
}

#[test]
fn linkcheck_pool_counts_the_words_of_every_page_on_the_thread_pool() {
    let out = run_ok("linkcheck_pool", &["site", LIMIT_MS, "2"]);
    assert_reports_the_broken_links(&out);
    assert!(
        out.contains("checked 37 links on 31 pages with 2 threads: 31 ok, 6 broken\n"),
        "{out}"
    );
    let last = out.lines().last().unwrap();
    assert!(
        last.starts_with("counted 1598 words on 31 pages on the thread pool; the most, 62, on "),
        "{out}"
    );
    assert!(last.ends_with("/page/18"), "{out}");
}

#[test]
fn linkcheck_report_survives_the_page_that_crashes_its_worker() {
    let out = run_ok("linkcheck_report", &["site", LIMIT_MS]);
    assert_reports_the_broken_links(&out);
    assert!(
        out.contains("checked 37 links on 31 pages: 31 ok, 6 broken"),
        "{out}"
    );
    let crashed: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("could not analyse"))
        .collect();
    assert_eq!(crashed.len(), 1, "{out}");
    assert!(crashed[0].contains("/page/13: worker process"), "{out}");
    assert!(crashed[0].contains("killed by signal 6 (SIGABRT)"), "{out}");
    let same: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("the same words: "))
        .collect();
    assert_eq!(
        same.len(),
        1,
        "only pages 9, 19 and 29 share their words:\n{out}"
    );
    let pages: Vec<&str> = same[0]
        .split(", ")
        .map(|url| &url[url.rfind('/').unwrap()..])
        .collect();
    assert_eq!(pages, ["/19", "/29", "/9"], "{out}");
    assert!(
        out.ends_with("analysed 30 of 31 pages in worker processes: 1541 words"),
        "{out}"
    );
}
