//! Which address of this host workers on other machines connect to: the one on Slurm's
//! network for the Slurm launcher, and a real one in place of an unspecified listen address.

use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs, UdpSocket};

/// The address this host uses to reach Slurm's controller: the interface Slurm's own
/// traffic takes, so the one its compute nodes can reach this host on. Asks `scontrol`
/// where the controller is, and the routing table which local address leads there (a UDP
/// `connect` sends nothing).
pub(crate) fn on_slurm_network() -> io::Result<IpAddr> {
    let output = std::process::Command::new("scontrol")
        .args(["show", "config"])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| io::Error::new(e.kind(), format!("running `scontrol show config`: {e}")))?;
    if !output.status.success() {
        return Err(io::Error::other(format!(
            "`scontrol show config` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let config = String::from_utf8_lossy(&output.stdout);
    let (host, port) = controller(&config).ok_or_else(|| {
        io::Error::other("`scontrol show config` names no controller (SlurmctldHost)")
    })?;
    let controller = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("looking up Slurm's controller {host}: {e}"),
            )
        })?
        .next()
        .ok_or_else(|| io::Error::other(format!("Slurm's controller {host} has no address")))?;
    route_to(controller)
}

/// The local address the system would send from to reach `peer`.
fn route_to(peer: SocketAddr) -> io::Result<IpAddr> {
    let local: SocketAddr = match peer {
        SocketAddr::V4(_) => ([0, 0, 0, 0], 0).into(),
        SocketAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local)?;
    socket.connect(peer)?;
    Ok(socket.local_addr()?.ip())
}

/// The controller's host (its address where the configuration gives one) and port, out of
/// `scontrol show config`'s lines `SlurmctldHost[0] = name(address)` and
/// `SlurmctldPort = 6817`.
pub(crate) fn controller(config: &str) -> Option<(String, u16)> {
    let value = |key: &str| {
        config.lines().find_map(|line| {
            let (k, v) = line.split_once('=')?;
            (k.trim() == key).then(|| v.trim().to_owned())
        })
    };
    let host = value("SlurmctldHost[0]")?;
    let host = match host.split_once('(') {
        Some((_, address)) => address.trim_end_matches(')').to_owned(),
        None => host,
    };
    // A range (`6817-6818`) listens on each; the first does.
    let port = value("SlurmctldPort")
        .and_then(|p| p.split('-').next()?.trim().parse().ok())
        .unwrap_or(6817);
    (!host.is_empty()).then_some((host, port))
}

/// An address of this host of `like`'s family that others can reach: the host name's,
/// preferring one that is not loopback.
pub(crate) fn this_host(like: IpAddr) -> io::Result<IpAddr> {
    let name = braid_sys::process::host_name()?;
    let found: Vec<IpAddr> = (name.as_str(), 0)
        .to_socket_addrs()
        .map_err(|e| io::Error::new(e.kind(), format!("looking up this host ({name}): {e}")))?
        .map(|a| a.ip())
        .filter(|ip| ip.is_ipv4() == like.is_ipv4())
        .collect();
    found
        .iter()
        .find(|ip| !ip.is_loopback())
        .or(found.first())
        .copied()
        .ok_or_else(|| io::Error::other(format!("this host ({name}) has no address")))
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn the_controller_is_read_from_scontrols_lines() {
        let config = "Configuration data as of 2026-12-04T21:00:00\n\
                      AccountingStorageBackupHost = (null)\n\
                      SlurmctldHost[0]        = head(10.1.2.3)\n\
                      SlurmctldPort           = 6820-6821\n";
        assert_eq!(controller(config), Some(("10.1.2.3".into(), 6820)));
        let plain = "SlurmctldHost[0] = vm\n";
        assert_eq!(controller(plain), Some(("vm".into(), 6817)));
        assert_eq!(controller("SlurmctldPort = 1\n"), None);
    }

    #[test]
    fn the_route_to_loopback_starts_at_loopback() {
        let ip = route_to(([127, 0, 0, 1], 6817).into()).unwrap();
        assert!(ip.is_loopback(), "{ip}");
    }

    #[test]
    fn this_host_has_an_address_of_the_asked_family() {
        let ip = this_host([0, 0, 0, 0].into()).unwrap();
        assert!(ip.is_ipv4() && !ip.is_unspecified(), "{ip}");
    }
}
