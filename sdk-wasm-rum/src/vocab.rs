//! The vocabulary of reports: the six vitals with web-vitals' rating thresholds, ratings,
//! navigation types, and the beacon's bounds. The server's copy is `sdk_core::rum` (this
//! crate's browser build has no `std`); a native test keeps the two equal.

/// A web vital.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vital {
    /// Largest Contentful Paint (ms).
    Lcp,
    /// Interaction to Next Paint (ms).
    Inp,
    /// Cumulative Layout Shift (unitless).
    Cls,
    /// First Contentful Paint (ms).
    Fcp,
    /// Time to First Byte (ms).
    Ttfb,
    /// First Input Delay (ms).
    Fid,
}

impl Vital {
    /// Every vital, in the order of their codes.
    pub const ALL: [Self; 6] = [
        Self::Lcp,
        Self::Inp,
        Self::Cls,
        Self::Fcp,
        Self::Ttfb,
        Self::Fid,
    ];

    /// The vital of a code (its index in [`ALL`](Self::ALL)).
    pub fn from_code(code: u32) -> Option<Self> {
        Self::ALL.get(code as usize).copied()
    }

    /// Its name in reports (`"LCP"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Lcp => "LCP",
            Self::Inp => "INP",
            Self::Cls => "CLS",
            Self::Fcp => "FCP",
            Self::Ttfb => "TTFB",
            Self::Fid => "FID",
        }
    }

    /// web-vitals' thresholds: (good up to, poor above).
    pub const fn thresholds(self) -> (f64, f64) {
        match self {
            Self::Lcp => (2500.0, 4000.0),
            Self::Inp => (200.0, 500.0),
            Self::Cls => (0.1, 0.25),
            Self::Fcp => (1800.0, 3000.0),
            Self::Ttfb => (800.0, 1800.0),
            Self::Fid => (100.0, 300.0),
        }
    }

    /// The rating of `value`.
    pub fn rate(self, value: f64) -> Rating {
        let (good, poor) = self.thresholds();
        if value > poor {
            Rating::Poor
        } else if value > good {
            Rating::NeedsImprovement
        } else {
            Rating::Good
        }
    }

    /// Whether values are milliseconds (all but CLS).
    pub const fn is_timing(self) -> bool {
        !matches!(self, Self::Cls)
    }
}

/// web-vitals' rating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rating {
    /// At or under the good threshold.
    Good,
    /// Between the thresholds.
    NeedsImprovement,
    /// Over the poor threshold.
    Poor,
}

impl Rating {
    /// Every rating, in the order of their codes.
    pub const ALL: [Self; 3] = [Self::Good, Self::NeedsImprovement, Self::Poor];

    /// `"good"`, `"needs-improvement"`, `"poor"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Good => "good",
            Self::NeedsImprovement => "needs-improvement",
            Self::Poor => "poor",
        }
    }
}

/// How the page (or the metric's part of it) was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NavigationType {
    /// A plain navigation.
    Navigate,
    /// A reload.
    Reload,
    /// Back/forward without the back/forward cache.
    BackForward,
    /// Restored from the back/forward cache.
    BackForwardCache,
    /// Prerendered, then activated.
    Prerender,
    /// A discarded tab restored.
    Restore,
    /// A single-page-app route change.
    SoftNavigation,
}

impl NavigationType {
    /// Every type, in the order of their codes.
    pub const ALL: [Self; 7] = [
        Self::Navigate,
        Self::Reload,
        Self::BackForward,
        Self::BackForwardCache,
        Self::Prerender,
        Self::Restore,
        Self::SoftNavigation,
    ];

    /// The type of a code (its index in [`ALL`](Self::ALL)); unknown codes navigate.
    pub fn from_code(code: u32) -> Self {
        Self::ALL
            .get(code as usize)
            .copied()
            .unwrap_or(Self::Navigate)
    }

    /// web-vitals' `navigationType` (`"back-forward-cache"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Navigate => "navigate",
            Self::Reload => "reload",
            Self::BackForward => "back-forward",
            Self::BackForwardCache => "back-forward-cache",
            Self::Prerender => "prerender",
            Self::Restore => "restore",
            Self::SoftNavigation => "soft-navigation",
        }
    }
}

/// The route of a path that matches no template.
pub const OTHER_ROUTE: &str = "other";
/// Most web-vital reports per beacon.
pub const MAX_VITALS: usize = 64;
/// Most errors per beacon.
pub const MAX_ERRORS: usize = 32;
/// Longest error message kept, in bytes.
pub const MAX_ERROR_MESSAGE: usize = 256;
/// Longest service, version, environment, route or id, in bytes.
pub const MAX_FIELD_LEN: usize = 128;
/// Largest timing the server accepts, in milliseconds.
pub const MAX_TIMING_MS: f64 = 600_000.0;
/// Largest cumulative layout shift the server accepts.
pub const MAX_CLS: f64 = 100.0;
/// Largest beacon body the server accepts, in bytes.
pub const MAX_BEACON_BYTES: usize = 64 * 1024;

#[cfg(test)]
mod tests {
    use super::*;
    use sdk_core::rum;

    /// The browser's vocabulary is the server's, name for name and number for number.
    #[test]
    fn equals_the_servers_vocabulary() {
        for (vital, theirs) in Vital::ALL.into_iter().zip(rum::VitalName::ALL) {
            assert_eq!(vital.as_str(), theirs.as_str());
            assert_eq!(vital.thresholds(), theirs.thresholds());
            assert_eq!(vital.is_timing(), theirs.is_timing());
            for value in [0.0, 0.1, 0.2, 100.0, 250.0, 2500.0, 2500.5, 4000.0, 5000.0] {
                assert_eq!(vital.rate(value).as_str(), theirs.rate(value).as_str());
            }
        }
        for navigation in NavigationType::ALL {
            let json = format!("\"{}\"", navigation.as_str());
            assert!(
                serde_json::from_str::<rum::NavigationType>(&json).is_ok(),
                "{json}"
            );
        }
        assert_eq!(OTHER_ROUTE, rum::OTHER_ROUTE);
        assert_eq!(MAX_VITALS, rum::MAX_VITALS);
        assert_eq!(MAX_ERRORS, rum::MAX_ERRORS);
        assert_eq!(MAX_ERROR_MESSAGE, rum::MAX_ERROR_MESSAGE);
        assert_eq!(MAX_FIELD_LEN, rum::MAX_FIELD_LEN);
        assert_eq!(MAX_TIMING_MS, rum::MAX_TIMING_MS);
        assert_eq!(MAX_CLS, rum::MAX_CLS);
        assert_eq!(MAX_BEACON_BYTES, rum::MAX_BEACON_BYTES);
    }
}
