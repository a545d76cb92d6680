//! Just enough HTTP/1.1 for the examples: parsing requests and responses, writing them, a
//! keep-alive connection loop on braid's event loop, and `GET` clients, blocking and async.
//!
//! This is a teaching subset — no chunked encoding, no TLS — but what it does, it does by
//! the rules: `Content-Length` on every response, persistent connections for HTTP/1.1
//! unless a side says `Connection: close`, and pipelined requests answered in order.

use std::fmt;
use std::future::Future;
use std::io::{self, Read, Write};

use braid::executor::net::TcpStream;
use futures::io::{AsyncReadExt, AsyncWriteExt};

/// The largest request or response head accepted; a bigger one is an error, not a memory
/// leak waiting to happen.
const MAX_HEAD: usize = 16 * 1024;

/// A parsed request line and the headers the examples care about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The request target, such as `/page/3`.
    pub path: String,
    /// Whether the connection stays open after the response: HTTP/1.1 unless the client
    /// sent `Connection: close`, HTTP/1.0 only with `Connection: keep-alive`.
    pub keep_alive: bool,
}

/// What a handler answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code, such as 200.
    pub status: u16,
    /// The body, sent with a matching `Content-Length`.
    pub body: Vec<u8>,
}

/// A request, response or URL that this module cannot handle; the message says why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError(String);

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HttpError {}

impl From<HttpError> for io::Error {
    fn from(error: HttpError) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, error)
    }
}

fn malformed(what: impl fmt::Display) -> HttpError {
    HttpError(format!("malformed HTTP: {what}"))
}

/// The head of a message: its start line and headers, and how many bytes they took.
struct Head<'a> {
    start_line: &'a str,
    headers: Vec<(&'a str, &'a str)>,
    len: usize,
}

impl Head<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|&(_, value)| value)
    }

    fn content_length(&self) -> Result<Option<usize>, HttpError> {
        self.header("content-length")
            .map(|value| {
                value
                    .parse()
                    .map_err(|_| malformed(format!("bad Content-Length {value:?}")))
            })
            .transpose()
    }
}

/// Splits off the head if `buf` holds all of it (`Ok(None)`: read more).
fn parse_head(buf: &[u8]) -> Result<Option<Head<'_>>, HttpError> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if buf.len() > MAX_HEAD {
            Err(malformed(format!("head longer than {MAX_HEAD} bytes")))
        } else {
            Ok(None)
        };
    };
    let text = std::str::from_utf8(&buf[..end]).map_err(|_| malformed("head is not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let start_line = lines.next().unwrap_or_default();
    let headers = lines
        .map(|line| {
            line.split_once(':')
                .map(|(key, value)| (key.trim(), value.trim()))
                .ok_or_else(|| malformed(format!("header without a colon: {line:?}")))
        })
        .collect::<Result<_, _>>()?;
    Ok(Some(Head {
        start_line,
        headers,
        len: end + 4,
    }))
}

/// Parses the first request in `buf`: `Ok(Some((request, bytes used)))`, or `Ok(None)` if
/// the request is not all there yet. A request body, if any, is skipped.
///
/// # Errors
///
/// A request that breaks the protocol.
///
/// # Examples
///
/// ```
/// use examples::http::parse_request;
///
/// let buf = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nConnection: close\r\n\r\n";
/// let (first, used) = parse_request(buf).unwrap().unwrap();
/// assert_eq!((first.path.as_str(), first.keep_alive), ("/a", true));
/// let (second, _) = parse_request(&buf[used..]).unwrap().unwrap();
/// assert_eq!((second.path.as_str(), second.keep_alive), ("/b", false));
/// assert!(parse_request(b"GET / HTTP/1.1\r\n").unwrap().is_none());
/// ```
pub fn parse_request(buf: &[u8]) -> Result<Option<(Request, usize)>, HttpError> {
    let Some(head) = parse_head(buf)? else {
        return Ok(None);
    };
    let mut parts = head.start_line.split(' ');
    let (Some(method), Some(path), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed(format!("bad request line {:?}", head.start_line)));
    };
    let connection = head.header("connection").unwrap_or_default();
    let keep_alive = match version {
        "HTTP/1.1" => !connection.eq_ignore_ascii_case("close"),
        "HTTP/1.0" => connection.eq_ignore_ascii_case("keep-alive"),
        _ => return Err(malformed(format!("unsupported version {version:?}"))),
    };
    let used = head.len + head.content_length()?.unwrap_or(0);
    if buf.len() < used {
        return Ok(None);
    }
    let request = Request {
        method: method.to_string(),
        path: path.to_string(),
        keep_alive,
    };
    Ok(Some((request, used)))
}

/// Appends a complete response to `out`.
///
/// # Examples
///
/// ```
/// let mut out = Vec::new();
/// examples::http::write_response(&mut out, 200, b"hi", true);
/// assert_eq!(out, b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi");
/// ```
pub fn write_response(out: &mut Vec<u8>, status: u16, body: &[u8], keep_alive: bool) {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "",
    };
    let connection = if keep_alive {
        ""
    } else {
        "Connection: close\r\n"
    };
    // `write!` to a Vec cannot fail.
    let _ = write!(
        out,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\n{connection}Content-Length: {}\r\n\r\n",
        body.len()
    );
    out.extend_from_slice(body);
}

/// Serves requests on one connection until the client closes it or asks to.
///
/// Every complete request already received is answered before the next read, in order, and
/// the answers go out in one write: that is how pipelined requests (several sent before
/// the first answer) are handled. A malformed request gets a `400` and the connection is
/// closed.
///
/// # Errors
///
/// What the socket reports, such as a reset from the client.
pub async fn serve_connection<F, Fut>(stream: TcpStream, handler: F) -> io::Result<()>
where
    F: Fn(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    let mut received = Vec::with_capacity(4096);
    let mut out = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        let mut closing = false;
        let mut used = 0;
        while !closing {
            match parse_request(&received[used..]) {
                Ok(Some((request, len))) => {
                    used += len;
                    closing = !request.keep_alive;
                    let response = handler(request).await;
                    write_response(&mut out, response.status, &response.body, !closing);
                }
                Ok(None) => break,
                Err(error) => {
                    write_response(&mut out, 400, error.to_string().as_bytes(), false);
                    closing = true;
                }
            }
        }
        received.drain(..used);
        if !out.is_empty() {
            stream.send_all(&out).await?;
            out.clear();
        }
        if closing {
            // Flush our side, then let the client see the end of the stream.
            return stream.shutdown(std::net::Shutdown::Write);
        }
        let n = stream.recv(&mut chunk).await?;
        if n == 0 {
            return Ok(()); // the client hung up between requests
        }
        received.extend_from_slice(&chunk[..n]);
    }
}

/// A parsed response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The status code.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
}

/// Parses a whole response, as read up to the end of a `Connection: close` stream.
///
/// # Errors
///
/// A response that breaks the protocol or is cut short.
///
/// # Examples
///
/// ```
/// let page = examples::http::parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi")?;
/// assert_eq!((page.status, page.body.as_slice()), (200, &b"hi"[..]));
/// # Ok::<(), examples::http::HttpError>(())
/// ```
pub fn parse_response(buf: &[u8]) -> Result<Page, HttpError> {
    let head = parse_head(buf)?.ok_or_else(|| malformed("response ended inside its head"))?;
    let status = head
        .start_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| malformed(format!("bad status line {:?}", head.start_line)))?;
    let body = &buf[head.len..];
    let body = match head.content_length()? {
        Some(len) if body.len() < len => {
            return Err(malformed(format!(
                "body cut short: {} of {len} bytes",
                body.len()
            )))
        }
        Some(len) => &body[..len],
        None => body,
    };
    Ok(Page {
        status,
        body: body.to_vec(),
    })
}

/// A plain `http://host[:port]/path` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// The host name or address.
    pub host: String,
    /// The port, 80 if the URL names none.
    pub port: u16,
    /// The path, at least `/`.
    pub path: String,
}

impl std::str::FromStr for Url {
    type Err = HttpError;

    /// # Examples
    ///
    /// ```
    /// let url: examples::http::Url = "http://127.0.0.1:8080/page/1".parse()?;
    /// assert_eq!((url.host.as_str(), url.port, url.path.as_str()), ("127.0.0.1", 8080, "/page/1"));
    /// assert!("https://example.com/".parse::<examples::http::Url>().is_err());
    /// # Ok::<(), examples::http::HttpError>(())
    /// ```
    fn from_str(text: &str) -> Result<Url, HttpError> {
        let rest = text
            .strip_prefix("http://")
            .ok_or_else(|| HttpError(format!("{text:?}: only http:// URLs are supported")))?;
        let (authority, path) = match rest.find('/') {
            Some(slash) => rest.split_at(slash),
            None => (rest, "/"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => {
                let port = port
                    .parse()
                    .map_err(|_| HttpError(format!("{text:?}: bad port {port:?}")))?;
                (host, port)
            }
            None => (authority, 80),
        };
        if host.is_empty() {
            return Err(HttpError(format!("{text:?}: no host")));
        }
        Ok(Url {
            host: host.to_string(),
            port,
            path: path.to_string(),
        })
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}:{}{}", self.host, self.port, self.path)
    }
}

impl Url {
    fn request(&self) -> String {
        format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.path, self.host
        )
    }
}

/// Fetches `url` with a blocking socket: the thread waits for every step.
///
/// # Errors
///
/// Connection errors, and a malformed response as `InvalidData`.
pub fn get_blocking(url: &Url) -> io::Result<Page> {
    let mut stream = std::net::TcpStream::connect((url.host.as_str(), url.port))?;
    stream.write_all(url.request().as_bytes())?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    Ok(parse_response(&response)?)
}

/// Fetches `url` on braid's event loop: while it waits, other tasks run.
///
/// A host name is looked up on the loop's blocking pool, off the loop's thread (braid's
/// `TcpStream::connect` does that for any name); an IP address, which the examples use, is
/// parsed on the loop with no lookup.
///
/// # Errors
///
/// Connection errors, and a malformed response as `InvalidData`.
///
/// # Panics
///
/// Outside a running braid event loop.
pub async fn get(url: &Url) -> io::Result<Page> {
    let mut stream = TcpStream::connect((url.host.as_str(), url.port)).await?;
    stream.write_all(url.request().as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    Ok(parse_response(&response)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request_error(buf: &[u8]) -> String {
        parse_request(buf).unwrap_err().to_string()
    }

    #[test]
    fn a_head_past_the_limit_is_an_error_and_a_shorter_one_waits() {
        let mut buf = b"GET / HTTP/1.1\r\n".to_vec();
        while buf.len() <= MAX_HEAD {
            assert_eq!(parse_request(&buf), Ok(None));
            buf.extend_from_slice(b"X-Padding: 0123456789\r\n");
        }
        assert!(request_error(&buf).contains("longer than"));
    }

    #[test]
    fn requests_that_break_the_protocol_are_errors() {
        assert!(request_error(b"GET /\r\n\r\n").contains("bad request line"));
        assert!(request_error(b"GET / HTTP/1.1 x\r\n\r\n").contains("bad request line"));
        assert!(request_error(b"GET / HTTP/2\r\n\r\n").contains("unsupported version"));
        assert!(request_error(b"GET / HTTP/1.1\r\nHost\r\n\r\n").contains("without a colon"));
        let bad_length = b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n";
        assert!(request_error(bad_length).contains("Content-Length"));
        assert!(request_error(b"GET / HTTP/1.1\r\nX: \xff\r\n\r\n").contains("UTF-8"));
    }

    #[test]
    fn a_request_waits_for_its_whole_body_and_skips_it() {
        let buf = b"POST /f HTTP/1.0\r\nConnection: Keep-Alive\r\ncontent-length: 3\r\n\r\nabcGET";
        let head = buf.len() - 6;
        for cut in head..head + 3 {
            assert_eq!(parse_request(&buf[..cut]), Ok(None), "cut at {cut}");
        }
        let (request, used) = parse_request(buf).unwrap().unwrap();
        assert_eq!(used, head + 3);
        assert_eq!(request.method, "POST");
        assert!(request.keep_alive, "HTTP/1.0 with keep-alive stays open");
        let (plain_1_0, _) = parse_request(b"GET / HTTP/1.0\r\n\r\n").unwrap().unwrap();
        assert!(!plain_1_0.keep_alive);
    }

    #[test]
    fn responses_that_break_the_protocol_are_errors() {
        let error = |buf: &[u8]| parse_response(buf).unwrap_err().to_string();
        assert!(error(b"HTTP/1.1 200 OK\r\n").contains("inside its head"));
        assert!(error(b"HTTP/1.1 OK\r\n\r\n").contains("bad status line"));
        let cut = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc";
        assert!(error(cut).contains("cut short: 3 of 5 bytes"));
        // Without a length the body runs to the end of the stream.
        let page = parse_response(b"HTTP/1.0 404 Not Found\r\n\r\ngone").unwrap();
        assert_eq!((page.status, page.body.as_slice()), (404, &b"gone"[..]));
    }

    #[test]
    fn urls_default_their_port_and_path_and_reject_nonsense() {
        let url: Url = "http://example.com".parse().unwrap();
        assert_eq!((url.port, url.path.as_str()), (80, "/"));
        assert_eq!(url.to_string(), "http://example.com:80/");
        for bad in ["http://host:http/", "http://:8080/", "ftp://host/"] {
            assert!(bad.parse::<Url>().is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn a_malformed_message_is_invalid_data() {
        let error: io::Error = malformed("x").into();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }
}
