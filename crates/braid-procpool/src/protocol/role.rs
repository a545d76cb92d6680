//! How the parent tells a process it ran again what to become: one environment variable
//! naming the role, whose value lists the descriptors it inherited and the parent's pid.

use std::ffi::OsString;
use std::os::fd::RawFd;

/// `task fd:result fd:parent pid`.
const WORKER_ENV: &str = "BRAID_PROCPOOL_WORKER";
/// `control fd:parent pid`.
const FORK_SERVER_ENV: &str = "BRAID_PROCPOOL_FORK_SERVER";

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
}

impl Role {
    /// The environment variable and value that carry this role.
    pub(crate) fn env(self) -> (&'static str, String) {
        match self {
            Role::Worker {
                task,
                result,
                parent,
            } => (WORKER_ENV, format!("{task}:{result}:{parent}")),
            Role::ForkServer { control, parent } => {
                (FORK_SERVER_ENV, format!("{control}:{parent}"))
            }
        }
    }

    /// The descriptors the process must inherit.
    pub(crate) fn descriptors(self) -> Vec<RawFd> {
        match self {
            Role::Worker { task, result, .. } => vec![task, result],
            Role::ForkServer { control, .. } => vec![control],
        }
    }

    /// The role this process was started for, taken out of the environment (so programs it
    /// starts are not mistaken for pool processes); `None` for an ordinary start.
    ///
    /// # Errors
    ///
    /// A message naming the variable when its value is malformed.
    pub(crate) fn take_from_env() -> Option<Result<Role, String>> {
        [WORKER_ENV, FORK_SERVER_ENV]
            .into_iter()
            .find_map(|name| Some(Role::from_var(name, &take_env(name)?)))
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
        std::env::var_os(WORKER_ENV).is_some() || std::env::var_os(FORK_SERVER_ENV).is_some()
    }
}

fn take_env(name: &str) -> Option<OsString> {
    let value = std::env::var_os(name)?;
    // `init` runs first in `main`, before the program could have started a thread that
    // reads the environment.
    std::env::remove_var(name);
    Some(value)
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
            let (name, value) = role.env();
            assert_eq!(Role::from_var(name, &value.into()), Ok(role));
        }
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
