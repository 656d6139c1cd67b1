// The Prometheus text exposition, parsed, and the arithmetic PromQL does on it: sums by
// labels, per-series increases between two scrapes, and `histogram_quantile` exactly as
// Prometheus interpolates classic histogram buckets. No DOM here.
const OpsExposition = (() => {
  "use strict";

  /** A sample value: a float, `+Inf`, `-Inf` or `NaN` (anything else is NaN). */
  function value(text) {
    if (text === "+Inf" || text === "Inf") return Infinity;
    if (text === "-Inf") return -Infinity;
    if (text === "" || text === "NaN") return NaN;
    const number = Number(text);
    return Number.isNaN(number) ? NaN : number;
  }

  /** One sample line: `{name, labels, value}`, or null when the line is malformed. */
  function line(text) {
    let i = 0;
    while (i < text.length && text[i] !== "{" && text[i] !== " " && text[i] !== "\t") i++;
    const name = text.slice(0, i);
    const labels = new Map();
    if (text[i] === "{") {
      i++;
      for (;;) {
        while (text[i] === " " || text[i] === ",") i++;
        if (i >= text.length) return null;
        if (text[i] === "}") {
          i++;
          break;
        }
        const equals = text.indexOf("=", i);
        if (equals < 0 || text[equals + 1] !== '"') return null;
        const key = text.slice(i, equals).trim();
        i = equals + 2;
        let label = "";
        for (;;) {
          if (i >= text.length) return null;
          const c = text[i];
          if (c === "\\") {
            const next = text[i + 1];
            label += next === "n" ? "\n" : next === undefined ? "" : next;
            i += 2;
          } else if (c === '"') {
            i++;
            break;
          } else {
            label += c;
            i++;
          }
        }
        labels.set(key, label);
      }
    }
    const rest = text.slice(i).trim().split(/\s+/);
    if (name === "" || rest[0] === "") return null;
    return { name, labels, value: value(rest[0]) };
  }

  /** Every sample of an exposition, indexed by metric name. */
  function parse(text) {
    const byName = new Map();
    for (const raw of text.split("\n")) {
      const trimmed = raw.trim();
      if (trimmed === "" || trimmed[0] === "#") continue;
      const sample = line(trimmed);
      if (sample === null) continue;
      let list = byName.get(sample.name);
      if (!list) byName.set(sample.name, (list = []));
      list.push(sample);
    }
    return byName;
  }

  /** A label's value; a missing label reads as the empty string, as in PromQL. */
  function label(sample, key) {
    const found = sample.labels.get(key);
    return found === undefined ? "" : found;
  }

  /** An identity of a series: its name and its labels in key order. */
  function seriesId(sample) {
    const pairs = Array.from(sample.labels).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return JSON.stringify([sample.name, pairs]);
  }

  /**
   * Per series, how much `current` grew since `previous` (a counter reset or a series that
   * appeared counts from zero, as the process creates series at their first recording).
   * Only for counters and histograms: gauges are read from `current` alone.
   */
  function increase(current, previous) {
    const before = new Map();
    for (const list of previous.values()) for (const s of list) before.set(seriesId(s), s.value);
    const out = new Map();
    for (const [name, list] of current) {
      out.set(
        name,
        list.map((s) => {
          const old = before.get(seriesId(s));
          const grown = old === undefined || s.value < old ? s.value : s.value - old;
          return { name, labels: s.labels, value: grown };
        }),
      );
    }
    return out;
  }

  /** Groups of `index`'s `name` samples by the values of `keys`, each with a fresh record. */
  function groups(keys, make) {
    const map = new Map();
    return {
      map,
      get(sample) {
        const values = keys.map((k) => label(sample, k));
        const id = JSON.stringify(values);
        let group = map.get(id);
        if (!group) map.set(id, (group = Object.assign({ values }, make())));
        return group;
      },
    };
  }

  /** `sum by (keys) (name{filter})`: a map from group id to `{values, value}`. */
  function sumBy(index, name, keys, filter) {
    const out = groups(keys, () => ({ value: 0 }));
    for (const s of index.get(name) || []) {
      if (!filter || filter(s)) out.get(s).value += s.value;
    }
    return out.map;
  }

  /**
   * The histogram `name` summed by `keys` (and `le`): a map from group id to
   * `{values, count, buckets}` where `buckets` maps each upper bound to its cumulative count.
   */
  function histogramBy(index, name, keys, filter) {
    const out = groups(keys, () => ({ count: 0, buckets: new Map() }));
    for (const s of index.get(name + "_count") || []) {
      if (!filter || filter(s)) out.get(s).count += s.value;
    }
    for (const s of index.get(name + "_bucket") || []) {
      if (filter && !filter(s)) continue;
      const bound = value(label(s, "le"));
      if (Number.isNaN(bound)) continue;
      const buckets = out.get(s).buckets;
      buckets.set(bound, (buckets.get(bound) || 0) + s.value);
    }
    return out.map;
  }

  /**
   * Prometheus' `histogram_quantile(q, …)` over cumulative buckets (a map from upper bound
   * to count): sorted, equal bounds merged, float noise below a relative 1e-12 flattened,
   * monotonicity forced, then linear interpolation inside the bucket holding rank q·total
   * (from 0 in the first bucket; the last finite bound when the rank falls in `+Inf`).
   * NaN when there are no observations, no `+Inf` bucket or fewer than two buckets.
   */
  function quantile(q, bucketMap) {
    if (Number.isNaN(q)) return NaN;
    if (q < 0) return -Infinity;
    if (q > 1) return Infinity;
    let buckets = Array.from(bucketMap, ([upperBound, count]) => ({ upperBound, count }));
    if (buckets.length === 0) return NaN;
    buckets.sort((a, b) => a.upperBound - b.upperBound);
    if (buckets[buckets.length - 1].upperBound !== Infinity) return NaN;

    const merged = [];
    for (const b of buckets) {
      const last = merged[merged.length - 1];
      if (last && last.upperBound === b.upperBound) last.count += b.count;
      else merged.push({ upperBound: b.upperBound, count: b.count });
    }
    buckets = merged;

    let previous = buckets[0].count;
    for (let i = 1; i < buckets.length; i++) {
      const current = buckets[i].count;
      const delta = Math.abs(current - previous);
      if (delta === 0) continue;
      if (delta / current <= 1e-12) buckets[i].count = previous;
      else previous = current;
    }
    let max = buckets[0].count;
    for (let i = 1; i < buckets.length; i++) {
      if (buckets[i].count > max) max = buckets[i].count;
      else if (buckets[i].count < max) buckets[i].count = max;
    }

    if (buckets.length < 2) return NaN;
    const observations = buckets[buckets.length - 1].count;
    if (observations === 0) return NaN;
    let rank = q * observations;
    let b = 0;
    while (b < buckets.length - 1 && !(buckets[b].count >= rank)) b++;
    if (b === buckets.length - 1) return buckets[buckets.length - 2].upperBound;
    if (b === 0 && buckets[0].upperBound <= 0) return buckets[0].upperBound;
    let start = 0;
    const end = buckets[b].upperBound;
    let count = buckets[b].count;
    if (b > 0) {
      start = buckets[b - 1].upperBound;
      count -= buckets[b - 1].count;
      rank -= buckets[b - 1].count;
    }
    return start + (end - start) * (rank / count);
  }

  /** A finite number, or null (no data): nothing the page shows is NaN or infinite. */
  function finite(x) {
    return typeof x === "number" && Number.isFinite(x) ? x : null;
  }

  /** `numerator / denominator`, or null when the denominator is not positive. */
  function ratio(numerator, denominator) {
    return denominator > 0 ? finite(numerator / denominator) : null;
  }

  return { value, parse, label, increase, sumBy, histogramBy, quantile, finite, ratio };
})();
