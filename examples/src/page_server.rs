//! A web server inside the process, so the I/O examples need no setup and no network.
//!
//! It runs braid's event loop on a thread of its own and answers `GET /page/N` after a
//! simulated delay, the way a real server takes a few milliseconds to answer
//! ([`PageServer::start`]), or answers with what a handler of yours gives
//! ([`PageServer::serve`]; the link checker's site is one). One thread serves any number of
//! connections at once: each is a task that is paused while it waits.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use braid::executor::net::TcpListener;
use braid::executor::sync::Event;
use braid::executor::{run, sleep, spawn};
use futures::future::{select, Either};

use crate::http::{serve_connection, Request, Response, Url};

/// How big each page's body is.
pub const PAGE_SIZE: usize = 2048;

/// A running page server; dropping it stops the server and joins its thread.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use examples::{http, page_server::PageServer};
///
/// let server = PageServer::start(Duration::from_millis(1))?;
/// let page = http::get_blocking(&server.url("/page/7"))?;
/// assert_eq!(page.status, 200);
/// assert_eq!(page.body.len(), examples::page_server::PAGE_SIZE);
/// assert_eq!(http::get_blocking(&server.url("/nope"))?.status, 404);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct PageServer {
    addr: SocketAddr,
    stop: Arc<Event>,
    thread: Option<JoinHandle<()>>,
}

impl PageServer {
    /// Starts a server on a free port of 127.0.0.1 that waits `latency` before each answer.
    ///
    /// # Errors
    ///
    /// If the port cannot be bound or the thread cannot be started.
    pub fn start(latency: Duration) -> std::io::Result<PageServer> {
        PageServer::serve(move |request: Request| async move {
            sleep(latency).await; // the "database query"
            page(&request.path)
        })
    }

    /// Starts a server on a free port of 127.0.0.1 that answers each request with what
    /// `handler` gives; the handler runs on the server's own event loop, so it may `sleep`
    /// or await anything else of braid's.
    ///
    /// # Errors
    ///
    /// If the port cannot be bound or the thread cannot be started.
    ///
    /// # Examples
    ///
    /// ```
    /// use examples::http::{self, Response};
    /// use examples::page_server::PageServer;
    ///
    /// let server = PageServer::serve(|request| async move {
    ///     Response { status: 200, body: request.path.into_bytes() }
    /// })?;
    /// assert_eq!(http::get_blocking(&server.url("/echo"))?.body, b"/echo");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn serve<H, F>(handler: H) -> std::io::Result<PageServer>
    where
        H: Fn(Request) -> F + Clone + Send + 'static,
        F: Future<Output = Response> + 'static,
    {
        let stop = Arc::new(Event::new());
        let stopped = Arc::clone(&stop);
        // The socket is bound on the server's loop (braid's listener queues up to 1024
        // connections not yet accepted, so a burst of clients is not turned away), and its
        // address, or the error, comes back before the first client connects.
        let (bound, address) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("page-server".into())
            .spawn(move || {
                run(async move {
                    let listener = match TcpListener::bind("127.0.0.1:0").await {
                        Ok(listener) => listener,
                        Err(error) => return drop(bound.send(Err(error))),
                    };
                    let _ = bound.send(listener.local_addr());
                    let serving = std::pin::pin!(accept_loop(listener, handler));
                    let stopping = std::pin::pin!(stopped.wait());
                    if let Either::Left((Err(error), _)) = select(serving, stopping).await {
                        eprintln!("page server stopped: {error}");
                    }
                    // Leaving `run` cancels the connections still open.
                })
            })?;
        let addr = address.recv().map_err(|_| {
            std::io::Error::other("the page server's thread ended before it listened")
        })??;
        Ok(PageServer {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> Url {
        Url {
            host: self.addr.ip().to_string(),
            port: self.addr.port(),
            path: path.to_string(),
        }
    }
}

impl Drop for PageServer {
    fn drop(&mut self) {
        // An `Event` may be set from any thread: the loop's waker wakes the server thread.
        self.stop.set();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn accept_loop<H, F>(listener: TcpListener, handler: H) -> std::io::Result<()>
where
    H: Fn(Request) -> F + Clone + 'static,
    F: Future<Output = Response> + 'static,
{
    loop {
        let (stream, _) = listener.accept().await?;
        let handler = handler.clone();
        spawn(async move {
            // A client that goes away mid-request is its own business, not the server's.
            let _ = serve_connection(stream, handler).await;
        })
        .detach();
    }
}

/// The page at `path`: `/page/N` for any number N, 404 for anything else.
fn page(path: &str) -> Response {
    let number = path
        .strip_prefix("/page/")
        .and_then(|n| n.parse::<u64>().ok());
    match number {
        Some(n) => {
            let line = format!("This is page {n}.\n");
            let body = line.bytes().cycle().take(PAGE_SIZE).collect();
            Response { status: 200, body }
        }
        None => Response {
            status: 404,
            body: b"no such page\n".to_vec(),
        },
    }
}
