// What each panel shows, computed from one exposition (or from the increase between two):
// RED per route and for the service, database, pools, cache, web vitals, SLOs and dropped
// telemetry. Metric names, label keys and values come from the page's configuration.
const OpsPanels = (() => {
  "use strict";
  const X = OpsExposition;
  const QUANTILES = [
    ["p50", 0.5],
    ["p95", 0.95],
    ["p99", 0.99],
  ];
  const VITAL_QUANTILE = 0.75;

  /** Events per minute over `seconds`, or null without a positive window. */
  const perMinute = (count, seconds) => (seconds > 0 ? X.finite((count / seconds) * 60) : null);

  /** The model of every panel for `config`: a function from an exposition index. */
  function create(config) {
    const M = config.metrics;
    const L = config.labels;
    const V = config.values;

    const isServerError = (s) => {
      const code = Number(X.label(s, L.status));
      return code >= 500 && code <= 599;
    };
    const valueOf = (map, id, missing) => (map.has(id) ? map.get(id).value : missing);

    function quantiles(histogram, prefix) {
      const out = {};
      for (const [field, q] of QUANTILES) {
        out[prefix + field] = histogram ? X.finite(X.quantile(q, histogram.buckets)) : null;
      }
      return out;
    }

    /** Requests, 5xx and latency quantiles per route and for the whole service. */
    function http(index) {
      const count = M.httpDuration + "_count";
      const histograms = X.histogramBy(index, M.httpDuration, [L.route]);
      const errors = X.sumBy(index, count, [L.route], isServerError);
      const routes = new Map();
      for (const [id, h] of histograms) {
        const bad = valueOf(errors, id, 0);
        routes.set(h.values[0], Object.assign({ count: h.count, errors: bad, error_ratio: X.ratio(bad, h.count) }, quantiles(h, "")));
      }
      const all = X.histogramBy(index, M.httpDuration, []).get("[]");
      const total = all ? all.count : 0;
      const bad = valueOf(X.sumBy(index, count, [], isServerError), "[]", 0);
      const service = Object.assign({ count: total, errors: bad, error_ratio: X.ratio(bad, total) }, quantiles(all, ""));
      return { routes, service };
    }

    /** Query count and p95 by system, operation and table, with slow queries. */
    function database(index) {
      const keys = [L.dbSystem, L.dbOperation, L.dbTable];
      const histograms = X.histogramBy(index, M.dbDuration, keys);
      const slow = X.sumBy(index, M.slowQueries, keys);
      const out = new Map();
      for (const id of new Set([...histograms.keys(), ...slow.keys()])) {
        const h = histograms.get(id);
        out.set(id, {
          values: (h || slow.get(id)).values,
          count: h ? h.count : 0,
          p95: h ? X.finite(X.quantile(0.95, h.buckets)) : null,
          slow: valueOf(slow, id, 0),
        });
      }
      return out;
    }

    /** Connections used, idle, allowed and awaited by pool (gauges), and acquire timeouts. */
    function pools(index) {
      const keys = [L.pool];
      const state = (wanted) => (s) => X.label(s, L.poolState) === wanted;
      const used = X.sumBy(index, M.poolConnections, keys, state(V.poolUsed));
      const idle = X.sumBy(index, M.poolConnections, keys, state(V.poolIdle));
      const max = X.sumBy(index, M.poolMax, keys);
      const pending = X.sumBy(index, M.poolPending, keys);
      const timeouts = X.sumBy(index, M.poolTimeouts, keys);
      const out = new Map();
      const ids = new Set([...X.sumBy(index, M.poolConnections, keys).keys(), ...max.keys(), ...pending.keys(), ...timeouts.keys()]);
      for (const id of ids) {
        const u = valueOf(used, id, null);
        const m = valueOf(max, id, null);
        out.set(JSON.parse(id)[0], {
          used: u,
          idle: valueOf(idle, id, null),
          max: m,
          saturation: u === null || m === null ? null : X.ratio(u, m),
          pending: valueOf(pending, id, null),
          timeouts: valueOf(timeouts, id, 0),
        });
      }
      return out;
    }

    /** Lookups, hits, hit ratio and fallbacks by key prefix. */
    function cache(index) {
      const keys = [L.cachePrefix];
      const requests = X.sumBy(index, M.cacheRequests, keys);
      const hits = X.sumBy(index, M.cacheRequests, keys, (s) => X.label(s, L.cacheResult) === V.cacheHit);
      const fallbacks = X.sumBy(index, M.cacheFallbacks, keys);
      const out = new Map();
      for (const id of new Set([...requests.keys(), ...fallbacks.keys()])) {
        const total = valueOf(requests, id, 0);
        const hit = valueOf(hits, id, 0);
        out.set(JSON.parse(id)[0], { requests: total, hits: hit, hit_ratio: X.ratio(hit, total), fallbacks: valueOf(fallbacks, id, 0) });
      }
      return out;
    }

    /** p75 and sample count of every web vital, by route. */
    function vitals(index) {
      const byRoute = new Map();
      for (const vital of config.vitals) {
        const named = (s) => X.label(s, L.vitalName) === vital.name;
        for (const h of X.histogramBy(index, vital.metric, [L.route], named).values()) {
          const route = h.values[0];
          if (!byRoute.has(route)) byRoute.set(route, new Map());
          byRoute.get(route).set(vital.name, { count: h.count, p75: X.finite(X.quantile(VITAL_QUANTILE, h.buckets)) });
        }
      }
      return byRoute;
    }

    /** Bad and total events of an SLI, summed over the exposition. */
    function sliCounts(index, sli) {
      const sum = (name, keep) => {
        let total = 0;
        for (const s of index.get(name) || []) if (keep(s)) total += s.value;
        return total;
      };
      const below = (bound) => (s) => X.value(X.label(s, "le")) === bound;
      const onRoutes = (s) => sli.routes.length === 0 || sli.routes.includes(X.label(s, L.route));
      const count = M.httpDuration + "_count";
      const bucket = M.httpDuration + "_bucket";
      switch (sli.kind) {
        case "availability":
          return { total: sum(count, onRoutes), bad: sum(count, (s) => onRoutes(s) && isServerError(s)) };
        case "latency": {
          const total = sum(count, onRoutes);
          return { total, bad: total - sum(bucket, (s) => onRoutes(s) && below(sli.threshold)(s)) };
        }
        case "cache_hit_ratio": {
          const inPrefix = (s) => sli.prefix === null || X.label(s, L.cachePrefix) === sli.prefix;
          const missed = (s) => inPrefix(s) && X.label(s, L.cacheResult) === V.cacheMiss;
          return { total: sum(M.cacheRequests, inPrefix), bad: sum(M.cacheRequests, missed) };
        }
        case "web_vital": {
          const named = (s) => X.label(s, L.vitalName) === sli.name;
          const total = sum(sli.metric + "_count", named);
          return { total, bad: total - sum(sli.metric + "_bucket", (s) => named(s) && below(sli.good)(s)) };
        }
        default:
          return { total: 0, bad: 0 };
      }
    }

    /** Each SLO's SLI, burn rate (error ratio over the budget) and budget left. */
    function slos(index) {
      const out = new Map();
      for (const slo of config.slos) {
        const { total, bad } = sliCounts(index, slo.sli);
        const errorRatio = X.ratio(bad, total);
        const burn = errorRatio === null ? null : X.finite(errorRatio / (1 - slo.objective / 100));
        out.set(slo.name, {
          total,
          bad,
          sli: errorRatio === null ? null : 1 - errorRatio,
          burn,
          budget_left: burn === null ? null : 1 - burn,
        });
      }
      return out;
    }

    /** Telemetry dropped by signal, exporter and reason. */
    function drops(index) {
      return X.sumBy(index, M.exporterDropped, [L.signal, L.exporter, L.reason]);
    }

    function model(index) {
      return {
        http: http(index),
        database: database(index),
        pools: pools(index),
        cache: cache(index),
        vitals: vitals(index),
        slos: slos(index),
        drops: drops(index),
      };
    }

    return model;
  }

  return { QUANTILES, perMinute, create };
})();
