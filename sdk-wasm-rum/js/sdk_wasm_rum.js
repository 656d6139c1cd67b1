// sdk-wasm-rum's JavaScript driver: loads the wasm engine, observes what it asks for,
// feeds it numbers, and hands its reports to callbacks and its beacons to the network.
// Every decision about a value is the engine's (src/engine.rs); this file only moves
// data. `cargo xtask wasm` minifies it into pkg/sdk_wasm_rum.js and, with esbuild's
// `ATTRIBUTION` defined true, into the attribution build pkg/sdk_wasm_rum.attribution.js
// (with its own module, sdk_wasm_rum_attribution_bg.wasm, whose reports name the entries
// that made each value): `entries` and web-vitals' `attribution` in every report, and a
// bounded summary of LCP, INP and CLS attribution in each beacon. In the default build
// every `ATTRIBUTION` branch is removed.
//
//   import init, { onLCP, onINP, onCLS, onFCP, onTTFB, onFID, startRum, routeChanged,
//                  disconnect } from '/pkg/sdk_wasm_rum.js';
//   await init();            // or init({ module_or_path: '/pkg/sdk_wasm_rum_bg.wasm' })
//   onLCP(({ name, value, rating, delta, id, navigationType }) => …, { reportAllChanges });
//
// A Rust application that links sdk-wasm-rum into its own module answers the module's
// `rum` imports with this file's named exports and calls `attach(exports)` once.

const perf = performance;
const doc = document;
const win = globalThis;
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const ENTRY_TYPES = ['largest-contentful-paint', 'paint', 'layout-shift', 'event', 'first-input',
  'soft-navigation', 'interaction-contentful-paint'];
const NAMES = ['LCP', 'INP', 'CLS', 'FCP', 'TTFB', 'FID'];
const RATINGS = ['good', 'needs-improvement', 'poor'];
const NAVIGATION_TYPES = ['navigate', 'reload', 'back-forward', 'back-forward-cache',
  'prerender', 'restore', 'soft-navigation'];
// Page events, by the engine's codes (src/engine.rs `PageEvent`).
const PAGE_EVENTS = ['visibilitychange', 'pagehide', 'pageshow', 'prerenderingchange', 'load',
  'keydown', 'click', 'pointerdown'];
// Bytes of keepalive requests in flight: the browser allows 64 KiB for the page in all,
// shared with the page's own keepalive requests, so ours stay well under it.
const KEEPALIVE_BUDGET = 32768;

let wasm;
// Per subscription index: { c(allback), o(bservers): [[observer, kinds]] }.
let subscriptions = [];
let listening;
let keepaliveBytes = 0;
let minInteractionId = Infinity;
let maxInteractionId = 0;
let interactionObserver;

const slot = (index) => (subscriptions[index] ||= { o: [] });

const navigationEntry = () => {
  const entry = perf.getEntriesByType('navigation')[0];
  return entry && entry.responseStart > 0 && entry.responseStart < perf.now() ? entry : undefined;
};

// The engine's queries (src/engine.rs `Query`), by code.
const QUERIES = [
  () => perf.now(),
  () => Date.now(),
  () => Math.random(),
  () => navigationEntry()?.responseStart ?? -1,
  () => navigationEntry()?.activationStart || 0,
  () => ({ reload: 1, back_forward: 2, prerender: 4 })[navigationEntry()?.type] || 0,
  () => +(doc.visibilityState == 'hidden'),
  () => +!!doc.prerendering,
  () => +!!doc.wasDiscarded,
  () => +(doc.readyState == 'complete'),
  () => interactionObserver
    ? (maxInteractionId ? (maxInteractionId - minInteractionId) / 7 + 1 : 0)
    : perf.interactionCount ?? 0,
  () => {
    const activation = QUERIES[4]();
    const hidden = perf.getEntriesByType('visibility-state')
      .find((e) => e.name == 'hidden' && e.startTime >= activation);
    return hidden ? hidden.startTime : -1;
  },
];

const text = (pointer, length) => decoder.decode(new Uint8Array(wasm.memory.buffer, pointer, length));

// Writes `value` into the engine's scratch buffer; returns its length in bytes.
const put = (value) => {
  const bytes = encoder.encode(value);
  // Asked for first: making room may grow the memory, which detaches older views. No
  // room (0) for text longer than the engine takes: it then ignores the call.
  const at = wasm.b(bytes.length);
  if (at) new Uint8Array(wasm.memory.buffer, at, bytes.length).set(bytes);
  return bytes.length;
};

// `fetch` with `keepalive` while the page's keepalive budget allows, else `sendBeacon`
// (which has its own queue), else a plain `fetch`. Failures are the network's: ignored.
const post = (url, body, type) => {
  const size = encoder.encode(body).length;
  const keepalive = keepaliveBytes + size <= KEEPALIVE_BUDGET;
  if (!keepalive && type[0] == 't' && navigator.sendBeacon?.(url, body)) return;
  if (keepalive) keepaliveBytes += size;
  fetch(url, { method: 'POST', body, keepalive, headers: { 'content-type': type } })
    .catch(() => {})
    .finally(() => keepalive && (keepaliveBytes -= size));
};

// `startRum`'s endpoints and identity, and the items of the body being sent next.
let config;
let items = [];

// The collector's logs endpoint.
const logsUrl = (base) => base.replace(/\/$/, '') + '/v1/logs';

// An OTLP/HTTP JSON attribute.
const attribute = (key, value) =>
  ({ key, value: value.toFixed ? { doubleValue: value } : { stringValue: value } });

// Feeds an observer's entries (the end of the batch marked) to the engine, as numbers
// (src/engine.rs `EntryKind`); a soft navigation brings its largest contentful paint.
const feed = (index, entries) => {
  entries = entries.filter((e) => e.entryType != 'paint' || e.name == 'first-contentful-paint');
  entries.forEach((e, i) => {
    const kind = ENTRY_TYPES.indexOf(e.entryType);
    const n = ATTRIBUTION ? ++counter * 32 + index : undefined;
    if (ATTRIBUTION) keep(e, kind, n, index);
    wasm.e(index, kind, e.startTime,
      kind == 2 ? e.value : kind == 5 ? e.presentationTime || e.paintTime || 0
        : kind == 6 ? e.largestContentfulPaint?.renderTime || 0 : e.duration,
      kind == 2 ? +e.hadRecentInput : e.interactionId || 0,
      (kind == 5 ? e.navigationId : e.processingStart) || 0, +(i == entries.length - 1), n);
    // The soft navigation ended the subscription's INP (reported above): a new one starts.
    if (ATTRIBUTION && kind == 5 && slot(index).t) slot(index).t = [];
    const largest = kind == 5 && e.getLargestInteractionContentfulPaint();
    if (largest) feed(index, [largest]);
  });
};

// Entries the browser has not delivered yet (before the page hides or a route ends).
const takeRecords = () => subscriptions.forEach((s, index) =>
  s?.o.forEach(([observer]) => feed(index, observer.takeRecords())));

const whenIdleOrHidden = (callback) => {
  if (doc.visibilityState == 'hidden') return queueMicrotask(callback);
  let done;
  const run = () => {
    if (!done) {
      done = 1;
      removeEventListener('visibilitychange', run, true);
      callback();
    }
  };
  addEventListener('visibilitychange', run, true);
  (win.requestIdleCallback || setTimeout)(run, { timeout: 1000 });
};

// The attribution build's state: entries by their number (the newest MAX_KEPT), the
// elements' selectors taken when their entries came (the element may be gone by the
// report), and INP's longest interactions (per subscription, `t`: each starts afresh at
// its own soft navigations), render-time groups and long animation frames, bounded as
// web-vitals bounds them. An entry's number is `count * 32 + subscription`, so a CLS
// window's range holds its own subscription's entries only.
const MAX_KEPT = 512;
let counter = 0;
let kept;
let targets;
let processed;
let groupOf;
// { s(tartTime), p(rocessingStart), q (processingEnd), r(enderTime) }
let groups = [];
let frames = [];
let latestProcessingEnd = 0;
let cleanupPending;
let softNavigation;
let restoreTime = -1;

// web-vitals' `getSelector`: at most 100 characters, up to the nearest id.
const selector = (node) => {
  let text = '';
  try {
    while (node?.nodeType != 9) {
      const name = node.nodeName;
      const part = node.id ? '#' + node.id : [node.nodeType == 1 ? name.toLowerCase()
        : name.toUpperCase().replace(/^#/, ''), ...Array.from(node.classList ?? []).sort()].join('.');
      if (text.length + part.length > 99) return text || part;
      text = text ? part + '>' + text : part;
      if (node.id) break;
      node = node.parentNode;
    }
  } catch {}
  return text;
};

const largestSource = (sources) => sources.find((s) => s.node?.nodeType == 1) || sources[0];

// web-vitals' `getLoadState`.
const loadState = (time) => {
  const entry = navigationEntry();
  return doc.readyState == 'loading' || entry && time < entry.domInteractive ? 'loading'
    : entry && (!entry.domContentLoadedEventStart || time < entry.domContentLoadedEventStart)
      ? 'dom-interactive'
      : entry && (!entry.domComplete || time < entry.domComplete) ? 'dom-content-loaded'
        : 'complete';
};

const intersectingFrames = (start, end) =>
  frames.filter((f) => f.startTime + f.duration >= start && f.startTime <= end);

// web-vitals' `cleanupEntries`, when the page is idle: the last 10 groups and those of the
// longest interactions, the frames that intersect them or came after the last processing.
const cleanup = () => {
  const longest = new Set(allInteractions().map((i) => groupOf.get(i.e[0])));
  groups = groups.filter((g, i) => i >= groups.length - 10 || longest.has(g));
  const intersecting = new Set(groups.flatMap((g) => intersectingFrames(g.s, g.q)));
  frames = frames.filter((f, i) => intersecting.has(f)
    || i >= frames.length - 10 && f.startTime > latestProcessingEnd);
  cleanupPending = 0;
};
const queueCleanup = () => {
  if (!cleanupPending) {
    cleanupPending = 1;
    whenIdleOrHidden(cleanup);
  }
};

// Every subscription's longest interactions: { i(d), l(atency), e(ntries) }, longest
// first, at most 10 each (web-vitals' rule).
const allInteractions = () => subscriptions.flatMap((s) => s?.t || []);

// An event entry of subscription `s`: its render-time group (once for all subscriptions)
// and the subscription's interaction list.
const interaction = (e, s) => {
  const id = e.interactionId;
  if (!processed.has(e)) {
    processed.add(e);
    const renderTime = e.startTime + e.duration;
    latestProcessingEnd = Math.max(latestProcessingEnd, e.processingEnd);
    let g = groups.findLast((g) => Math.abs(renderTime - g.r) <= 8);
    if (g) {
      g.s = Math.min(e.startTime, g.s);
      g.p = Math.min(e.processingStart, g.p);
      g.q = Math.max(e.processingEnd, g.q);
    } else {
      groups.push(g = { s: e.startTime, p: e.processingStart, q: e.processingEnd, r: renderTime });
    }
    if (id) groupOf.set(e, g);
    queueCleanup();
  }
  const interactions = s.t;
  if (!id || !interactions) return;
  let i = interactions.find((i) => i.i == id);
  if (!(i || interactions.length < 10 || e.duration > interactions.at(-1).l)) return;
  if (!i) interactions.push(i = { i: id, l: e.duration, e: [e] });
  else if (e.duration > i.l) Object.assign(i, { l: e.duration, e: [e] });
  else if (e.duration == i.l && e.startTime == i.e[0].startTime) i.e.push(e);
  interactions.sort((a, b) => b.l - a.l).splice(10);
  if (!targets.has(i)) {
    const node = i.e.find((e) => e.target)?.target;
    const text = node ? selector(node) : i.e.find((e) => e.targetSelector)?.targetSelector;
    if (text) targets.set(i, text);
  }
};

// Keeps entry `e` (of kind `kind`, for subscription `index`) as number `n`, with the
// selectors it needs.
const keep = (e, kind, n, index) => {
  // A soft navigation's interaction-contentful-paint stands for its largest paint (the
  // entry web-vitals reports).
  if (kind == 6) e = e.largestContentfulPaint || e;
  kept.set(n, e);
  if (kept.size > MAX_KEPT) kept.delete(kept.keys().next().value);
  if ((!kind || kind == 6) && !targets.has(e)) {
    const text = e.element ? selector(e.element) : e.id && '#' + e.id;
    if (text) targets.set(e, text);
  }
  const source = kind == 2 && !e.hadRecentInput && e.sources?.length && largestSource(e.sources);
  if (source?.node) targets.set(source, selector(source.node));
  if (kind == 3 || kind == 4) interaction(e, slot(index));
  if (kind == 5) softNavigation = e;
};

// web-vitals' `attributeLoAFDetails`.
const frameDetails = (a) => {
  const { interactionTime: start, nextPaintTime: paint, inputDelay, processingDuration } = a;
  const list = a.longAnimationFrameEntries;
  if (!list.length || !start || !paint) return;
  let script = 0;
  let styleAndLayout = 0;
  let longest = 0;
  let longestEntry;
  let subpart;
  for (const frame of list) {
    styleAndLayout += frame.startTime + frame.duration - frame.styleAndLayoutStart;
    for (const s of frame.scripts) {
      const end = s.startTime + s.duration;
      if (end < start) continue;
      const intersecting = end - Math.max(start, s.startTime);
      const forced = s.duration ? intersecting / s.duration * s.forcedStyleAndLayoutDuration : 0;
      script += intersecting - forced;
      styleAndLayout += forced;
      if (intersecting > longest) {
        subpart = s.startTime < start + inputDelay ? 'input-delay'
          : s.startTime >= start + inputDelay + processingDuration ? 'presentation-delay'
            : 'processing-duration';
        longestEntry = s;
        longest = intersecting;
      }
    }
  }
  const last = list.at(-1);
  const lastEnd = last.startTime + last.duration;
  const paintDuration = lastEnd >= start + inputDelay + processingDuration ? paint - lastEnd : 0;
  if (longestEntry) a.longestScript = { entry: longestEntry, subpart, intersectingDuration: longest };
  Object.assign(a, { totalScriptDuration: script, totalStyleAndLayoutDuration: styleAndLayout,
    totalPaintDuration: paintDuration,
    totalUnattributedDuration: paint - start - script - styleAndLayout - paintDuration });
};

// The report's `entries` and web-vitals' `attribution` (its attribution build's rules),
// from the entries the engine names: numbers `first` to `last`, or INP's interaction id.
const attributed = (m, first, last) => {
  const { name, value, navigationType } = m;
  const soft = navigationType == 'soft-navigation';
  const restored = navigationType == 'back-forward-cache';
  const nav = navigationEntry();
  const entry = kept.get(first);
  let entries = entry ? [entry] : [];
  let a;
  if (name == 'LCP') {
    a = { timeToFirstByte: 0, resourceLoadDelay: 0, resourceLoadDuration: 0,
      elementRenderDelay: value };
    if (entry) {
      const isResource = (r) => r.name == entry.url
        && (r.requestStart || r.startTime) <= entry.startTime;
      const resource = entry.url && perf.getEntriesByType('resource').findLast(isResource);
      a.target = targets.get(entry);
      a.lcpEntry = entry;
      if (entry.url) a.url = entry.url;
      if (resource) a.lcpResourceEntry = resource;
      const navigation = soft ? softNavigation : nav;
      const activation = soft ? softNavigation?.startTime || 0 : nav?.activationStart ?? 0;
      if (navigation) {
        const ttfb = Math.max(0, (soft ? 0 : nav.responseStart) - activation);
        const requestStart = Math.max(ttfb,
          resource ? (resource.requestStart || resource.startTime) - activation : 0);
        const responseEnd = Math.min(value,
          Math.max(requestStart, resource ? resource.responseEnd - activation : 0));
        Object.assign(a, { timeToFirstByte: ttfb, resourceLoadDelay: requestStart - ttfb,
          resourceLoadDuration: responseEnd - requestStart,
          elementRenderDelay: value - responseEnd, navigationEntry: navigation });
      }
    }
  } else if (name == 'FCP') {
    a = { timeToFirstByte: 0, firstByteToFCP: value, loadState: loadState(restoreTime) };
    if (soft && softNavigation) {
      a = { timeToFirstByte: 0, firstByteToFCP: value, loadState: 'complete',
        navigationEntry: softNavigation };
    } else if (!soft && entry && nav) {
      const ttfb = Math.max(0, nav.responseStart - (nav.activationStart || 0));
      a = { timeToFirstByte: ttfb, firstByteToFCP: value - ttfb,
        loadState: loadState(entry.startTime), navigationEntry: nav, fcpEntry: entry };
    }
  } else if (name == 'TTFB') {
    // A soft navigation's TTFB stands on its entry (no timings: its parts are 0).
    entries = soft ? [softNavigation] : restored || !nav ? [] : [nav];
    const n = entries[0];
    a = { waitingDuration: 0, cacheDuration: 0, dnsDuration: 0, connectionDuration: 0,
      requestDuration: 0, navigationEntry: n };
    if (n?.entryType == 'navigation') {
      const activation = n.activationStart || 0;
      const after = (time) => Math.max(time - activation, 0);
      const waitEnd = after(n.workerStart || n.fetchStart || 0);
      const dns = after(n.domainLookupStart);
      const connect = after(n.connectStart);
      const connected = after(n.connectEnd);
      a = { waitingDuration: waitEnd, cacheDuration: dns - waitEnd, dnsDuration: connect - dns,
        connectionDuration: connected - connect, requestDuration: value - connected,
        navigationEntry: n };
    }
  } else if (name == 'CLS') {
    entries = [];
    for (let n = first; n && n <= last; n += 32) {
      const e = kept.get(n);
      if (e?.entryType == 'layout-shift' && !e.hadRecentInput) entries.push(e);
    }
    a = {};
    const largest = entries.length && entries.reduce((a, b) => (a.value > b.value ? a : b));
    const source = largest?.sources?.length && largestSource(largest.sources);
    if (source) {
      a = { largestShiftTarget: targets.get(source), largestShiftTime: largest.startTime,
        largestShiftValue: largest.value, largestShiftSource: source, largestShiftEntry: largest,
        loadState: loadState(largest.startTime) };
    }
  } else if (name == 'INP') {
    const i = allInteractions().find((i) => i.i == first);
    entries = i?.e || [];
    const e = entries[0];
    const g = e && groupOf.get(e);
    a = { processedEventEntries: [], longAnimationFrameEntries: [], inputDelay: 0,
      processingDuration: 0, presentationDelay: value,
      loadState: loadState(restored ? restoreTime : soft ? softNavigation?.startTime || 0 : 0) };
    if (g) {
      const processingStart = Math.max(g.p, e.startTime);
      const nextPaintTime = Math.max(e.startTime + e.duration, processingStart);
      const processingEnd = Math.min(g.q, nextPaintTime);
      a = { interactionTarget: targets.get(i),
        interactionType: e.name.startsWith('key') ? 'keyboard' : 'pointer',
        interactionTime: e.startTime, nextPaintTime, processedEventEntries: [],
        longAnimationFrameEntries: intersectingFrames(e.startTime, processingEnd),
        inputDelay: processingStart - e.startTime,
        processingDuration: processingEnd - processingStart,
        presentationDelay: nextPaintTime - processingEnd, loadState: loadState(e.startTime),
        longestScript: undefined, totalScriptDuration: undefined,
        totalStyleAndLayoutDuration: undefined, totalPaintDuration: undefined,
        totalUnattributedDuration: undefined };
      frameDetails(a);
    }
  }
  return { entries, attribution: a };
};

// A beacon's bounded copy of LCP, INP and CLS attribution: selectors as web-vitals cuts
// them (100 characters), URLs without query or fragment (200 characters), invokers
// without query (100 characters), numbers.
const summary = (name, a) => {
  const url = (u) => u?.split(/[?#]/)[0].slice(0, 200);
  const script = a?.longestScript;
  return name == 'LCP' ? { target: a.target, url: url(a.url), timeToFirstByte: a.timeToFirstByte,
    resourceLoadDelay: a.resourceLoadDelay, resourceLoadDuration: a.resourceLoadDuration,
    elementRenderDelay: a.elementRenderDelay }
    : name == 'INP' ? { target: a.interactionTarget?.slice(0, 100),
      interactionType: a.interactionType, inputDelay: a.inputDelay,
      processingDuration: a.processingDuration, presentationDelay: a.presentationDelay,
      loadState: a.loadState, scriptUrl: url(script?.entry.sourceURL),
      // An invoker is `BUTTON#buy.onclick` or a script's URL: its query is cut.
      scriptInvoker: script?.entry.invoker?.split('?')[0].slice(0, 100),
      scriptSubpart: script?.subpart,
      scriptDuration: script?.intersectingDuration }
      : name == 'CLS' ? { target: a.largestShiftTarget, largestShiftTime: a.largestShiftTime,
        largestShiftValue: a.largestShiftValue, loadState: a.loadState }
        : undefined;
};

// The imports of module `rum` (src/ffi.rs), one-letter names: q(uery), o(bserve),
// u(nobserve), l(ater), r(eport), (error) i(tem), s(end), c(onfigure). The module's
// exports: b(uffer), s(ubscribe), u(nsubscribe), e(ntry), (e)v(ent), t(imer), (sta)r(t),
// (rout)n, (error) x, d(isconnect).
export const q = (query) => QUERIES[query]();

// One observer of the entry types in `kinds` (bit 1 << kind), as web-vitals' `observe`:
// several types come in order of startTime + duration; `idle`: handled when the page is
// idle or hidden (INP).
export const o = (index, kinds, durationThreshold, idle) => {
  try {
    const types = ENTRY_TYPES.filter((type, kind) => kinds >> kind & 1
      && PerformanceObserver.supportedEntryTypes.includes(type)
      // Soft navigations as web-vitals supports them (the launched API only).
      && (kind != 5 || typeof PerformanceSoftNavigation.prototype
        .getLargestInteractionContentfulPaint == 'function'));
    if (!types.length) return 0;
    const observer = new PerformanceObserver((list) => queueMicrotask(() => {
      const entries = list.getEntries();
      if (types.length > 1) {
        entries.sort((a, b) => a.startTime + a.duration - b.startTime - b.duration);
      }
      if (idle) whenIdleOrHidden(() => feed(index, entries));
      else feed(index, entries);
    }));
    for (const type of types) {
      observer.observe({ type, buffered: true, ...(durationThreshold && { durationThreshold }) });
    }
    slot(index).o.push([observer, kinds]);
    // INP's observer (`event` entries): its subscription keeps interactions.
    if (ATTRIBUTION && kinds & 8) slot(index).t ||= [];
    return 1;
  } catch {
    return 0;
  }
};

export const u = (index, kind) => {
  const s = subscriptions[index];
  if (s) {
    s.o = s.o.filter(([observer, kinds]) => kind >= 0 && !(kinds >> kind & 1)
      || observer.disconnect());
  }
};

export const l = (token, wait) => {
  const fire = () => wasm.t(token);
  if (wait == 1) requestAnimationFrame(() => requestAnimationFrame(fire));
  else if (wait == 2) whenIdleOrHidden(fire);
  else setTimeout(fire);
};

// One report to its callback, or (index u32::MAX, -1 here: wasm's i32 is signed in
// JavaScript) an item of the body being sent next.
// `first` and `last` name the entries that made the value (the attribution build).
export const r = (index, name, value, delta, epoch, random, rating, navigationType, first, last) => {
  const report = { name: NAMES[name], value, delta, id: `v6-${epoch}-${random}`,
    rating: RATINGS[rating], navigationType: NAVIGATION_TYPES[navigationType] };
  if (ATTRIBUTION) {
    const extra = attributed(report, first, last);
    if (index >= 0) return subscriptions[index]?.c?.({ ...report, ...extra });
    report.attribution = summary(report.name, extra.attribution);
  }
  if (index < 0) items.push(report);
  else subscriptions[index]?.c?.({ ...report, entries: [] });
};

// An error of the beacon being sent next.
export const i = (kind, pointer, length) =>
  items.push({ kind: kind ? 'unhandled-rejection' : 'error', message: text(pointer, length) });

// Sends the items: a beacon to the ingestion route (`sendBeacon` when the page is being
// hidden) and, with `otlpEndpoint`, the same values as OTLP/HTTP JSON log events.
export const s = (unloading, droppedErrors, route, routeLength, traceId, traceIdLength) => {
  const list = items;
  items = [];
  route = text(route, routeLength);
  traceId = text(traceId, traceIdLength) || undefined;
  const { endpoint, service, version, env, otlpEndpoint } = config;
  const vitals = list.filter((v) => v.name);
  // Attribution never costs a beacon its values: past 16 K characters (48 KiB at most in
  // UTF-8, under the route's 64 KiB) the vitals go without it.
  if (ATTRIBUTION && JSON.stringify(vitals).length > 16384) {
    vitals.forEach((v) => delete v.attribution);
  }
  const body = JSON.stringify({ service, version: version || undefined, env: env || undefined,
    traceId, route, vitals, errors: list.filter((v) => v.kind), droppedErrors });
  if (!(unloading && navigator.sendBeacon?.(endpoint, body))) post(endpoint, body, 'text/plain;charset=UTF-8');
  if (!otlpEndpoint || !vitals.length) return;
  const time = Date.now() + '000000';
  const resource = [attribute('service.name', service)];
  if (version) resource.push(attribute('service.version', version));
  if (env) resource.push(attribute('deployment.environment.name', env));
  const logRecords = vitals.map((v) => ({
    timeUnixNano: time, eventName: 'browser.web_vital', traceId,
    attributes: [['name', v.name], ['value', v.value], ['delta', v.delta], ['id', v.id],
      ['rating', v.rating], ['navigation_type', v.navigationType]]
      .map(([key, value]) => attribute('browser.web_vital.' + key, value))
      .concat(attribute('url.template', route)),
  }));
  // The beacon's attribution summary: `browser.web_vital.attribution.target`, ….
  if (ATTRIBUTION) {
    vitals.forEach((v, i) => logRecords[i].attributes.push(...Object.entries(v.attribution || {})
      .filter(([, value]) => value != null)
      .map(([key, value]) => attribute('browser.web_vital.attribution.'
        + key.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase()), value))));
  }
  post(logsUrl(otlpEndpoint), JSON.stringify({ resourceLogs: [{
    resource: { attributes: resource },
    scopeLogs: [{ scope: { name: 'sdk-wasm-rum' }, logRecords }] }] }), 'application/json');
};

// The configuration of a `start_rum` called from Rust (the Rust API): the fields
// `endpoint`, `service`, `version`, `env`, `otlpEndpoint`, separated by NUL.
export const c = (pointer, length) => {
  const [endpoint, service, version, env, otlpEndpoint] = text(pointer, length).split('\0');
  config = { endpoint, service, version, env, otlpEndpoint };
};

const onPageEvent = (event) => {
  const type = event.type;
  let code = PAGE_EVENTS.indexOf(type);
  // `error` and `unhandledrejection`, the listener's other events.
  if (code < 0) return onError(event);
  // visibilitychange: 0 hidden, 1 visible; then pagehide 2 … pointerdown 8.
  if (code == 0) code = +(doc.visibilityState != 'hidden');
  else code += 1;
  if ((code == 3 && !event.persisted) || (code == 5 && event.target != doc)
      || (code > 5 && !event.isTrusted)) return;
  if (!code) takeRecords();
  if (ATTRIBUTION && code == 3) restoreTime = event.timeStamp;
  wasm.v(code, event.timeStamp);
  // The restore started new INP metrics: their interactions start afresh.
  if (ATTRIBUTION && code == 3) subscriptions.forEach((s) => s?.t && (s.t = []));
};

const onError = (event) => {
  const rejection = event.type[0] == 'u';
  const reason = event.reason;
  const message = rejection ? reason?.message ?? String(reason) : event.message;
  // The engine keeps 256 bytes: 999 characters always fit its buffer.
  if (message != null) wasm.x(+rejection, put(String(message).slice(0, 999)));
};

const listen = (on) => PAGE_EVENTS.concat('error', 'unhandledrejection')
  .forEach((type) => (on ? addEventListener : removeEventListener)(type, onPageEvent, true));

// Connects the driver to a module's exports (`init` does it for the bundle).
export const attach = (exports) => {
  wasm = exports;
  if (ATTRIBUTION && !kept) {
    kept = new Map();
    targets = new WeakMap();
    processed = new WeakSet();
    groupOf = new WeakMap();
    try {
      new PerformanceObserver((list) => queueMicrotask(() => {
        frames = frames.concat(list.getEntries());
        queueCleanup();
      })).observe({ type: 'long-animation-frame', buffered: true });
    } catch {}
  }
  if (!('interactionCount' in perf) && !interactionObserver) {
    try {
      interactionObserver = new PerformanceObserver((list) => list.getEntries().forEach((e) => {
        if (e.interactionId) {
          minInteractionId = Math.min(minInteractionId, e.interactionId);
          maxInteractionId = Math.max(maxInteractionId, e.interactionId);
        }
      }));
      interactionObserver.observe({ type: 'event', buffered: true, durationThreshold: 0 });
    } catch {}
  }
};

// Loads the module: `init()`, `init(url)` or `init({ module_or_path })`.
export default async function init(options) {
  const source = options?.module_or_path ?? options
    ?? new URL(ATTRIBUTION ? 'sdk_wasm_rum_attribution_bg.wasm' : 'sdk_wasm_rum_bg.wasm',
      import.meta.url);
  const response = await fetch(source);
  const imports = { rum: { q, o, u, l, r, i, s, c } };
  const { instance } = await WebAssembly.instantiate(await response.arrayBuffer(), imports);
  attach(instance.exports);
  return instance.exports;
}

const subscribe = (name) => (callback, options) => {
  if (!listening) listen((listening = 1));
  const index = wasm.s(name, +!!options?.reportAllChanges, +!!options?.reportSoftNavs);
  slot(index).c = callback;
  return () => {
    if (subscriptions[index]?.c == callback) {
      wasm.u(index);
      subscriptions[index] = undefined;
    }
  };
};

export const onLCP = subscribe(0);
export const onINP = subscribe(1);
export const onCLS = subscribe(2);
export const onFCP = subscribe(3);
export const onTTFB = subscribe(4);
export const onFID = subscribe(5);

// Stops every subscription and `startRum`, and removes every listener.
export const disconnect = () => {
  wasm.d();
  subscriptions.forEach((s) => s?.o.forEach(([observer]) => observer.disconnect()));
  subscriptions = [];
  listen((listening = 0));
};

// A single-page app moved to another route (call it after `history.pushState`): the
// values so far are sent under the old route; CLS and INP start again, or, with
// `reportSoftNavs` where the browser reports soft navigations, every metric starts again
// at the browser's `soft-navigation` entry.
export const routeChanged = () => {
  takeRecords();
  wasm.n(put(location.pathname));
};

// `startRum({ endpoint, service, version, env, sampleRate, routes, otlpEndpoint,
// reportSoftNavs })`: every metric and the page's errors, sent to `endpoint`. `false`
// when sampled out. With `reportSoftNavs`, where the browser reports soft navigations,
// they (not `routeChanged()`) start each route's metrics, LCP, FCP and TTFB included.
export const startRum = (options) => {
  const { endpoint, service, version, env, otlpEndpoint } = options;
  if (!endpoint || !service) throw new Error('startRum needs endpoint and service');
  if (!listening) listen((listening = 1));
  const timing = navigationEntry()?.serverTiming?.find((t) => t.name == 'traceparent');
  const traceparent = timing?.description
    ?? doc.querySelector('meta[name=traceparent]')?.content;
  const fields = [service, version, env, location.pathname, traceparent, ...(options.routes || [])];
  const started = !!wasm.r(put(fields.join('\0')),
    options.sampleRate ?? 1, +!!options.reportSoftNavs);
  if (started) {
    config = options;
    // A collector on another origin needs a CORS preflight for JSON: an empty request now
    // has it answered (and cached) long before the page hides.
    if (otlpEndpoint && new URL(otlpEndpoint, location.href).origin != location.origin) {
      post(logsUrl(otlpEndpoint), '{"resourceLogs":[]}', 'application/json');
    }
  }
  return started;
};
