//! The Prometheus text exposition, parsed, and what PromQL computes from it: sums by
//! labels, per-series increases between two scrapes, and `histogram_quantile` as
//! Prometheus' `promql/quantile.go` does it for classic histograms.

use std::collections::BTreeMap;

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sample {
    /// Series name (`…_bucket`, `…_count`, `…_total`…).
    pub(crate) name: String,
    /// Labels, unescaped.
    pub(crate) labels: BTreeMap<String, String>,
    /// Value.
    pub(crate) value: f64,
}

impl Sample {
    /// A label's value; a missing label reads as the empty string, as in PromQL.
    pub(crate) fn label(&self, key: &str) -> &str {
        self.labels.get(key).map_or("", String::as_str)
    }
}

/// A sample value: a float, `+Inf`, `-Inf` or `NaN`.
pub(crate) fn value(text: &str) -> f64 {
    match text {
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        _ => text.parse().unwrap_or(f64::NAN),
    }
}

fn sample(line: &str) -> Option<Sample> {
    let chars: Vec<char> = line.chars().collect();
    let mut i = chars
        .iter()
        .position(|c| matches!(c, '{' | ' ' | '\t'))
        .unwrap_or(chars.len());
    let name: String = chars[..i].iter().collect();
    let mut labels = BTreeMap::new();
    if chars.get(i) == Some(&'{') {
        i += 1;
        loop {
            while matches!(chars.get(i), Some(' ' | ',')) {
                i += 1;
            }
            if *chars.get(i)? == '}' {
                i += 1;
                break;
            }
            let equals = i + chars[i..].iter().position(|c| *c == '=')?;
            let key: String = chars[i..equals]
                .iter()
                .collect::<String>()
                .trim()
                .to_owned();
            if chars.get(equals + 1) != Some(&'"') {
                return None;
            }
            i = equals + 2;
            let mut label = String::new();
            loop {
                match *chars.get(i)? {
                    '\\' => {
                        match chars.get(i + 1) {
                            Some('n') => label.push('\n'),
                            Some(c) => label.push(*c),
                            None => {}
                        }
                        i += 2;
                    }
                    '"' => {
                        i += 1;
                        break;
                    }
                    c => {
                        label.push(c);
                        i += 1;
                    }
                }
            }
            labels.insert(key, label);
        }
    }
    let rest: String = chars[i..].iter().collect();
    let number = rest.split_whitespace().next()?;
    (!name.is_empty()).then(|| Sample {
        name,
        labels,
        value: value(number),
    })
}

/// Every sample of an exposition, in order.
pub(crate) fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(sample)
        .collect()
}

/// Per series, how much `current` grew since `previous`; a reset or a new series counts
/// from zero.
pub(crate) fn increase(current: &[Sample], previous: &[Sample]) -> Vec<Sample> {
    let before: BTreeMap<(&str, &BTreeMap<String, String>), f64> = previous
        .iter()
        .map(|s| ((s.name.as_str(), &s.labels), s.value))
        .collect();
    current
        .iter()
        .map(|s| {
            let grown = match before.get(&(s.name.as_str(), &s.labels)) {
                Some(old) if s.value >= *old => s.value - old,
                _ => s.value,
            };
            Sample {
                value: grown,
                ..s.clone()
            }
        })
        .collect()
}

/// `sum by (keys) (name{keep})`.
pub(crate) fn sum_by(
    samples: &[Sample],
    name: &str,
    keys: &[&str],
    keep: impl Fn(&Sample) -> bool,
) -> BTreeMap<Vec<String>, f64> {
    let mut out = BTreeMap::new();
    for s in samples.iter().filter(|s| s.name == name && keep(s)) {
        let group: Vec<String> = keys.iter().map(|k| s.label(k).to_owned()).collect();
        *out.entry(group).or_insert(0.0) += s.value;
    }
    out
}

/// A classic histogram summed over a group: its count and cumulative buckets.
#[derive(Debug, Clone, Default)]
pub(crate) struct Histogram {
    /// Sum of the `_count` series.
    pub(crate) count: f64,
    /// (upper bound, cumulative count), one per distinct bound.
    pub(crate) buckets: Vec<(f64, f64)>,
}

/// The histogram `name` summed by `keys` and `le`.
pub(crate) fn histogram_by(
    samples: &[Sample],
    name: &str,
    keys: &[&str],
    keep: impl Fn(&Sample) -> bool,
) -> BTreeMap<Vec<String>, Histogram> {
    let (count, bucket) = (format!("{name}_count"), format!("{name}_bucket"));
    let mut out: BTreeMap<Vec<String>, Histogram> = BTreeMap::new();
    for s in samples.iter().filter(|s| keep(s)) {
        let group = || {
            keys.iter()
                .map(|k| s.label(k).to_owned())
                .collect::<Vec<_>>()
        };
        if s.name == count {
            out.entry(group()).or_default().count += s.value;
        } else if s.name == bucket {
            let Some(le) = s.labels.get("le") else {
                continue;
            };
            let bound = value(le);
            if bound.is_nan() {
                continue;
            }
            let buckets = &mut out.entry(group()).or_default().buckets;
            match buckets.iter_mut().find(|(b, _)| *b == bound) {
                Some((_, c)) => *c += s.value,
                None => buckets.push((bound, s.value)),
            }
        }
    }
    out
}

/// Prometheus' `histogram_quantile(q, …)` over cumulative `(upper bound, count)` buckets
/// (`bucketQuantile` in `promql/quantile.go`).
pub(crate) fn histogram_quantile(q: f64, buckets: &[(f64, f64)]) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    let mut sorted = buckets.to_vec();
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    if sorted[sorted.len() - 1].0 != f64::INFINITY {
        return f64::NAN;
    }
    // coalesceBuckets
    let mut b: Vec<(f64, f64)> = Vec::with_capacity(sorted.len());
    for (bound, count) in sorted {
        match b.last_mut() {
            Some(last) if last.0 == bound => last.1 += count,
            _ => b.push((bound, count)),
        }
    }
    // correctPrecisionErrors(buckets, 1e-12)
    let mut previous = b[0].1;
    for bucket in b.iter_mut().skip(1) {
        let current = bucket.1;
        let delta = (current - previous).abs();
        if delta == 0.0 {
            continue;
        }
        if delta / current <= 1e-12 {
            bucket.1 = previous;
        } else {
            previous = current;
        }
    }
    // ensureMonotonic
    let mut max = b[0].1;
    for bucket in b.iter_mut().skip(1) {
        if bucket.1 > max {
            max = bucket.1;
        } else if bucket.1 < max {
            bucket.1 = max;
        }
    }
    if b.len() < 2 {
        return f64::NAN;
    }
    let observations = b[b.len() - 1].1;
    if observations == 0.0 {
        return f64::NAN;
    }
    let mut rank = q * observations;
    // sort.Search over all but the +Inf bucket: the first whose count reaches the rank.
    let i = b[..b.len() - 1].partition_point(|(_, count)| *count < rank);
    if i == b.len() - 1 {
        return b[b.len() - 2].0;
    }
    if i == 0 && b[0].0 <= 0.0 {
        return b[0].0;
    }
    let (mut start, end, mut count) = (0.0, b[i].0, b[i].1);
    if i > 0 {
        start = b[i - 1].0;
        count -= b[i - 1].1;
        rank -= b[i - 1].1;
    }
    start + (end - start) * (rank / count)
}
