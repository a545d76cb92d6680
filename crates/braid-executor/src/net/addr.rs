//! Socket addresses: [`ToSocketAddrs`], [`lookup_host`], and errors that name their address.
//!
//! `getaddrinfo` blocks for as long as the resolver takes (seconds, for a name server that
//! does not answer), so a host name is looked up on the blocking pool, as asyncio's
//! `getaddrinfo` and tokio's `lookup_host` do. An address that is already numeric is parsed
//! on the loop and never leaves it: most programs pass literals, and a thread hop per
//! `connect` or `send_to` would cost them for nothing.

use std::error::Error;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// What braid's sockets accept as an address: what `std::net::ToSocketAddrs` accepts.
///
/// A [`SocketAddr`], an IP address and port as a tuple, a `"host:port"` string, a
/// `(host, port)` tuple, or a slice of `SocketAddr`s. Strings and tuples whose host is an IP
/// literal (`"127.0.0.1:80"`, `("::1", 80)`) are parsed where they are used; a host name
/// (`"localhost:80"`, `("example.org", 443)`) is looked up on the blocking pool, off the loop
/// thread, like [`lookup_host`] does.
///
/// The trait is sealed: braid decides which values are looked up and which are parsed.
pub trait ToSocketAddrs: sealed::Sealed {}

pub(crate) mod sealed {
    use std::io;
    use std::net::SocketAddr;

    /// An address as given, before any name is looked up.
    #[derive(Debug)]
    pub enum Parsed {
        /// Nothing to look up.
        Addrs(Vec<SocketAddr>),
        /// One address, nothing to look up: the common case, kept free of allocation.
        One(SocketAddr),
        /// A host name to look up on the blocking pool.
        Name(String, u16),
    }

    /// How an address becomes [`Parsed`]; private, so only braid implements
    /// [`ToSocketAddrs`](super::ToSocketAddrs).
    pub trait Sealed {
        /// The address, parsed without blocking.
        ///
        /// # Errors
        ///
        /// `InvalidInput` for a string that is not `host:port`.
        fn parse(&self) -> io::Result<Parsed>;
    }
}

use sealed::{Parsed, Sealed};

macro_rules! to_socket_addrs {
    ($($ty:ty => |$this:ident| $parse:expr;)*) => {
        $(
            impl ToSocketAddrs for $ty {}

            impl Sealed for $ty {
                fn parse(&self) -> io::Result<Parsed> {
                    let $this = self;
                    $parse
                }
            }
        )*
    };
}

to_socket_addrs! {
    SocketAddr => |addr| Ok(Parsed::One(*addr));
    SocketAddrV4 => |addr| Ok(Parsed::One((*addr).into()));
    SocketAddrV6 => |addr| Ok(Parsed::One((*addr).into()));
    (IpAddr, u16) => |addr| Ok(Parsed::One((*addr).into()));
    (Ipv4Addr, u16) => |addr| Ok(Parsed::One((*addr).into()));
    (Ipv6Addr, u16) => |addr| Ok(Parsed::One((*addr).into()));
    (&str, u16) => |addr| Ok(parse_host(addr.0, addr.1));
    (String, u16) => |addr| Ok(parse_host(&addr.0, addr.1));
    str => |addr| parse_host_port(addr);
    String => |addr| parse_host_port(addr);
    [SocketAddr] => |addrs| Ok(Parsed::Addrs(addrs.to_vec()));
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {}

impl<T: ToSocketAddrs + ?Sized> Sealed for &T {
    fn parse(&self) -> io::Result<Parsed> {
        (**self).parse()
    }
}

/// `host` and `port`, with no lookup if `host` is an IP literal.
fn parse_host(host: &str, port: u16) -> Parsed {
    match host.parse::<IpAddr>() {
        Ok(ip) => Parsed::One(SocketAddr::new(ip, port)),
        Err(_) => Parsed::Name(host.to_owned(), port),
    }
}

/// A `"host:port"` string; an IPv6 literal is written in brackets, `"[::1]:80"`.
fn parse_host_port(addr: &str) -> io::Result<Parsed> {
    if let Ok(addr) = addr.parse::<SocketAddr>() {
        return Ok(Parsed::One(addr));
    }
    let invalid = |what: &str| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid socket address {addr:?}: {what}"),
        )
    };
    let (host, port) = addr
        .rsplit_once(':')
        .ok_or_else(|| invalid("expected host:port"))?;
    let port = port
        .parse()
        .map_err(|_| invalid("the port must be a number from 0 to 65535"))?;
    Ok(parse_host(host, port))
}

/// The addresses `addr` stands for, looking a host name up on the blocking pool.
///
/// # Errors
///
/// `InvalidInput` for a malformed address or a name with no addresses, and what the
/// resolver reports, in an error that names the host.
pub(crate) async fn resolve(addr: &(impl ToSocketAddrs + ?Sized)) -> io::Result<Addrs> {
    match addr.parse()? {
        Parsed::One(addr) => Ok(Addrs::One(Some(addr))),
        Parsed::Addrs(addrs) => Ok(Addrs::Many(addrs.into_iter())),
        Parsed::Name(host, port) => lookup_name(host, port).await,
    }
}

async fn lookup_name(host: String, port: u16) -> io::Result<Addrs> {
    let name = HostPort(host.clone(), port);
    let job = crate::spawn_blocking(move || {
        std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))
            .map(Iterator::collect::<Vec<_>>)
    });
    let addrs = match job.await {
        Ok(Ok(addrs)) => addrs,
        Ok(Err(error)) => {
            return Err(io::Error::new(
                error.kind(),
                AddrError {
                    context: "could not resolve ",
                    addr: name.to_string(),
                    error,
                },
            ))
        }
        Err(error) => {
            return Err(io::Error::other(format!(
                "could not resolve {name}: the lookup did not finish: {error}"
            )))
        }
    };
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("could not resolve {name}: it has no addresses"),
        ));
    }
    Ok(Addrs::Many(addrs.into_iter()))
}

/// A host and port as they were asked for, for error messages.
struct HostPort(String, u16);

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.contains(':') {
            write!(f, "[{}]:{}", self.0, self.1)
        } else {
            write!(f, "{}:{}", self.0, self.1)
        }
    }
}

/// What an address resolved to: an iterator of [`SocketAddr`]s.
#[derive(Debug)]
pub(crate) enum Addrs {
    One(Option<SocketAddr>),
    Many(std::vec::IntoIter<SocketAddr>),
}

impl Iterator for Addrs {
    type Item = SocketAddr;

    fn next(&mut self) -> Option<SocketAddr> {
        match self {
            Addrs::One(addr) => addr.take(),
            Addrs::Many(addrs) => addrs.next(),
        }
    }
}

/// Looks `host` up and returns the addresses it stands for (Python's `loop.getaddrinfo`,
/// tokio's `lookup_host`).
///
/// A host name is looked up with the system resolver (`getaddrinfo`) on the loop's blocking
/// pool, so a slow name server never holds up the loop's other tasks; the lookup counts in
/// [`Metrics::blocking_jobs`](crate::Metrics::blocking_jobs). An IP literal is parsed on the
/// spot, with no thread hop. [`TcpStream::connect`](super::TcpStream::connect) and the other
/// socket functions that take an address resolve it the same way.
///
/// # Errors
///
/// `InvalidInput` for a string that is not `host:port` or a name with no addresses, and what
/// the resolver reports, in an error whose message names the host
/// (`could not resolve nonexistent.invalid:80: ...`) and whose
/// [`source`](std::error::Error::source) is the resolver's own error.
///
/// # Panics
///
/// Outside a running braid event loop, when there is a name to look up.
///
/// # Examples
///
/// ```
/// braid_executor::run(async {
///     let addrs: Vec<_> = braid_executor::net::lookup_host("localhost:80").await?.collect();
///     assert!(addrs.iter().all(|addr| addr.ip().is_loopback() && addr.port() == 80));
///     let literal: Vec<_> = braid_executor::net::lookup_host(("127.0.0.1", 8080)).await?.collect();
///     assert_eq!(literal, ["127.0.0.1:8080".parse().unwrap()]);
///     std::io::Result::Ok(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn lookup_host(host: impl ToSocketAddrs) -> io::Result<impl Iterator<Item = SocketAddr>> {
    resolve(&host).await
}

/// `error`, its message now ending with the address it was about
/// (`connection refused (os error 111): 127.0.0.1:9`); same kind, and the original error as
/// its source.
pub(crate) fn about(error: io::Error, addr: SocketAddr) -> io::Error {
    io::Error::new(
        error.kind(),
        AddrError {
            context: "",
            addr: addr.to_string(),
            error,
        },
    )
}

/// An error about one address.
#[derive(Debug)]
struct AddrError {
    /// What was being done, before the address; empty to put the error first.
    context: &'static str,
    addr: String,
    error: io::Error,
}

impl fmt::Display for AddrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.context.is_empty() {
            // The system's messages are capitalised ("Connection refused"); this one goes on.
            let message = self.error.to_string();
            let mut chars = message.chars();
            if let Some(first) = chars.next() {
                write!(f, "{}{}", first.to_lowercase(), chars.as_str())?;
            }
            write!(f, ": {}", self.addr)
        } else {
            write!(f, "{}{}: {}", self.context, self.addr, self.error)
        }
    }
}

impl Error for AddrError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.error)
    }
}
