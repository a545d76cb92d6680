//! The fork server's socket: requests carry a new worker's two pipe ends (`SCM_RIGHTS`),
//! reports say which worker was forked and which ended.
//!
//! A request is one byte with two descriptors attached (`braid_sys::fd::send_with_fds`). A report is 9 bytes: a tag, a
//! little-endian `u32` pid and an `i32` status in [`ExitStatus`]'s wire form.

use std::io;

use braid_sys::process::ExitStatus;

const FORKED: u8 = b'F';
const EXITED: u8 = b'X';
const REPORT_LEN: usize = 9;

/// What the fork server reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Report {
    /// The worker of the oldest unanswered request has this pid. The workers `Fork`'s
    /// template forks as it starts count as requests made before any other, in order.
    Forked(u32),
    /// A worker ended; the server reaped it.
    Exited(u32, ExitStatus),
}

impl Report {
    pub(crate) fn encode(self) -> [u8; REPORT_LEN] {
        let (tag, pid, status) = match self {
            Report::Forked(pid) => (FORKED, pid, 0),
            Report::Exited(pid, status) => (EXITED, pid, status.to_wire()),
        };
        let mut bytes = [0u8; REPORT_LEN];
        bytes[0] = tag;
        bytes[1..5].copy_from_slice(&pid.to_le_bytes());
        bytes[5..9].copy_from_slice(&status.to_le_bytes());
        bytes
    }

    /// Takes every whole report off the front of `buf`, leaving a partial one there.
    ///
    /// # Errors
    ///
    /// `InvalidData` for a report with an unknown tag: the server is not speaking this
    /// protocol, and nothing after it can be trusted.
    pub(crate) fn decode_all(buf: &mut Vec<u8>, out: &mut Vec<Report>) -> io::Result<()> {
        let whole = buf.len() / REPORT_LEN * REPORT_LEN;
        for report in buf[..whole].chunks_exact(REPORT_LEN) {
            let pid = u32::from_le_bytes(report[1..5].try_into().unwrap());
            let status = i32::from_le_bytes(report[5..9].try_into().unwrap());
            out.push(match report[0] {
                FORKED => Report::Forked(pid),
                EXITED => Report::Exited(pid, ExitStatus::from_wire(status)),
                tag => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("a fork server report with the unknown tag {tag:#04x}"),
                    ))
                }
            });
        }
        buf.drain(..whole);
        Ok(())
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn reports_survive_the_wire_whole_or_in_pieces() {
        let reports = [
            Report::Forked(7),
            Report::Exited(7, ExitStatus::signaled(libc::SIGKILL)),
            Report::Exited(u32::MAX, ExitStatus::exited(3)),
        ];
        let bytes: Vec<u8> = reports.iter().flat_map(|r| r.encode()).collect();
        let mut buf = bytes[..12].to_vec();
        let mut out = Vec::new();
        Report::decode_all(&mut buf, &mut out).unwrap();
        assert_eq!(out, reports[..1]);
        assert_eq!(buf.len(), 3, "the partial report waits for its rest");
        buf.extend_from_slice(&bytes[12..]);
        Report::decode_all(&mut buf, &mut out).unwrap();
        assert_eq!(out, reports);
        assert!(buf.is_empty());

        let mut garbled = vec![b'?'; REPORT_LEN];
        let error = Report::decode_all(&mut garbled, &mut out).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }
}
