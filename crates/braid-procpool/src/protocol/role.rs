//! How the parent tells a process it ran again what to become: one environment variable
//! naming the role, whose value lists the descriptors it inherited and the parent's pid; or,
//! for a worker started by a command, where to connect, with the pool's secret in a second
//! variable (never on a command line, where every user of the machine can read it).

use std::ffi::{CString, OsString};
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStringExt;

use super::auth::Secret;

/// `task fd:result fd:parent pid`.
const WORKER_ENV: &str = "BRAID_PROCPOOL_WORKER";
/// `control fd:parent pid`.
const FORK_SERVER_ENV: &str = "BRAID_PROCPOOL_FORK_SERVER";
/// `worker id@address`: connect to the pool at the address and present the id.
pub(crate) const CONNECT_ENV: &str = "BRAID_PROCPOOL_CONNECT";
/// The pool's secret, in hexadecimal, for a worker that connects.
pub(crate) const SECRET_ENV: &str = "BRAID_PROCPOOL_SECRET";
/// The executable a launch command is to run (not read by the worker, only removed).
pub(crate) const EXE_ENV: &str = "BRAID_PROCPOOL_EXE";

/// What a process started by the pool is to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// Serve tasks from `task`, answer on `result`.
    Worker {
        task: RawFd,
        result: RawFd,
        parent: u32,
    },
    /// Fork workers on request over `control`.
    ForkServer { control: RawFd, parent: u32 },
    /// Connect to the pool at `addr`, prove knowledge of `secret` as worker `id`, then
    /// serve tasks over the connection.
    Connect {
        addr: SocketAddr,
        id: u64,
        secret: Secret,
    },
}

impl Role {
    /// The environment variables and values that carry this role.
    pub(crate) fn env(self) -> Vec<(&'static str, String)> {
        match self {
            Role::Worker {
                task,
                result,
                parent,
            } => vec![(WORKER_ENV, format!("{task}:{result}:{parent}"))],
            Role::ForkServer { control, parent } => {
                vec![(FORK_SERVER_ENV, format!("{control}:{parent}"))]
            }
            Role::Connect { addr, id, secret } => vec![
                (CONNECT_ENV, format!("{id}@{addr}")),
                (SECRET_ENV, secret.to_hex()),
            ],
        }
    }

    /// The descriptors the process must inherit.
    pub(crate) fn descriptors(self) -> Vec<RawFd> {
        match self {
            Role::Worker { task, result, .. } => vec![task, result],
            Role::ForkServer { control, .. } => vec![control],
            Role::Connect { .. } => Vec::new(),
        }
    }

    /// This role with its descriptors renumbered to `numbers`, in [`descriptors`]'s order:
    /// where the new process finds them.
    ///
    /// [`descriptors`]: Role::descriptors
    pub(crate) fn renumbered(self, numbers: &[RawFd]) -> Role {
        match (self, numbers) {
            (Role::Worker { parent, .. }, &[task, result]) => Role::Worker {
                task,
                result,
                parent,
            },
            (Role::ForkServer { parent, .. }, &[control]) => Role::ForkServer { control, parent },
            (role @ Role::Connect { .. }, []) => role,
            (role, _) => unreachable!(
                "{} descriptors renumbered to {} numbers",
                role.descriptors().len(),
                numbers.len()
            ),
        }
    }

    /// The role this process was started for, taken out of the environment (so programs it
    /// starts are not mistaken for pool processes); `None` for an ordinary start.
    ///
    /// # Errors
    ///
    /// A message naming the variable when its value is malformed.
    pub(crate) fn take_from_env() -> Option<Result<Role, String>> {
        if let Some(connect) = take_env(CONNECT_ENV) {
            let secret = take_secret_env(SECRET_ENV).map(Wiped);
            take_env(EXE_ENV);
            return Some(Role::connect_from_vars(
                &connect,
                secret.as_ref().map(|s| &s.0),
            ));
        }
        [WORKER_ENV, FORK_SERVER_ENV]
            .into_iter()
            .find_map(|name| Some(Role::from_var(name, &take_env(name)?)))
    }

    /// Reads a [`Role::Connect`] from its two variables' values.
    fn connect_from_vars(connect: &OsString, secret: Option<&OsString>) -> Result<Role, String> {
        let (id, addr) = connect
            .to_str()
            .and_then(|text| text.split_once('@'))
            .and_then(|(id, addr)| Some((id.parse().ok()?, addr.parse().ok()?)))
            .ok_or_else(|| format!("malformed {CONNECT_ENV}: {connect:?}"))?;
        let secret = secret
            .ok_or_else(|| format!("{CONNECT_ENV} is set but {SECRET_ENV} is not"))?
            .to_str()
            .and_then(Secret::from_hex)
            // The value is not repeated: it may be most of the secret.
            .ok_or_else(|| format!("malformed {SECRET_ENV}"))?;
        Ok(Role::Connect { addr, id, secret })
    }

    /// Reads the role that the variable `name` with `value` carries.
    fn from_var(name: &str, value: &OsString) -> Result<Role, String> {
        let malformed = || format!("malformed {name}: {value:?}");
        match name {
            WORKER_ENV => {
                let [task, result, parent] = parse::<3>(value).ok_or_else(malformed)?;
                Ok(Role::Worker {
                    task: task as RawFd,
                    result: result as RawFd,
                    parent: parent as u32,
                })
            }
            _ => {
                let [control, parent] = parse::<2>(value).ok_or_else(malformed)?;
                Ok(Role::ForkServer {
                    control: control as RawFd,
                    parent: parent as u32,
                })
            }
        }
    }

    /// Whether this process was started with a role that nobody has taken yet.
    pub(crate) fn pending_in_env() -> bool {
        [WORKER_ENV, FORK_SERVER_ENV, CONNECT_ENV]
            .into_iter()
            .any(|name| std::env::var_os(name).is_some())
    }
}

fn take_env(name: &str) -> Option<OsString> {
    let value = std::env::var_os(name)?;
    // `init` runs first in `main`, before the program could have started a thread that
    // reads the environment.
    std::env::remove_var(name);
    Some(value)
}

/// [`take_env`] for a variable whose value is secret: the value is also overwritten with
/// zeros where it lies in the process's memory.
///
/// Removing a variable only takes its entry out of the `environ` array; the text stays
/// where it was. For a variable the process started with, that is the block at the top of
/// the stack that the kernel shows in `/proc/PID/environ` for as long as the process runs,
/// to its user and to root, and that a core dump holds too.
fn take_secret_env(name: &str) -> Option<OsString> {
    let value = std::env::var_os(name)?;
    let c_name = CString::new(name).expect("a variable name has no NUL");
    // SAFETY: `c_name` is a NUL-terminated string. getenv returns null or a pointer to the
    // value's NUL-terminated text inside the environment, which is writable (the kernel's
    // block on the stack, or a string that setenv allocated) and stays put until the
    // variable is removed below. `init` runs first in `main`, so no other thread reads or
    // changes the environment meanwhile. The writes stay within the value, before its NUL,
    // and are volatile so that they are not dropped as dead stores.
    unsafe {
        let text = libc::getenv(c_name.as_ptr());
        if !text.is_null() {
            for i in 0..libc::strlen(text) {
                std::ptr::write_volatile(text.add(i), 0);
            }
        }
    }
    std::env::remove_var(name);
    Some(value)
}

/// A secret value taken from the environment, overwritten with zeros when dropped so that
/// the copy on the heap does not outlive its use either.
struct Wiped(OsString);

impl Drop for Wiped {
    fn drop(&mut self) {
        let mut bytes = std::mem::take(&mut self.0).into_vec();
        for byte in &mut bytes {
            // SAFETY: `byte` is a valid, exclusive reference into `bytes`; volatile so that
            // the writes to memory about to be freed are not dropped as dead stores.
            unsafe { std::ptr::write_volatile(byte, 0) };
        }
    }
}

fn parse<const N: usize>(value: &OsString) -> Option<[i64; N]> {
    let value = value.to_str()?;
    let mut out = [0i64; N];
    let mut parts = value.split(':');
    for slot in &mut out {
        *slot = parts.next()?.parse().ok()?;
    }
    parts.next().is_none().then_some(out)
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn a_role_survives_its_variable() {
        for role in [
            Role::Worker {
                task: 5,
                result: 9,
                parent: 4242,
            },
            Role::ForkServer {
                control: 3,
                parent: 1,
            },
        ] {
            let [(name, value)] = <[_; 1]>::try_from(role.env()).unwrap();
            assert_eq!(Role::from_var(name, &value.into()), Ok(role));
        }
        let connect = Role::Connect {
            addr: "127.0.0.1:4242".parse().unwrap(),
            id: 17,
            secret: Secret([7; 32]),
        };
        let [(c, connect_value), (s, secret_value)] = <[_; 2]>::try_from(connect.env()).unwrap();
        assert_eq!((c, s), (CONNECT_ENV, SECRET_ENV));
        let read = Role::connect_from_vars(&connect_value.into(), Some(&secret_value.into()));
        assert_eq!(read, Ok(connect));
    }

    #[test]
    fn a_renumbered_role_names_the_new_numbers_in_order_and_keeps_the_rest() {
        let worker = Role::Worker {
            task: 12,
            result: 3,
            parent: 4242,
        };
        let moved = worker.renumbered(&[4, 5]);
        assert_eq!(
            moved,
            Role::Worker {
                task: 4,
                result: 5,
                parent: 4242
            }
        );
        assert_eq!(moved.descriptors(), [4, 5]);
        let server = Role::ForkServer {
            control: 9,
            parent: 7,
        };
        assert_eq!(
            server.renumbered(&[3]),
            Role::ForkServer {
                control: 3,
                parent: 7
            }
        );
        let connect = Role::Connect {
            addr: "127.0.0.1:4242".parse().unwrap(),
            id: 17,
            secret: Secret([7; 32]),
        };
        assert_eq!(connect.renumbered(&[]), connect);
    }

    #[test]
    fn a_malformed_connect_role_is_refused_without_showing_the_secret() {
        let secret = OsString::from("ab".repeat(31));
        let error = Role::connect_from_vars(&"1@127.0.0.1:1".into(), Some(&secret)).unwrap_err();
        assert!(
            error.contains(SECRET_ENV) && !error.contains("abab"),
            "{error}"
        );
        for bad in ["127.0.0.1:1", "x@127.0.0.1:1", "1@nowhere", ""] {
            let error = Role::connect_from_vars(&bad.into(), Some(&secret)).unwrap_err();
            assert!(error.contains(CONNECT_ENV), "{error}");
        }
        let error = Role::connect_from_vars(&"1@127.0.0.1:1".into(), None).unwrap_err();
        assert!(error.contains(SECRET_ENV), "{error}");
    }

    #[test]
    fn malformed_values_are_refused() {
        for value in ["", "1:2", "1:2:3:4", "a:b:c", "1::3"] {
            assert_eq!(parse::<3>(&OsString::from(value)), None, "{value:?}");
        }
        assert_eq!(parse::<3>(&OsString::from("1:2:3")), Some([1, 2, 3]));
        assert_eq!(parse::<2>(&OsString::from("3:4:5")), None);
        let error = Role::from_var(WORKER_ENV, &OsString::from("1:2")).unwrap_err();
        assert!(error.contains(WORKER_ENV), "{error}");
    }
}
