//! The machine the comparison ran on: core count and CPU model.

/// What the table's header says about the machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Machine {
    /// Cores available to this process.
    pub cores: usize,
    /// The CPU model, or "unknown CPU".
    pub cpu: String,
    /// The operating system, as Rust names it.
    pub os: &'static str,
    /// The architecture, as Rust names it.
    pub arch: &'static str,
}

impl Machine {
    /// Looks the machine up.
    pub fn detect() -> Machine {
        Machine {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu: cpu_model().unwrap_or_else(|| "unknown CPU".into()),
            os: std::env::consts::OS,
            arch: std::env::consts::ARCH,
        }
    }
}

#[cfg(target_os = "linux")]
fn cpu_model() -> Option<String> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    model_from_cpuinfo(&cpuinfo)
}

#[cfg(not(target_os = "linux"))]
fn cpu_model() -> Option<String> {
    let key = if cfg!(target_os = "macos") {
        "machdep.cpu.brand_string"
    } else {
        "hw.model"
    };
    let output = std::process::Command::new("sysctl")
        .args(["-n", key])
        .output()
        .ok()?;
    let model = String::from_utf8_lossy(&output.stdout).trim().to_string();
    (output.status.success() && !model.is_empty()).then_some(model)
}

/// The CPU model in `/proc/cpuinfo` text: `model name` on x86, else `Model` or `Hardware`
/// (ARM boards), else nothing.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn model_from_cpuinfo(cpuinfo: &str) -> Option<String> {
    ["model name", "Model", "Hardware", "cpu model"]
        .iter()
        .find_map(|key| {
            cpuinfo.lines().find_map(|line| {
                let (name, value) = line.split_once(':')?;
                (name.trim() == *key && !value.trim().is_empty()).then(|| value.trim().to_string())
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpuinfo_model_name_is_found() {
        let text = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\n\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n";
        assert_eq!(model_from_cpuinfo(text).as_deref(), Some("AMD EPYC 7B13"));
    }

    #[test]
    fn cpuinfo_without_a_model_gives_none() {
        assert_eq!(model_from_cpuinfo("processor\t: 0\nflags\t: fpu\n"), None);
    }

    #[test]
    fn detect_reports_at_least_one_core() {
        let machine = Machine::detect();
        assert!(machine.cores >= 1);
        assert!(!machine.cpu.is_empty());
    }
}
