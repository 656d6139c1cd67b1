//! The route's query string: `seconds` and `format`, strictly checked.

/// What the answer is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    /// The pprof protobuf (`go tool pprof`).
    Pprof,
    /// An SVG flame graph (a browser).
    Svg,
}

impl Format {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Pprof => "pprof",
            Self::Svg => "svg",
        }
    }
}

/// A valid request: how long to sample and what to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ProfileQuery {
    pub(super) seconds: u64,
    pub(super) format: Format,
}

/// Reads `seconds` (a whole number from 1 to `max_seconds`, `default_seconds` when absent)
/// and `format` (`pprof`, the default, or `svg`). Anything else (another parameter, one
/// given twice, a value out of range or unknown) is an error whose text names what is
/// accepted.
pub(super) fn parse(
    query: Option<&str>,
    default_seconds: u64,
    max_seconds: u64,
) -> Result<ProfileQuery, String> {
    let mut seconds = None;
    let mut format = None;
    for pair in query
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty())
    {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "seconds" if seconds.is_none() => {
                seconds = Some(parse_seconds(value, max_seconds)?);
            }
            "format" if format.is_none() => {
                format = Some(parse_format(value)?);
            }
            "seconds" | "format" => return Err(format!("{name} is given more than once")),
            _ => {
                return Err(format!(
                    "unknown parameter {:?}: the accepted parameters are seconds (a whole \
                     number from 1 to {max_seconds}, default {default_seconds}) and format \
                     (pprof or svg, default pprof)",
                    truncated(name)
                ));
            }
        }
    }
    Ok(ProfileQuery {
        seconds: seconds.unwrap_or(default_seconds),
        format: format.unwrap_or(Format::Pprof),
    })
}

fn parse_seconds(value: &str, max_seconds: u64) -> Result<u64, String> {
    match value.parse::<u64>() {
        Ok(seconds) if (1..=max_seconds).contains(&seconds) => Ok(seconds),
        _ => Err(format!(
            "seconds must be a whole number from 1 to {max_seconds}, got {:?}",
            truncated(value)
        )),
    }
}

fn parse_format(value: &str) -> Result<Format, String> {
    match value {
        "pprof" => Ok(Format::Pprof),
        "svg" => Ok(Format::Svg),
        _ => Err(format!(
            "format must be pprof or svg, got {:?}",
            truncated(value)
        )),
    }
}

/// At most 64 characters of a caller's text in an error message.
fn truncated(text: &str) -> &str {
    match text.char_indices().nth(64) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(seconds: u64, format: Format) -> Result<ProfileQuery, String> {
        Ok(ProfileQuery { seconds, format })
    }

    #[test]
    fn defaults_and_accepted_values() {
        assert_eq!(parse(None, 10, 30), query(10, Format::Pprof));
        assert_eq!(parse(Some(""), 10, 30), query(10, Format::Pprof));
        assert_eq!(
            parse(Some("seconds=30&format=svg"), 10, 30),
            query(30, Format::Svg)
        );
        assert_eq!(
            parse(Some("format=pprof&seconds=1"), 10, 30),
            query(1, Format::Pprof)
        );
    }

    #[test]
    fn refusals_name_what_is_accepted() {
        for (bad, expected) in [
            (
                "seconds=0",
                "seconds must be a whole number from 1 to 30, got \"0\"",
            ),
            ("seconds=31", "from 1 to 30, got \"31\""),
            ("seconds=ten", "got \"ten\""),
            ("seconds=-1", "got \"-1\""),
            ("seconds", "got \"\""),
            ("format=json", "format must be pprof or svg, got \"json\""),
            (
                "secs=5",
                "unknown parameter \"secs\": the accepted parameters are seconds",
            ),
            ("seconds=1&seconds=2", "seconds is given more than once"),
        ] {
            let message = parse(Some(bad), 10, 30).unwrap_err();
            assert!(message.contains(expected), "{bad}: {message}");
        }
        let long = format!("format={}", "x".repeat(1000));
        assert!(parse(Some(&long), 10, 30).unwrap_err().len() < 120);
    }
}
