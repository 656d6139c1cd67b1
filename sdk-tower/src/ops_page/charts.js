// Small hand-drawn SVG charts: a line over the last refreshes and horizontal latency bars.
// Text goes in with textContent only.
const OpsCharts = (() => {
  "use strict";
  const NS = "http://www.w3.org/2000/svg";

  function svg(tag, attributes) {
    const el = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attributes || {})) el.setAttribute(k, String(v));
    return el;
  }

  function text(x, y, content, attributes) {
    const el = svg("text", Object.assign({ x, y }, attributes));
    el.textContent = content;
    return el;
  }

  /**
   * A line chart of `points` (`{t, v}`, v a finite number or null for a gap) into
   * `container`, scaled from 0 to the largest value; the largest and the last value are
   * labelled with `format`.
   */
  function line(container, name, points, format) {
    const width = 320;
    const height = 96;
    const pad = 4;
    const chart = svg("svg", {
      viewBox: `0 0 ${width} ${height}`,
      role: "img",
      class: "line",
      "data-chart": name,
    });
    chart.appendChild(svg("line", { x1: 0, y1: height - pad, x2: width, y2: height - pad, class: "axis" }));
    const values = points.map((p) => p.v).filter((v) => v !== null);
    if (values.length === 0) {
      chart.appendChild(text(width / 2, height / 2, "no data", { class: "empty", "text-anchor": "middle" }));
      container.replaceChildren(chart);
      return;
    }
    const max = Math.max(...values);
    const top = max > 0 ? max : 1;
    const step = points.length > 1 ? (width - 2 * pad) / (points.length - 1) : 0;
    const y = (v) => height - pad - (v / top) * (height - 4 * pad);
    let path = "";
    let pen = false;
    points.forEach((p, i) => {
      if (p.v === null) {
        pen = false;
        return;
      }
      const x = pad + i * step;
      path += `${pen ? "L" : "M"}${x.toFixed(1)},${y(p.v).toFixed(1)}`;
      pen = true;
    });
    chart.appendChild(svg("path", { d: path, class: "trace" }));
    const last = values[values.length - 1];
    chart.appendChild(
      text(pad, 12, `max ${format(max)}`, { class: "label", "data-chart": name, "data-field": "max", "data-value": max }),
    );
    chart.appendChild(
      text(width - pad, 12, `now ${format(last)}`, {
        class: "label",
        "text-anchor": "end",
        "data-chart": name,
        "data-field": "last",
        "data-value": last,
      }),
    );
    container.replaceChildren(chart);
  }

  /**
   * Horizontal bars, one per item (`{route, label, values: [p50, p95, p99]}` in seconds or null):
   * the bar reaches p99, with marks at p50 and p95, scaled to the largest p99.
   */
  function latencyBars(container, items, format) {
    const rowHeight = 22;
    const labelWidth = 240;
    const width = 900;
    const shown = items.filter((item) => item.values[2] !== null);
    const height = Math.max(rowHeight, shown.length * rowHeight);
    const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", class: "bars", "data-chart": "latency" });
    if (shown.length === 0) {
      chart.appendChild(text(width / 2, 15, "no data", { class: "empty", "text-anchor": "middle" }));
      container.replaceChildren(chart);
      return;
    }
    const top = Math.max(...shown.map((item) => item.values[2])) || 1;
    const span = width - labelWidth - 70;
    const x = (v) => labelWidth + (v / top) * span;
    shown.forEach((item, i) => {
      const y = i * rowHeight;
      const short = item.label.length > 36 ? item.label.slice(0, 35) + "…" : item.label;
      const name = text(labelWidth - 6, y + 15, short, { class: "label", "text-anchor": "end" });
      const full = svg("title");
      full.textContent = item.label;
      name.appendChild(full);
      chart.appendChild(name);
      chart.appendChild(svg("rect", { x: labelWidth, y: y + 5, width: Math.max(1, x(item.values[2]) - labelWidth), height: 12, class: "bar" }));
      for (const v of item.values.slice(0, 2)) {
        if (v !== null) chart.appendChild(svg("line", { x1: x(v), y1: y + 3, x2: x(v), y2: y + 19, class: "mark" }));
      }
      chart.appendChild(
        text(x(item.values[2]) + 4, y + 15, format(item.values[2]), {
          class: "label",
          "data-chart": "latency",
          "data-route": item.route,
          "data-field": "p99",
          "data-value": item.values[2],
        }),
      );
    });
    container.replaceChildren(chart);
  }

  return { line, latencyBars };
})();
