//! What code adapting braid's sockets to other libraries needs: their descriptors.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use super::{TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream};

/// Implements `AsFd` and `AsRawFd` for socket types with a `source` field.
macro_rules! descriptor {
    ($($socket:ty),*) => {
        $(
            impl AsFd for $socket {
                fn as_fd(&self) -> BorrowedFd<'_> {
                    self.source.get_ref().as_fd()
                }
            }

            impl AsRawFd for $socket {
                fn as_raw_fd(&self) -> RawFd {
                    self.source.get_ref().as_raw_fd()
                }
            }
        )*
    };
}

descriptor!(TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream);
