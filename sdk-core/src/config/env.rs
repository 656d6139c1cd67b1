//! Reading variables (process environment or a given list; empty counts as unset) and the
//! value parsers shared by every setting.

use super::ConfigError;

pub(super) trait Env {
    /// The variable, trimmed; `None` when unset or empty.
    fn var(&self, name: &'static str) -> Result<Option<String>, ConfigError>;
}

pub(super) struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &'static str) -> Result<Option<String>, ConfigError> {
        match std::env::var(name) {
            Ok(value) => Ok(non_empty(value)),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(ConfigError::NotUnicode { var: name }),
        }
    }
}

pub(super) struct VarList(pub(super) Vec<(String, String)>);

impl Env for VarList {
    fn var(&self, name: &'static str) -> Result<Option<String>, ConfigError> {
        Ok(self
            .0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| non_empty(v.clone())))
    }
}

fn non_empty(value: String) -> Option<String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        None
    } else if trimmed.len() == value.len() {
        Some(value)
    } else {
        Some(trimmed.to_owned())
    }
}

pub(super) fn first_some<const N: usize>(values: [Option<String>; N]) -> Option<String> {
    values.into_iter().flatten().next()
}

pub(super) fn invalid(var: &'static str, value: &str, expected: &'static str) -> ConfigError {
    ConfigError::InvalidValue {
        var,
        value: value.to_owned(),
        expected,
    }
}

pub(super) fn parse_bool(var: &'static str, value: &str) -> Result<bool, ConfigError> {
    if value.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(invalid(var, value, "true or false"))
    }
}

/// Parses a comma-separated list; `none` alone means the empty list.
pub(super) fn parse_list<T: PartialEq>(
    var: &'static str,
    value: &str,
    expected: &'static str,
    parse: fn(&str) -> Option<T>,
) -> Result<Vec<T>, ConfigError> {
    let items: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if items.iter().any(|item| item.eq_ignore_ascii_case("none")) {
        if items.len() == 1 {
            return Ok(Vec::new());
        }
        return Err(invalid(var, value, "`none` alone, or a list without it"));
    }
    let mut out = Vec::new();
    for item in items {
        let parsed =
            parse(&item.to_ascii_lowercase()).ok_or_else(|| invalid(var, value, expected))?;
        if !out.contains(&parsed) {
            out.push(parsed);
        }
    }
    if out.is_empty() {
        return Err(invalid(var, value, expected));
    }
    Ok(out)
}

pub(super) fn parse_positive(
    env: &dyn Env,
    var: &'static str,
    default: u64,
    expected: &'static str,
) -> Result<u64, ConfigError> {
    match env.var(var)? {
        None => Ok(default),
        Some(text) => match text.parse::<u64>() {
            Ok(value) if value > 0 => Ok(value),
            _ => Err(invalid(var, &text, expected)),
        },
    }
}
