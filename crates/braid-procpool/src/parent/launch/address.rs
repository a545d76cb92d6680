//! Which address of this host workers on other machines connect to: the one on Slurm's
//! network for the Slurm launcher, and a real one in place of an unspecified listen address.

use std::io::{self, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The address this host uses to reach Slurm's controller: the interface Slurm's own
/// traffic takes, so the one its compute nodes can reach this host on. Asks `scontrol`
/// where the controller is, and the routing table which local address leads there (a UDP
/// `connect` sends nothing).
pub(crate) fn on_slurm_network() -> io::Result<IpAddr> {
    let config = scontrol_config()?;
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
    let ip = route_to(controller)?;
    if !ip.is_loopback() {
        return Ok(ip);
    }
    // The controller's name led to this host's loopback (a host name mapped to 127.0.1.1,
    // as Debian does): other nodes cannot reach that. Any other address of this host's is
    // a better guess; loopback is right only on a cluster of this one machine.
    Ok(reachable(ip).unwrap_or(ip))
}

/// How long `scontrol` may take to answer.
const SCONTROL_TIMEOUT: Duration = Duration::from_secs(10);

/// `scontrol show config`'s output, or why there is none; never waits longer than
/// [`SCONTROL_TIMEOUT`] for a controller that does not answer.
fn scontrol_config() -> io::Result<String> {
    let mut child = std::process::Command::new("scontrol")
        .args(["show", "config"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("running `scontrol show config`: {e}")))?;
    let deadline = Instant::now() + SCONTROL_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("`scontrol show config` did not answer within {SCONTROL_TIMEOUT:?}"),
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut out = String::new();
    let mut err = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        stdout.read_to_string(&mut out)?;
    }
    if let Some(mut stderr) = child.stderr.take() {
        let _ = stderr.read_to_string(&mut err);
    }
    if !status.success() {
        return Err(io::Error::other(format!(
            "`scontrol show config` failed ({status}): {}",
            err.trim()
        )));
    }
    Ok(out)
}

/// An address of this host, of `like`'s family where there is one, that is not loopback:
/// the first such of its interfaces.
fn reachable(like: IpAddr) -> Option<IpAddr> {
    let mut found = braid_sys::net::interface_addresses().ok()?;
    found.retain(|ip| !ip.is_loopback() && !is_link_local(ip));
    found
        .iter()
        .find(|ip| ip.is_ipv4() == like.is_ipv4())
        .or(found.first())
        .copied()
}

fn is_link_local(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => v6.segments()[0] & 0xffc0 == 0xfe80,
    }
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

/// An address of this host that others can reach, for a listener on every interface of
/// `like`'s family: the host name's, if it is not loopback; else the first of the
/// interfaces' that is not (of either family for IPv6, whose unspecified address takes
/// IPv4 connections too); loopback only where the host has nothing else.
pub(crate) fn this_host(like: IpAddr) -> io::Result<IpAddr> {
    let name = braid_sys::process::host_name()?;
    let named: Vec<IpAddr> = (name.as_str(), 0)
        .to_socket_addrs()
        .map(|found| found.map(|a| a.ip()).collect())
        .unwrap_or_default();
    let same_family = |ip: &IpAddr| ip.is_ipv4() == like.is_ipv4();
    if let Some(ip) = named.iter().find(|ip| same_family(ip) && !ip.is_loopback()) {
        return Ok(*ip);
    }
    if let Some(ip) = reachable(like).filter(|ip| same_family(ip) || like.is_ipv6()) {
        return Ok(ip);
    }
    Ok(match like {
        IpAddr::V4(_) => Ipv4Addr::LOCALHOST.into(),
        IpAddr::V6(_) => Ipv6Addr::LOCALHOST.into(),
    })
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
    fn this_host_has_an_address_others_can_reach() {
        let ip = this_host([0, 0, 0, 0].into()).unwrap();
        assert!(ip.is_ipv4() && !ip.is_unspecified(), "{ip}");
        // Loopback exactly when the host has no other IPv4 address.
        let others = braid_sys::net::interface_addresses().unwrap();
        let choice = others.iter().any(|o| o.is_ipv4() && !o.is_loopback());
        assert_eq!(
            ip.is_loopback(),
            !choice,
            "{ip}, with {others:?} to choose from"
        );
        // A dual-stack listener on [::] takes IPv4 connections: an IPv4 address will do
        // where the host has no IPv6 one.
        let v6 = this_host(Ipv6Addr::UNSPECIFIED.into()).unwrap();
        assert!(!v6.is_unspecified(), "{v6}");
    }
}
