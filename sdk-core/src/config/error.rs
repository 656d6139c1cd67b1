//! The error every configuration step returns.

/// A configuration value that could not be accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A variable holds a value outside what it accepts.
    #[error("invalid value {value:?} for {var}: expected {expected}")]
    InvalidValue {
        /// The variable (or builder setting) name.
        var: &'static str,
        /// The offending value.
        value: String,
        /// What the variable accepts.
        expected: &'static str,
    },
    /// A variable is set but is not valid Unicode.
    #[error("{var} is not valid Unicode")]
    NotUnicode {
        /// The variable name.
        var: &'static str,
    },
}
