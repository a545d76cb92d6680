//! A plain HTTP GET on braid's event loop: connect, send the request, read the answer to its
//! end. The whole client is the `get` function below, about twenty lines.
//!
//! ```text
//! cargo run --example http_hello &                       # a server to ask
//! cargo run --example http_get -- http://127.0.0.1:8080/
//! ```
//!
//! It prints the status line to stderr and the body to stdout, and exits with 1 unless the
//! status is 2xx (as `curl --fail` does). The body ends where its `Content-Length` says, or
//! where the server closes the connection; the whole fetch has 30 seconds. It speaks `http://` only: `https://` needs a TLS
//! crate. For anything more (redirects, chunked bodies, keeping connections), use an HTTP
//! library; chapter 7 of the tutorial says which ones run on braid.

use std::io;
use std::time::Duration;

use braid::executor::net::TcpStream;

/// Fetches `url` and returns the status line and the body.
async fn get(url: &str) -> io::Result<(String, Vec<u8>)> {
    let (host, path) = split_url(url)?;
    let stream = TcpStream::connect(host.as_str()).await?;
    // `Connection: close` asks the server to end the stream after its answer.
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.send_all(request.as_bytes()).await?;
    // Read until the server closes, or until the body reaches its Content-Length.
    let mut answer = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let mut expected_len = None;
    while expected_len.map_or(true, |len| answer.len() < len) {
        let n = stream.recv(&mut buf).await?;
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
        if let (None, Some(head_end)) = (expected_len, find(&answer, b"\r\n\r\n")) {
            expected_len = header(&answer[..head_end], "content-length")
                .and_then(|len| len.parse::<usize>().ok())
                .map(|len| head_end + 4 + len);
        }
    }
    let head_end = find(&answer, b"\r\n\r\n").ok_or_else(|| bad("the answer has no header end"))?;
    let head = &answer[..head_end];
    if header(head, "transfer-encoding").is_some_and(|coding| coding.contains("chunked")) {
        return Err(bad(
            "the server sent a chunked body, which this example does not decode",
        ));
    }
    let status = String::from_utf8_lossy(head)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    let body_end = expected_len.unwrap_or(answer.len()).min(answer.len());
    Ok((status, answer[head_end + 4..body_end].to_vec()))
}

/// The value of the header `name` in `head`, lower-cased, if it is there.
fn header(head: &[u8], name: &str) -> Option<String> {
    String::from_utf8_lossy(head)
        .lines()
        .skip(1)
        .find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_ascii_lowercase())
        })
}

/// `http://host:port/path` into `("host:port", "/path")`; the port defaults to 80.
fn split_url(url: &str) -> io::Result<(String, String)> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| bad("only http:// URLs are fetched here"))?;
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if host.is_empty() {
        return Err(bad("the URL has no host"));
    }
    let host = if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:80")
    };
    let path = if path.is_empty() { "/" } else { path };
    Ok((host, path.to_owned()))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn bad(why: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why.into())
}

#[braid::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url] = args.as_slice() else {
        eprintln!("usage: http_get URL   (for example http://127.0.0.1:8080/)");
        std::process::exit(2);
    };
    // `timeout` gives Err(Elapsed) when time runs out, and `get` its own io::Result;
    // `flatten` makes them one io::Error (a time-out has the kind TimedOut).
    let fetched = braid::timeout(Duration::from_secs(30), get(url))
        .flatten()
        .await;
    match fetched {
        Ok((status, body)) => {
            eprintln!("{status}");
            io::Write::write_all(&mut io::stdout(), &body).expect("stdout takes the body");
            if !status
                .split(' ')
                .nth(1)
                .is_some_and(|code| code.starts_with('2'))
            {
                std::process::exit(1);
            }
        }
        Err(error) => {
            eprintln!("http_get: {url}: {error}");
            std::process::exit(1);
        }
    }
}
