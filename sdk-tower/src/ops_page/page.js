// The operations page: reads the metrics path every few seconds, computes each panel from
// the exposition (lifetime) and from its increase since the previous refresh (window), and
// renders with textContent and setAttribute only.
(() => {
  "use strict";
  const X = OpsExposition;
  const config = JSON.parse(document.getElementById("ops-config").textContent);
  const model = OpsPanels.create(config);
  const { QUANTILES, perMinute } = OpsPanels;
  const HISTORY = 60;
  const PERIOD_MS = (() => {
    const asked = Number(new URLSearchParams(location.search).get("refresh"));
    const ms = Number.isFinite(asked) && asked > 0 ? asked * 1000 : config.refreshMs;
    return Math.min(Math.max(ms, 1000), 3600000);
  })();

  const format = {
    count: (v) => (Number.isInteger(v) ? String(v) : v.toFixed(2)),
    perMinute: (v) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)) + "/min",
    ratio: (v) => (v * 100).toFixed(v !== 0 && Math.abs(v) < 0.001 ? 4 : 2) + " %",
    seconds: (v) =>
      Math.abs(v) < 1 ? (v * 1000).toFixed(Math.abs(v) < 0.01 ? 2 : 1) + " ms" : v.toFixed(2) + " s",
    score: (v) => v.toFixed(3),
    percent: (v) => v + " %",
    burn: (v) => v.toFixed(2) + "×",
    plain: (v) => String(v),
  };

  // ---- rendering -------------------------------------------------------------------

  const byId = (id) => document.getElementById(id);
  const byText = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
  const routeName = (route) => (route === "" ? "(no route)" : route);

  function element(tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  /** A number in an element carrying `data-*` keys, its raw value in `data-value`. */
  function figure(tag, keys, value, show) {
    const e = element(tag, "num");
    for (const [k, v] of Object.entries(keys)) e.setAttribute("data-" + k, String(v));
    if (typeof value === "number" && Number.isFinite(value)) {
      e.setAttribute("data-value", String(value));
      e.textContent = show(value);
    } else {
      e.classList.add("nodata");
      e.textContent = "no data";
    }
    return e;
  }

  function row(cells) {
    const tr = element("tr");
    for (const c of cells) tr.appendChild(typeof c === "string" ? element("td", "key", c) : c);
    return tr;
  }

  function fill(tbodyId, rows) {
    const tbody = byId(tbodyId);
    if (rows.length > 0) {
      tbody.replaceChildren(...rows);
      return;
    }
    const td = element("td", "nodata", "no data");
    td.colSpan = tbody.closest("table").querySelector("thead tr:last-child").children.length;
    tbody.replaceChildren(row([td]));
  }

  function service(life, win, seconds) {
    const keys = (field) => ({ panel: "service", field });
    const w = win ? win.http.service : null;
    const cards = [
      ["Requests/min", figure("div", keys("rpm"), w ? perMinute(w.count, seconds) : null, format.perMinute)],
      ["5xx (window)", figure("div", keys("window_error_ratio"), w ? w.error_ratio : null, format.ratio)],
      ["p95 (window)", figure("div", keys("window_p95"), w ? w.p95 : null, format.seconds)],
      ["Requests since start", figure("div", keys("count"), life.http.service.count, format.count)],
      ["5xx since start", figure("div", keys("error_ratio"), life.http.service.error_ratio, format.ratio)],
      ["p50 since start", figure("div", keys("p50"), life.http.service.p50, format.seconds)],
      ["p95 since start", figure("div", keys("p95"), life.http.service.p95, format.seconds)],
      ["p99 since start", figure("div", keys("p99"), life.http.service.p99, format.seconds)],
    ];
    byId("service").replaceChildren(
      ...cards.map(([title, value]) => {
        const card = element("div", "card");
        card.append(element("div", "title", title), value);
        return card;
      }),
    );
  }

  function routes(life, win, seconds) {
    const names = [...life.http.routes.keys()].sort(byText);
    fill(
      "routes",
      names.map((route) => {
        const l = life.http.routes.get(route);
        const w = win ? win.http.routes.get(route) || null : null;
        const keys = (field) => ({ panel: "http", route, field });
        return row([
          routeName(route),
          figure("td", keys("rpm"), w ? perMinute(w.count, seconds) : null, format.perMinute),
          figure("td", keys("window_error_ratio"), w ? w.error_ratio : null, format.ratio),
          ...QUANTILES.map(([q]) => figure("td", keys("window_" + q), w ? w[q] : null, format.seconds)),
          figure("td", keys("count"), l.count, format.count),
          figure("td", keys("errors"), l.errors, format.count),
          figure("td", keys("error_ratio"), l.error_ratio, format.ratio),
          ...QUANTILES.map(([q]) => figure("td", keys(q), l[q], format.seconds)),
        ]);
      }),
    );
    OpsCharts.latencyBars(
      byId("latency-bars"),
      names.map((route) => {
        const l = life.http.routes.get(route);
        return { route, label: routeName(route), values: [l.p50, l.p95, l.p99] };
      }),
      format.seconds,
    );
  }

  function databases(life, win) {
    const ids = [...life.database.keys()].sort(byText);
    fill(
      "db",
      ids.map((id) => {
        const l = life.database.get(id);
        const w = win ? win.database.get(id) || null : null;
        const [system, operation, table] = l.values;
        const keys = (field) => ({ panel: "db", system, operation, table, field });
        return row([
          system,
          operation,
          table,
          figure("td", keys("count"), l.count, format.count),
          figure("td", keys("p95"), l.p95, format.seconds),
          figure("td", keys("window_p95"), w ? w.p95 : null, format.seconds),
          figure("td", keys("slow"), l.slow, format.count),
        ]);
      }),
    );
    const pools = [...life.pools.keys()].sort(byText);
    fill(
      "pools",
      pools.map((pool) => {
        const p = life.pools.get(pool);
        const keys = (field) => ({ panel: "pool", pool, field });
        return row([
          pool,
          figure("td", keys("used"), p.used, format.count),
          figure("td", keys("idle"), p.idle, format.count),
          figure("td", keys("max"), p.max, format.count),
          figure("td", keys("saturation"), p.saturation, format.ratio),
          figure("td", keys("pending"), p.pending, format.count),
          figure("td", keys("timeouts"), p.timeouts, format.count),
        ]);
      }),
    );
  }

  function caches(life, win) {
    const prefixes = [...life.cache.keys()].sort(byText);
    fill(
      "cache",
      prefixes.map((prefix) => {
        const l = life.cache.get(prefix);
        const w = win ? win.cache.get(prefix) || null : null;
        const keys = (field) => ({ panel: "cache", prefix, field });
        return row([
          prefix === "" ? "(no prefix)" : prefix,
          figure("td", keys("requests"), l.requests, format.count),
          figure("td", keys("hits"), l.hits, format.count),
          figure("td", keys("hit_ratio"), l.hit_ratio, format.ratio),
          figure("td", keys("window_hit_ratio"), w ? w.hit_ratio : null, format.ratio),
          figure("td", keys("fallbacks"), l.fallbacks, format.count),
        ]);
      }),
    );
  }

  function webVitals(life) {
    const head = byId("vitals-head");
    head.replaceChildren(element("th", "", "Route"), ...config.vitals.map((v) => element("th", "num", `${v.name} p75`)));
    const names = [...life.vitals.keys()].sort(byText);
    fill(
      "vitals",
      names.map((route) => {
        const measured = life.vitals.get(route);
        return row([
          routeName(route),
          ...config.vitals.map((vital) => {
            const m = measured.get(vital.name) || { count: 0, p75: null };
            const show = vital.seconds ? format.seconds : format.score;
            const cell = element("td", "vital");
            const p75 = figure("span", { panel: "vitals", route, vital: vital.name, field: "p75" }, m.p75, show);
            if (m.p75 !== null) p75.classList.add(m.p75 <= vital.good ? "good" : m.p75 <= vital.poor ? "fair" : "poor");
            const count = figure("span", { panel: "vitals", route, vital: vital.name, field: "count" }, m.count, (v) => `n=${v}`);
            count.classList.add("count");
            cell.append(p75, count);
            return cell;
          }),
        ]);
      }),
    );
  }

  function objectives(life, win) {
    fill(
      "slos",
      config.slos.map((slo) => {
        const l = life.slos.get(slo.name);
        const w = win ? win.slos.get(slo.name) : null;
        const keys = (field) => ({ panel: "slo", slo: slo.name, field });
        const name = element("td", "key");
        name.append(element("div", "", slo.name), element("div", "description", slo.description));
        const budget = figure("td", keys("budget_left"), l.budget_left, format.ratio);
        if (l.budget_left !== null) {
          const bar = element("div", "budget");
          const fillBar = element("div", l.budget_left > 0 ? "left" : "spent");
          fillBar.style.width = `${Math.round(Math.min(Math.max(l.budget_left, 0), 1) * 100)}%`;
          bar.appendChild(fillBar);
          budget.appendChild(bar);
        }
        return row([
          name,
          figure("td", keys("objective"), slo.objective, format.percent),
          figure("td", keys("sli"), l.sli, format.ratio),
          figure("td", keys("bad"), l.bad, format.count),
          figure("td", keys("total"), l.total, format.count),
          figure("td", keys("burn"), l.burn, format.burn),
          budget,
          figure("td", keys("window_burn"), w ? w.burn : null, format.burn),
        ]);
      }),
    );
  }

  function dropped(life, win, seconds) {
    const ids = [...life.drops.keys()].sort(byText);
    fill(
      "drops",
      ids.map((id) => {
        const l = life.drops.get(id);
        const w = win ? win.drops.get(id) || null : null;
        const [signal, exporter, reason] = l.values;
        const keys = (field) => ({ panel: "drops", signal, exporter, reason, field });
        return row([
          signal,
          exporter,
          reason,
          figure("td", keys("count"), l.value, format.count),
          figure("td", keys("rpm"), w ? perMinute(w.value, seconds) : null, format.perMinute),
        ]);
      }),
    );
  }

  const history = [];

  function charts(win, seconds, at) {
    const s = win ? win.http.service : null;
    history.push({
      t: at,
      rpm: s ? perMinute(s.count, seconds) : null,
      errors: s ? s.error_ratio : null,
      p95: s ? s.p95 : null,
    });
    while (history.length > HISTORY) history.shift();
    OpsCharts.line(byId("chart-rpm"), "rpm", history.map((h) => ({ t: h.t, v: h.rpm })), format.perMinute);
    OpsCharts.line(byId("chart-errors"), "errors", history.map((h) => ({ t: h.t, v: h.errors })), format.ratio);
    OpsCharts.line(byId("chart-p95"), "p95", history.map((h) => ({ t: h.t, v: h.p95 })), format.seconds);
  }

  function status(seconds, refreshes) {
    const keys = (field) => ({ panel: "status", field });
    const line = byId("status");
    line.className = "";
    line.replaceChildren(
      element("span", "", `updated ${new Date().toLocaleTimeString()} · window `),
      figure("span", keys("window_seconds"), seconds, (v) => `${v.toFixed(1)} s`),
      element("span", "", " · every "),
      figure("span", keys("period_seconds"), PERIOD_MS / 1000, (v) => `${v} s`),
      element("span", "", " · refreshes "),
      figure("span", keys("refreshes"), refreshes, format.plain),
    );
  }

  // ---- refreshing ------------------------------------------------------------------

  let previous = null;
  let refreshes = 0;
  let inFlight = false;
  let paused = false;
  window.__opsRefreshes = 0;
  window.__opsSnapshot = null;
  window.__opsPrevious = null;
  window.__opsWindowSeconds = null;
  window.__opsError = null;

  function show(text, at) {
    const index = X.parse(text);
    const life = model(index);
    const seconds = previous ? (at - previous.at) / 1000 : null;
    const win = previous ? model(X.increase(index, previous.index)) : null;
    service(life, win, seconds);
    routes(life, win, seconds);
    databases(life, win);
    caches(life, win);
    webVitals(life);
    objectives(life, win);
    dropped(life, win, seconds);
    charts(win, seconds, at);
    refreshes += 1;
    status(seconds, refreshes);
    window.__opsPrevious = previous ? previous.text : null;
    window.__opsSnapshot = text;
    window.__opsWindowSeconds = seconds;
    window.__opsRefreshes = refreshes;
    previous = { index, at, text };
  }

  async function refresh() {
    if (inFlight) return;
    if (document.hidden) {
      paused = true;
      return;
    }
    inFlight = true;
    try {
      const response = await fetch(config.metricsPath, {
        cache: "no-store",
        credentials: "same-origin",
        headers: { accept: "text/plain" },
      });
      if (!response.ok) throw new Error(`${config.metricsPath} answered ${response.status}`);
      const text = await response.text();
      show(text, performance.now());
      window.__opsError = null;
    } catch (err) {
      window.__opsError = `cannot read ${config.metricsPath}: ${err && err.message ? err.message : err}`;
      const line = byId("status");
      line.className = "error";
      line.textContent = window.__opsError;
    } finally {
      inFlight = false;
      setTimeout(refresh, PERIOD_MS);
    }
  }

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && paused) {
      paused = false;
      refresh();
    }
  });
  refresh();
})();
