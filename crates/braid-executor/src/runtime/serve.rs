//! A TCP server whose connections are spread over the runtime's loops: [`Runtime::serve`].

use std::fmt;
use std::future::Future;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use super::spawn_on::BuiltOnLoop;
use super::{Balance, Runtime};
use crate::event_loop::context;
use crate::net::{bind_std, each_addr, TcpListener, TcpStream};
use crate::{Handle, Task};

/// How long a loop waits before accepting again after an error such as running out of file
/// descriptors, which retrying at once would only repeat.
const ACCEPT_RETRY_PAUSE: Duration = Duration::from_millis(50);

impl Runtime {
    /// Listens on `addr` and runs `handler` for every connection, on the loop that accepted
    /// it (Python's `asyncio.start_server`, on every loop at once).
    ///
    /// The connections are spread over the loops as the runtime's [`Balance`] says. Each one
    /// becomes a task on its loop, made by `handler`, and stays there: the future may hold
    /// `Rc`s and other `!Send` values, and no lock or thread hand-off sits between it and its
    /// socket. The task's output is dropped, so deal with errors inside it; a panic in it
    /// ends that connection only.
    ///
    /// Every loop gets its own clone of `handler` (with [`Balance::RoundRobin`], one per
    /// connection handed to another loop). Accept errors (out of file descriptors, say) are
    /// logged with `tracing` and retried a little later. The server accepts until the
    /// returned [`Server`] is stopped or dropped, or the runtime shuts down.
    ///
    /// # Errors
    ///
    /// `AddrInUse` if another socket listens there, `AddrNotAvailable` for an address that is
    /// not local, what name resolution reports, and an error if the loops that should accept
    /// have ended.
    ///
    /// # Examples
    ///
    /// ```
    /// use braid_executor::net::TcpStream;
    /// use braid_executor::Runtime;
    ///
    /// let runtime = Runtime::builder().loops(2).build()?;
    /// let server = runtime.serve("127.0.0.1:0", |stream: TcpStream| async move {
    ///     stream.send_all(b"hello\n").await
    /// })?;
    /// let mut greeting = String::new();
    /// let client = std::net::TcpStream::connect(server.local_addr())?;
    /// std::io::Read::read_to_string(&mut &client, &mut greeting)?;
    /// assert_eq!(greeting, "hello\n");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn serve<A, H, Fut>(&self, addr: A, handler: H) -> io::Result<Server>
    where
        A: ToSocketAddrs,
        H: Fn(TcpStream) -> Fut + Clone + Send + 'static,
        Fut: Future + 'static,
        Fut::Output: 'static,
    {
        match self.balance {
            Balance::ReusePort => self.serve_on_every_loop(addr, handler),
            Balance::RoundRobin => self.serve_round_robin(addr, handler),
        }
    }

    fn serve_on_every_loop<H, Fut>(
        &self,
        addr: impl ToSocketAddrs,
        handler: H,
    ) -> io::Result<Server>
    where
        H: Fn(TcpStream) -> Fut + Clone + Send + 'static,
        Fut: Future + 'static,
        Fut::Output: 'static,
    {
        let listeners = bind_listeners(addr, self.loops())?;
        let local_addr = listeners[0].local_addr()?;
        let mut acceptors = Vec::with_capacity(listeners.len());
        let mut last_error = None;
        for (index, listener) in listeners.into_iter().enumerate() {
            let handler = handler.clone();
            // A loop that has ended drops its listener with the closure; the kernel then
            // leaves that socket out, and the other loops take its share.
            match self.spawn_on(index, move || accept_here(listener, handler)) {
                Ok(task) => acceptors.push(task),
                Err(error) => last_error = Some(error),
            }
        }
        if let (true, Some(error)) = (acceptors.is_empty(), last_error) {
            return Err(io::Error::other(error));
        }
        Ok(Server {
            local_addr,
            acceptors,
        })
    }

    fn serve_round_robin<H, Fut>(&self, addr: impl ToSocketAddrs, handler: H) -> io::Result<Server>
    where
        H: Fn(TcpStream) -> Fut + Clone + Send + 'static,
        Fut: Future + 'static,
        Fut::Output: 'static,
    {
        let listener = bind_listeners(addr, 1)?.remove(0);
        let local_addr = listener.local_addr()?;
        let handles: Vec<Handle> = self.loops.iter().map(|lp| lp.handle.clone()).collect();
        let acceptor = self
            .spawn_on(0, move || accept_and_deal(listener, handler, handles))
            .map_err(io::Error::other)?;
        Ok(Server {
            local_addr,
            acceptors: vec![acceptor],
        })
    }
}

/// Binds `count` listening sockets to one address (the first that `addr` resolves to and
/// that works): with `SO_REUSEPORT` when there are several, the others bound to the port
/// the first one got (which matters for port 0).
fn bind_listeners(
    addr: impl ToSocketAddrs,
    count: usize,
) -> io::Result<Vec<std::net::TcpListener>> {
    each_addr(addr.to_socket_addrs()?, |addr| {
        let first = bind_std(addr, count > 1)?;
        let addr = first.local_addr()?;
        let mut listeners = Vec::with_capacity(count);
        listeners.push(first);
        for _ in 1..count {
            listeners.push(bind_std(addr, true)?);
        }
        Ok(listeners)
    })
}

/// Accepts on this loop and runs each connection here.
async fn accept_here<H, Fut>(listener: std::net::TcpListener, handler: H)
where
    H: Fn(TcpStream) -> Fut,
    Fut: Future + 'static,
    Fut::Output: 'static,
{
    let listener = match TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!("braid runtime: a loop could not listen: {error}");
            return;
        }
    };
    loop {
        match listener.accept().await {
            Ok((stream, _)) => crate::spawn(handler(stream)).detach(),
            Err(error) => pause_after(error).await,
        }
    }
}

/// Accepts on this loop (loop 0) and deals the connections to every loop in turn.
async fn accept_and_deal<H, Fut>(listener: std::net::TcpListener, handler: H, loops: Vec<Handle>)
where
    H: Fn(TcpStream) -> Fut + Clone + Send + 'static,
    Fut: Future + 'static,
    Fut::Output: 'static,
{
    let listener = match TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!("braid runtime: the accepting loop could not listen: {error}");
            return;
        }
    };
    let mut next = 0;
    loop {
        let stream = match listener.accept_std().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                pause_after(error).await;
                continue;
            }
        };
        let target = next_open_loop(&loops, &mut next);
        if target == 0 {
            match TcpStream::from_std(stream) {
                Ok(stream) => crate::spawn(handler(stream)).detach(),
                Err(error) => tracing::warn!("braid runtime: dropped a connection: {error}"),
            }
            continue;
        }
        let handler = handler.clone();
        let handed = loops[target].spawn(BuiltOnLoop::new(move || async move {
            match TcpStream::from_std(stream) {
                Ok(stream) => drop(handler(stream).await),
                Err(error) => tracing::warn!("braid runtime: dropped a connection: {error}"),
            }
        }));
        match handed {
            Ok(task) => task.detach(),
            Err(error) => {
                tracing::warn!("braid runtime: dropped a connection for loop {target}: {error}")
            }
        }
    }
}

/// The loop at `next` or after it (cyclically) whose thread still runs, and moves `next`
/// past it; loop 0, which runs the caller, if none of the others does. A connection dealt to
/// a loop that has died would only be dropped there.
fn next_open_loop(loops: &[Handle], next: &mut usize) -> usize {
    for _ in 0..loops.len() {
        let index = *next;
        *next = (index + 1) % loops.len();
        if index == 0 || !loops[index].is_closed() {
            return index;
        }
    }
    0
}

async fn pause_after(error: io::Error) {
    // The peer gave up before the connection was accepted: nothing is wrong here.
    if matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::warn!(
        "braid runtime: accepting a connection failed: {error}; retrying in {ACCEPT_RETRY_PAUSE:?}"
    );
    crate::sleep(ACCEPT_RETRY_PAUSE).await;
}

/// A running [`Runtime::serve`]; stopping or dropping it stops accepting.
///
/// Connections already accepted carry on: they are tasks of their loops, which end with
/// the runtime.
///
/// # Examples
///
/// ```
/// use braid_executor::Runtime;
///
/// let runtime = Runtime::builder().loops(2).build()?;
/// let server = runtime.serve("127.0.0.1:0", |_stream| async {})?;
/// let addr = server.local_addr();
/// server.stop();
/// assert!(std::net::TcpStream::connect(addr).is_err());
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use = "dropping a Server stops it; keep it for as long as it should accept"]
pub struct Server {
    local_addr: SocketAddr,
    /// One per listening loop.
    acceptors: Vec<Task<()>>,
}

impl Server {
    /// The address the server listens on (with the port the system chose for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting: the listening sockets are closed when this returns, so new
    /// connections are refused.
    ///
    /// Called on a thread that runs an event loop (from a task) it cannot wait without
    /// stalling that loop, so there it only asks, and the sockets close when their loops next
    /// turn.
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        for acceptor in &self.acceptors {
            acceptor.cancel();
        }
        if context::with_current(|core| core.is_some()) {
            return;
        }
        for acceptor in &self.acceptors {
            // A cancelled task finishes once its loop has dropped the future (and with it the
            // listener), or at once if the loop has ended.
            braid_threadpool::block_on(std::future::poll_fn(|cx| acceptor.poll_finished(cx)));
        }
    }
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("listening_loops", &self.acceptors.len())
            .finish()
    }
}
