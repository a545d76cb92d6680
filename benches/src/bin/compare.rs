//! `cargo run --release -p benches --bin compare [-- --quick]`: braid against the libraries a
//! user would otherwise pick, every layer, one table, plus JSON and an SVG chart.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use benches::{Machine, Python, Report, Settings, LAYERS, WORKERS};

const USAGE: &str = "\
usage: compare [--quick] [--only LAYER[,LAYER...]] [--out DIR] [--python CMD] [--no-python] [--no-install]

  --quick        smaller sizes and fewer samples: the whole run takes under two minutes
  --only LAYERS  run only these layers: poller, executor, echo, echo-cores, threadpool, procpool, procpool-remote, http
  --out DIR      where compare.json and compare.svg go (default: <target dir>/compare)
  --python CMD   the interpreter for the Python baselines (default: python3)
  --no-python    skip the Python baselines
  --no-install   do not try `pip install --user uvloop` when uvloop is missing";

#[derive(Debug)]
struct Options {
    quick: bool,
    only: Option<Vec<String>>,
    out: Option<PathBuf>,
    python: String,
    no_python: bool,
    no_install: bool,
    help: bool,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options, String> {
        let mut options = Options {
            quick: false,
            only: None,
            out: None,
            python: "python3".into(),
            no_python: false,
            no_install: false,
            help: false,
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = |flag: &str| {
                args.next()
                    .cloned()
                    .ok_or_else(|| format!("{flag} needs a value"))
            };
            match arg.as_str() {
                "--quick" => options.quick = true,
                "--only" => {
                    let keys: Vec<String> = value("--only")?
                        .split(',')
                        .map(|k| k.trim().to_string())
                        .collect();
                    if let Some(unknown) = keys
                        .iter()
                        .find(|k| !LAYERS.iter().any(|l| l.key == k.as_str()))
                    {
                        let known: Vec<&str> = LAYERS.iter().map(|l| l.key).collect();
                        return Err(format!(
                            "--only: no layer is called {unknown:?}; the layers are {}",
                            known.join(", ")
                        ));
                    }
                    options.only = Some(keys);
                }
                "--out" => options.out = Some(PathBuf::from(value("--out")?)),
                "--python" => options.python = value("--python")?,
                "--no-python" => options.no_python = true,
                "--no-install" => options.no_install = true,
                "-h" | "--help" => options.help = true,
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        Ok(options)
    }
}

/// `<target dir>/compare`: `CARGO_TARGET_DIR` when set, else the workspace's `target/`.
fn default_out() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let package = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
            let workspace = package.parent().map_or(package.clone(), PathBuf::from);
            workspace.join("target")
        });
    target.join("compare")
}

fn main() -> ExitCode {
    // Process-pool workers run this program again; in a worker this serves tasks and never
    // returns.
    braid_procpool::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(code) = benches::probe::serve(&args) {
        std::process::exit(code);
    }
    let options = match Options::parse(&args) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("compare: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if options.help {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }

    let started = Instant::now();
    let machine = Machine::detect();
    let mut settings = Settings::new(options.quick);
    settings.python = if options.no_python {
        Err("skipped with --no-python".into())
    } else {
        Python::find(&options.python)
    };
    settings.install_missing = !options.no_install;
    if cfg!(debug_assertions) {
        eprintln!(
            "compare: this is a debug build; run it with --release for numbers that mean something"
        );
    }
    eprintln!(
        "compare: {} run on {} cores ({}), Python: {}",
        if options.quick { "quick" } else { "full" },
        machine.cores,
        machine.cpu,
        settings
            .python
            .as_ref()
            .map_or_else(|why| why.clone(), |p| p.version().to_string()),
    );

    let mut layers = Vec::new();
    for layer in LAYERS {
        if let Some(only) = &options.only {
            if !only.iter().any(|key| key == layer.key) {
                continue;
            }
        }
        let layer_started = Instant::now();
        eprint!("compare: measuring {} ...", layer.name);
        layers.push((layer.measure)(&settings));
        eprintln!(" {:.1} s", layer_started.elapsed().as_secs_f64());
    }

    let report = Report {
        machine,
        quick: options.quick,
        python: settings.python.map(|p| p.version().to_string()),
        workers: WORKERS,
        layers,
        elapsed: started.elapsed(),
    };
    println!();
    print!("{}", report.table());
    let out = options.out.unwrap_or_else(default_out);
    match report.write(&out) {
        Ok([json, svg]) => {
            println!("wrote {} and {}", json.display(), svg.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "compare: could not write the report into {}: {e}",
                out.display()
            );
            ExitCode::FAILURE
        }
    }
}
