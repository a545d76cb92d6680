//! What the system says about this host's network: the addresses of its interfaces.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The IPv4 and IPv6 addresses of this host's interfaces that are up (`getifaddrs`), in the
/// order the system lists them, loopback included.
///
/// # Errors
///
/// What `getifaddrs(3)` reports.
pub fn interface_addresses() -> io::Result<Vec<IpAddr>> {
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: `list` is a valid out-pointer; on success it points to a list that
    // `freeifaddrs` frees below, and nothing keeps a pointer into it past that.
    unsafe { crate::syscall!(getifaddrs(&mut list)) }?;
    let mut found = Vec::new();
    let mut entry = list;
    while !entry.is_null() {
        // SAFETY: `entry` is a node of the list `getifaddrs` made, not yet freed.
        let ifa = unsafe { &*entry };
        entry = ifa.ifa_next;
        let up = ifa.ifa_flags & libc::IFF_UP as libc::c_uint != 0;
        if !up || ifa.ifa_addr.is_null() {
            continue;
        }
        // SAFETY: a non-null `ifa_addr` points to a socket address whose family field
        // says which kind it is; each kind is read only as itself.
        let address = unsafe {
            match i32::from((*ifa.ifa_addr).sa_family) {
                libc::AF_INET => {
                    let sin = &*ifa.ifa_addr.cast::<libc::sockaddr_in>();
                    Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                        sin.sin_addr.s_addr,
                    ))))
                }
                libc::AF_INET6 => {
                    let sin6 = &*ifa.ifa_addr.cast::<libc::sockaddr_in6>();
                    Some(IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)))
                }
                _ => None,
            }
        };
        found.extend(address);
    }
    // SAFETY: `list` came from a successful `getifaddrs` and is freed once.
    unsafe { libc::freeifaddrs(list) };
    Ok(found)
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn the_interfaces_include_loopback_and_what_a_socket_can_bind() {
        let found = interface_addresses().unwrap();
        assert!(found.iter().any(|ip| ip.is_loopback()), "{found:?}");
        for ip in found.iter().filter(|ip| ip.is_ipv4()) {
            // Every address listed is this host's: a socket binds to it.
            std::net::UdpSocket::bind((*ip, 0)).unwrap_or_else(|e| panic!("{ip}: {e}"));
        }
    }
}
