//! hyper-util's pooled client on braid: a connector for `http://` URIs over braid's TCP.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use braid_executor::net::TcpStream;
use hyper::body::Body;
use hyper::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::client::legacy::Client;

use crate::{BraidIo, BraidTimer, CallerLoopExecutor};

/// Opens braid TCP connections for hyper-util's pooled
/// [`legacy::Client`](hyper_util::client::legacy::Client): a `tower` service from a `Uri` to
/// a [`BraidIo`].
///
/// It speaks plain `http://`: a URI with another scheme, or without a host, is refused with
/// `InvalidInput`. Host names are looked up off the loop (see
/// [`TcpStream::connect`](braid_executor::net::TcpStream::connect)); connections have
/// `TCP_NODELAY` set, since HTTP sends a whole request at once and waits for the answer. For
/// `https://`, wrap it in a TLS connector that takes any `tower` connector.
///
/// A connection belongs to the loop that opened it, which is the loop that asked for it; its
/// task must run there, so give the client a [`CallerLoopExecutor`], as [`client`] does.
#[derive(Clone, Copy, Debug, Default)]
pub struct BraidConnector {
    _private: (),
}

impl BraidConnector {
    /// A connector for `http://` URIs.
    pub fn new() -> BraidConnector {
        BraidConnector { _private: () }
    }
}

/// Where a URI says to connect: its host (without the brackets of an IPv6 literal) and port.
fn destination(uri: &Uri) -> io::Result<(String, u16)> {
    let refuse = |why: &str| io::Error::new(io::ErrorKind::InvalidInput, format!("{why}: {uri}"));
    match uri.scheme_str() {
        // Schemes are case-insensitive; a `Uri` built from parts keeps the case it was given.
        Some(scheme) if scheme.eq_ignore_ascii_case("http") => {}
        Some(_) => {
            return Err(refuse(
                "braid-hyper's connector speaks plain http; put a TLS connector around it for other schemes",
            ))
        }
        None => return Err(refuse("the URI has no scheme (http://)")),
    }
    let host = uri
        .host()
        .filter(|host| !host.is_empty())
        .ok_or_else(|| refuse("the URI has no host"))?;
    let host = host
        .strip_prefix('[')
        .and_then(|host| host.strip_suffix(']'))
        .unwrap_or(host);
    Ok((host.to_owned(), uri.port_u16().unwrap_or(80)))
}

/// What [`BraidConnector`] returns: a connection on its way.
pub type Connecting = Pin<Box<dyn Future<Output = io::Result<BraidIo<TcpStream>>> + Send>>;

impl tower_service::Service<Uri> for BraidConnector {
    type Response = BraidIo<TcpStream>;
    type Error = io::Error;
    type Future = Connecting;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Connecting {
        Box::pin(async move {
            let (host, port) = destination(&uri)?;
            let stream = TcpStream::connect((host, port)).await?;
            stream.set_nodelay(true)?;
            Ok(BraidIo::new(stream))
        })
    }
}

impl Connection for BraidIo<TcpStream> {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

/// A pooled HTTP/1 client (hyper-util's [`legacy::Client`](Client), which reqwest is built
/// on): it connects with [`BraidConnector`], runs each connection as a task of the loop that
/// opened it through a [`CallerLoopExecutor`], and times idle connections out with
/// [`BraidTimer`].
///
/// Connections are kept and reused between requests, as Python's `requests.Session` and
/// `aiohttp.ClientSession` keep theirs. The client may be cloned and sent to other loops and
/// threads; each request runs on the loop that awaits it, opening its connection there, and
/// a kept connection is served by the loop that opened it (a request that takes one from a
/// loop that has ended is retried on a new connection). For other settings, start from
/// `Client::builder(CallerLoopExecutor::current())` and pass a [`BraidConnector`] to `build`.
///
/// # Panics
///
/// If no braid event loop runs on this thread.
///
/// # Examples
///
/// ```
/// use std::convert::Infallible;
///
/// use braid_executor::net::TcpListener;
/// use braid_hyper::{BraidIo, BraidTimer};
/// use http_body_util::{BodyExt, Empty, Full};
/// use hyper::body::{Bytes, Incoming};
/// use hyper::{Request, Response};
///
/// braid_executor::run(async {
///     // A server that says hello on every connection it accepts.
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let addr = listener.local_addr()?;
///     braid_executor::spawn(async move {
///         loop {
///             let (stream, _) = listener.accept().await?;
///             let hello = hyper::service::service_fn(|_: Request<Incoming>| async {
///                 Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("hello"))))
///             });
///             braid_executor::spawn(
///                 hyper::server::conn::http1::Builder::new()
///                     .timer(BraidTimer)
///                     .serve_connection(BraidIo::new(stream), hello),
///             )
///             .detach();
///         }
///         #[allow(unreachable_code)]
///         std::io::Result::Ok(())
///     })
///     .detach();
///
///     let client = braid_hyper::client::<Empty<Bytes>>();
///     for _ in 0..3 {
///         let response = client.get(format!("http://{addr}/").parse()?).await?;
///         assert_eq!(response.into_body().collect().await?.to_bytes(), "hello");
///     }
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[track_caller]
pub fn client<B>() -> Client<BraidConnector, B>
where
    B: Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    Client::builder(CallerLoopExecutor::current())
        .timer(BraidTimer)
        .pool_timer(BraidTimer)
        .build(BraidConnector::new())
}

#[cfg(test)]
mod tests {
    use super::destination;
    use hyper::Uri;

    #[test]
    fn destination_reads_host_and_port_and_refuses_what_it_cannot_connect_to() {
        let at = |uri: &str| destination(&uri.parse().unwrap());
        assert_eq!(
            at("http://example.org/x").unwrap(),
            ("example.org".into(), 80)
        );
        assert_eq!(
            at("http://127.0.0.1:8080").unwrap(),
            ("127.0.0.1".into(), 8080)
        );
        assert_eq!(at("http://[::1]:9/").unwrap(), ("::1".into(), 9));
        let shouted = Uri::builder()
            .scheme("HTTP")
            .authority("example.org:81")
            .path_and_query("/")
            .build()
            .unwrap();
        assert_eq!(destination(&shouted).unwrap(), ("example.org".into(), 81));
        for bad in ["https://example.org/", "/just/a/path", "ftp://example.org/"] {
            let error = at(bad).unwrap_err();
            assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput, "{bad}");
            assert!(
                error.to_string().contains(bad.trim_end_matches('/')),
                "{error}"
            );
        }
    }
}
