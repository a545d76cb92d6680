//! The settings `#[braid::main(...)]` takes, read from the attribute's arguments.
//!
//! Each is `name = literal`, and becomes a call on `braid::executor::EventLoop::builder()`.
//! Anything wrong is reported at the token that is wrong, with what would be right.

use proc_macro::{Delimiter, Span, TokenStream, TokenTree};

/// The names `#[braid::main]` knows, for error messages.
const KNOWN: &str = "blocking_threads, slow_poll_threshold, shutdown_timeout, yield_before_sleep";

/// A mistake in the arguments: where, and what to say.
pub(crate) type Mistake = (Span, String);

/// What the attribute asked for; `None` leaves the loop's default.
#[derive(Default)]
pub(crate) struct Settings {
    blocking_threads: Option<u64>,
    slow_poll_threshold: Option<Length>,
    shutdown_timeout: Option<Length>,
    yield_before_sleep: Option<bool>,
}

/// A duration as written: a length, or `Duration::MAX` ("off" or "forever").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Length {
    Of { secs: u64, nanos: u32 },
    Endless,
}

impl Settings {
    pub(crate) fn parse(args: TokenStream) -> Result<Settings, Mistake> {
        let mut settings = Settings::default();
        let mut tokens = args.into_iter().peekable();
        while let Some(token) = tokens.next() {
            let TokenTree::Ident(name) = token else {
                return Err((
                    token.span(),
                    format!("expected a setting such as `blocking_threads = 32`; #[braid::main] takes {KNOWN}"),
                ));
            };
            let key = name.to_string();
            match tokens.next() {
                Some(TokenTree::Punct(p)) if p.as_char() == '=' => {}
                other => {
                    return Err((
                        other.map_or(name.span(), |t| t.span()),
                        format!("expected `=` after `{key}`, as in `{key} = ...`"),
                    ))
                }
            }
            let value = match tokens.next() {
                // A literal from a macro_rules expansion arrives wrapped in an invisible group.
                Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::None => {
                    let mut inner = g.stream().into_iter();
                    match (inner.next(), inner.next()) {
                        (Some(only), None) => only,
                        _ => return Err((g.span(), format!("`{key}` takes a literal value"))),
                    }
                }
                Some(token) => token,
                None => return Err((name.span(), format!("`{key} =` needs a value"))),
            };
            settings.set(&key, name.span(), &value)?;
            match tokens.next() {
                None => break,
                Some(TokenTree::Punct(p)) if p.as_char() == ',' => {}
                Some(other) => {
                    return Err((other.span(), "expected `,` between settings".to_owned()))
                }
            }
        }
        Ok(settings)
    }

    fn set(&mut self, key: &str, key_span: Span, value: &TokenTree) -> Result<(), Mistake> {
        let text = value.to_string();
        let span = value.span();
        let fresh = match key {
            "blocking_threads" => {
                if text == "-" {
                    return Err((span, "`blocking_threads` must be at least 1".to_owned()));
                }
                let threads = parse_count(&text).map_err(|why| (span, why))?;
                self.blocking_threads.replace(threads).is_none()
            }
            "slow_poll_threshold" => {
                let length = parse_length(&text, "off").map_err(|why| (span, why))?;
                self.slow_poll_threshold.replace(length).is_none()
            }
            "shutdown_timeout" => {
                let length = parse_length(&text, "forever").map_err(|why| (span, why))?;
                self.shutdown_timeout.replace(length).is_none()
            }
            "yield_before_sleep" => {
                let on = match text.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err((
                            span,
                            format!("`yield_before_sleep` is `true` or `false`, not `{text}`"),
                        ))
                    }
                };
                self.yield_before_sleep.replace(on).is_none()
            }
            _ => {
                return Err((
                    key_span,
                    format!("#[braid::main] has no setting `{key}`; it takes {KNOWN}"),
                ))
            }
        };
        if fresh {
            Ok(())
        } else {
            Err((key_span, format!("`{key}` is set twice")))
        }
    }

    /// `::braid::executor::EventLoop::builder()` with a call for each setting given.
    pub(crate) fn builder(&self) -> TokenStream {
        let mut code = String::from("::braid::executor::EventLoop::builder()");
        if let Some(threads) = self.blocking_threads {
            code += &format!(".blocking_threads({threads}usize)");
        }
        if let Some(length) = self.slow_poll_threshold {
            code += &format!(".slow_poll_threshold({})", length.code());
        }
        if let Some(length) = self.shutdown_timeout {
            code += &format!(".shutdown_timeout({})", length.code());
        }
        if let Some(on) = self.yield_before_sleep {
            code += &format!(".yield_before_sleep({on})");
        }
        code.parse().expect("the builder expression is valid Rust")
    }
}

impl Length {
    fn code(self) -> String {
        match self {
            Length::Of { secs, nanos } => {
                format!("::core::time::Duration::new({secs}u64, {nanos}u32)")
            }
            Length::Endless => "::core::time::Duration::MAX".to_owned(),
        }
    }
}

/// A whole number of at least 1, as written in Rust (`32`, `1_024`, `32usize`).
pub(crate) fn parse_count(text: &str) -> Result<u64, String> {
    let digits = text.strip_suffix("usize").unwrap_or(text).replace('_', "");
    match digits.parse::<u64>() {
        Ok(0) => Err("`blocking_threads` must be at least 1".to_owned()),
        Ok(n) if usize::try_from(n).is_ok() => Ok(n),
        _ => Err(format!(
            "`blocking_threads` takes a whole number such as `32`, not `{text}`"
        )),
    }
}

/// A string literal holding a number and a unit (`"50ms"`, `"1.5s"`, `"250us"`), or the word
/// `endless` for `Duration::MAX`.
pub(crate) fn parse_length(literal: &str, endless: &str) -> Result<Length, String> {
    let usage = format!(
        "write a duration as a string of a number and a unit: \"50ms\", \"2s\", \"1.5s\", \"100us\", \"10ns\", \"5min\" (or \"{endless}\"), not {literal}"
    );
    let Some(text) = literal
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
    else {
        return Err(usage);
    };
    let text = text.trim();
    if text == endless {
        return Ok(Length::Endless);
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(text.len());
    let (number, unit) = (text[..split].replace('_', ""), text[split..].trim());
    let nanos_per_unit: u128 = match unit {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "min" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return Err(usage),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((&number, ""));
    if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
        return Err(usage);
    }
    let parse = |digits: &str| -> Result<u128, String> {
        if digits.is_empty() {
            Ok(0)
        } else {
            digits.parse::<u128>().map_err(|_| usage.clone())
        }
    };
    // Whole part times the unit, plus the fraction's digits scaled to the unit, exactly.
    let mut nanos = parse(whole)?
        .checked_mul(nanos_per_unit)
        .ok_or_else(|| format!("{literal} is longer than a `Duration` can hold"))?;
    let fraction = fraction.trim_end_matches('0');
    if !fraction.is_empty() {
        let scale = 10u128
            .checked_pow(u32::try_from(fraction.len()).map_err(|_| usage.clone())?)
            .ok_or_else(|| usage.clone())?;
        let part = parse(fraction)?
            .checked_mul(nanos_per_unit)
            .ok_or_else(|| usage.clone())?;
        if part % scale != 0 {
            return Err(format!(
                "{literal} is finer than a nanosecond; a duration counts whole nanoseconds"
            ));
        }
        nanos += part / scale;
    }
    let too_long = || format!("{literal} is longer than a `Duration` can hold");
    let secs = u64::try_from(nanos / 1_000_000_000).map_err(|_| too_long())?;
    let nanos = u32::try_from(nanos % 1_000_000_000).expect("below a second");
    Ok(Length::Of { secs, nanos })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(text: &str) -> Result<Length, String> {
        parse_length(&format!("\"{text}\""), "off")
    }

    fn length(secs: u64, nanos: u32) -> Length {
        Length::Of { secs, nanos }
    }

    #[test]
    fn durations_in_every_unit() {
        assert_eq!(of("50ms"), Ok(length(0, 50_000_000)));
        assert_eq!(of("2s"), Ok(length(2, 0)));
        assert_eq!(of("1.5s"), Ok(length(1, 500_000_000)));
        assert_eq!(of("0.25ms"), Ok(length(0, 250_000)));
        assert_eq!(of("100us"), Ok(length(0, 100_000)));
        assert_eq!(of("100µs"), Ok(length(0, 100_000)));
        assert_eq!(of("10ns"), Ok(length(0, 10)));
        assert_eq!(of("5min"), Ok(length(300, 0)));
        assert_eq!(of("1h"), Ok(length(3600, 0)));
        assert_eq!(of("1_000ms"), Ok(length(1, 0)));
        assert_eq!(of("0s"), Ok(length(0, 0)));
        assert_eq!(of(" 7 ms "), Ok(length(0, 7_000_000)));
        assert_eq!(of("off"), Ok(Length::Endless));
    }

    #[test]
    fn bad_durations_say_how_to_write_one() {
        for bad in [
            "50",
            "ms",
            "50 parsecs",
            "1.2.3s",
            ".s",
            "-5ms",
            "forever",
            "1e3ms",
        ] {
            let why = of(bad).unwrap_err();
            assert!(why.contains("\"50ms\""), "{bad}: {why}");
        }
        assert!(of("1.5ns").unwrap_err().contains("finer than a nanosecond"));
        assert!(parse_length("50ms", "off").is_err(), "not a string literal");
        assert!(of("99999999999999999999999h")
            .unwrap_err()
            .contains("longer than a `Duration` can hold"));
        assert!(of("18446744073709551616s")
            .unwrap_err()
            .contains("longer than a `Duration` can hold"));
    }

    #[test]
    fn counts() {
        assert_eq!(parse_count("32"), Ok(32));
        assert_eq!(parse_count("1_024"), Ok(1024));
        assert_eq!(parse_count("4usize"), Ok(4));
        assert!(parse_count("0").unwrap_err().contains("at least 1"));
        assert!(parse_count("-1").is_err());
        assert!(parse_count("\"4\"").unwrap_err().contains("whole number"));
        assert!(parse_count("4.0").is_err());
    }
}
