//! Reading an example's command line: positional arguments with defaults, `--flags`, and a
//! usage message instead of a panic when something is wrong.

use std::fmt::Display;
use std::str::FromStr;

/// The arguments of an example, read one by one in order.
///
/// A bad or extra argument prints what was wrong and the usage line to stderr and exits
/// with status 2, the convention of command-line tools; `-h` or `--help` prints the usage
/// and exits with 0.
///
/// # Examples
///
/// ```
/// use examples::cli::Args;
///
/// let mut args = Args::from_vec("demo [COUNT]", vec!["12".to_string()]);
/// let count: u32 = args.next_or("COUNT", 5);
/// args.finish();
/// assert_eq!(count, 12);
/// ```
#[derive(Debug)]
pub struct Args {
    usage: &'static str,
    rest: std::collections::VecDeque<String>,
}

impl Args {
    /// The arguments this process was started with (without the program name).
    pub fn from_env(usage: &'static str) -> Args {
        Args::from_vec(usage, std::env::args().skip(1).collect())
    }

    /// The given arguments; `usage` is printed, after `usage: `, when they are wrong.
    pub fn from_vec(usage: &'static str, args: Vec<String>) -> Args {
        let args = Args {
            usage,
            rest: args.into(),
        };
        if args.rest.iter().any(|a| a == "-h" || a == "--help") {
            println!("usage: {usage}");
            std::process::exit(0);
        }
        args
    }

    /// Removes `flag` (such as `--quick`) wherever it appears; whether it was there.
    pub fn flag(&mut self, flag: &str) -> bool {
        let before = self.rest.len();
        self.rest.retain(|a| a != flag);
        self.rest.len() != before
    }

    /// The next positional argument parsed as `T`, or `default` if there is none.
    pub fn next_or<T>(&mut self, name: &str, default: T) -> T
    where
        T: FromStr,
        T::Err: Display,
    {
        match self.rest.pop_front() {
            None => default,
            Some(text) => self.parse(name, &text),
        }
    }

    /// All remaining arguments, each parsed as `T`.
    pub fn rest<T>(&mut self, name: &str) -> Vec<T>
    where
        T: FromStr,
        T::Err: Display,
    {
        let texts: Vec<String> = self.rest.drain(..).collect();
        texts.iter().map(|text| self.parse(name, text)).collect()
    }

    fn parse<T>(&self, name: &str, text: &str) -> T
    where
        T: FromStr,
        T::Err: Display,
    {
        text.parse().unwrap_or_else(|error| {
            self.fail(&format!(
                "{name} must be {} ({error}): {text:?}",
                kind::<T>()
            ))
        })
    }

    /// Checks that every argument was used.
    pub fn finish(self) {
        if let Some(extra) = self.rest.front() {
            self.fail(&format!("unexpected argument {extra:?}"));
        }
    }

    /// Prints `problem` and the usage line, and exits with status 2.
    pub fn fail(&self, problem: &str) -> ! {
        eprintln!("error: {problem}\nusage: {}", self.usage);
        std::process::exit(2)
    }
}

/// What kind of value a type wants, for error messages.
fn kind<T>() -> &'static str {
    let name = std::any::type_name::<T>();
    if name.contains("SocketAddr") {
        "an address like 127.0.0.1:8080"
    } else if ["u8", "u16", "u32", "u64", "usize"]
        .iter()
        .any(|t| name.ends_with(t))
    {
        "a whole number"
    } else if name.ends_with("f64") {
        "a number"
    } else {
        "valid"
    }
}
