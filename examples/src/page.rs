//! The demo's browser page: `/app` loads the RUM module from `/pkg/` (built by
//! `cargo xtask wasm`) with `startRum`, so its Core Web Vitals reach `POST /rum` and show
//! on `/metrics` beside the server's own metrics; the backend trace that served the page
//! travels in `Server-Timing` to the beacon.
//!
//! The page is also the end-to-end scenario: a hero image answered after `image_ms`
//! (default 1200 ms) is the Largest Contentful Paint; three layout shifts are scripted
//! (at 300 ms and 700 ms — one session window — and a smaller one at 2500 ms); the "Buy"
//! button's click handler blocks the main thread for `block_ms` (default 0); `errors=1`
//! throws an uncaught error and leaves a promise rejection unhandled. The page
//! keeps every report of its own `onX` subscriptions in `window.__vitals` (all changes)
//! and `window.__final` (final values only), and the browser's raw layout-shift entries in
//! `window.__shifts`. With `wv=1` it also loads Google's web-vitals (`/app/wv/web-vitals.js`,
//! npm `web-vitals` 6 under `target/peers/`) and keeps its reports in `window.__wv` and
//! `window.__wvFinal`, so both libraries measure the same page. With `attr=1` both are
//! their attribution builds (ours: `/pkg/sdk_wasm_rum.attribution.js`), and every report
//! keeps its `entries` count and its `attribution` (entries and elements by type).

use axum::extract::{Path, Query};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use std::sync::OnceLock;
use std::time::Duration;

/// Route templates the page reports under (also accepted by the ingestion route).
pub const RUM_ROUTES: [&str; 6] = [
    "/",
    "/app",
    "/app/next",
    "/app/soft",
    "/users/{id}",
    "/cached/users/{id}",
];

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>SDK demo shop</title>
<style>
  body { font: 16px/1.4 sans-serif; margin: 0; padding: 8px; }
  #hero { display: block; width: 400px; height: 300px; }
  .shift { background: #fd8; }
</style>
</head>
<body>
<h1>Demo shop</h1>
<button id="buy">Buy</button> <a id="next" href="/app/next">Next page</a>
<a id="soft" href="/app/soft">Offers (same page)</a>
<div id="content"></div>
<div id="shifts"></div>
<p>Browser vitals of this page reach <code>POST /rum</code> and appear on <a href="/metrics">/metrics</a>.</p>
<p id="module"></p>
<img id="hero" width="400" height="300" alt="hero">
<script type="module">
  const params = new URLSearchParams(location.search);
  const imageMs = Number(params.get('image_ms') ?? 1200);
  const blockMs = Number(params.get('block_ms') ?? 0);
  // `soft=1`: both libraries report soft navigations (web-vitals' `reportSoftNavs`).
  const reportSoftNavs = params.get('soft') === '1';
  // `attr=1`: both libraries' attribution builds.
  const attribution = params.get('attr') === '1';
  // Reports as plain data: `entries` by count, `attribution` with its entries and
  // elements by type (and LoAF's longest script by its fields).
  const flat = (a) => Object.fromEntries(Object.entries(a).map(([key, v]) => [key,
    !v || typeof v !== 'object' ? v
      : Array.isArray(v) ? v.length
      : key === 'longestScript' ? { subpart: v.subpart, intersectingDuration: v.intersectingDuration,
          sourceURL: v.entry.sourceURL, invoker: v.entry.invoker }
      : v.entryType ?? 'source']));
  const plain = ({ name, value, delta, id, rating, navigationType, entries, attribution }) =>
    ({ name, value, delta, id, rating, navigationType, entries: entries.length,
       ...(attribution && { attribution: flat(attribution) }) });
  window.__vitals = [];
  window.__final = [];
  window.__shifts = [];
  // web-vitals' own reports beside ours (`?wv=1`): all changes and final values.
  window.__wv = [];
  window.__wvFinal = [];
  window.__restores = 0;
  // Restores, and when the page's own callbacks ran in the frames after the last one's
  // `pageshow` (registered before the libraries', so each runs first in its frame):
  // [pageshow, first frame, second frame, third frame].
  addEventListener('pageshow', (event) => {
    if (!event.persisted) return;
    window.__restores += 1;
    const frames = window.__restoreFrames = [event.timeStamp];
    const next = () => requestAnimationFrame(() => frames.push(performance.now()) < 4 && next());
    next();
  });
  document.getElementById('hero').src = '/app/hero.png?delay_ms=' + imageMs;
  document.getElementById('buy').addEventListener('click', () => {
    const end = performance.now() + blockMs;
    while (performance.now() < end) {}
  });
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      window.__shifts.push({ value: e.value, startTime: e.startTime, hadRecentInput: e.hadRecentInput });
    }
  }).observe({ type: 'layout-shift', buffered: true });
  const shift = (px) => {
    const block = document.createElement('div');
    block.className = 'shift';
    block.style.height = px + 'px';
    document.getElementById('shifts').append(block);
  };
  setTimeout(() => shift(60), 300);
  setTimeout(() => shift(30), 700);
  setTimeout(() => shift(10), 2500);
  try {
    const build = attribution ? 'sdk_wasm_rum.attribution.js' : 'sdk_wasm_rum.js';
    const rum = await import('/pkg/' + build).catch((error) => {
      document.getElementById('module').textContent = 'The browser module is not built yet '
        + '(`cargo xtask wasm` builds it; `cargo xtask demo` is building it now): reload in a moment.';
      throw error;
    });
    await rum.default({ module_or_path: attribution ? '/pkg/sdk_wasm_rum_attribution_bg.wasm'
      : '/pkg/sdk_wasm_rum_bg.wasm' });
    rum.startRum({ endpoint: '/rum', service: 'demo-web', env: 'demo', version: '0.1.0',
                   routes: ROUTES, otlpEndpoint: OTLP_ENDPOINT, reportSoftNavs });
    for (const on of [rum.onLCP, rum.onCLS, rum.onINP, rum.onFCP, rum.onTTFB, rum.onFID]) {
      on((report) => window.__vitals.push(plain(report)), { reportAllChanges: true, reportSoftNavs });
      on((report) => window.__final.push(plain(report)), { reportSoftNavs });
    }
    // A single-page-app navigation: the URL changes and new content is painted.
    document.getElementById('soft').addEventListener('click', (event) => {
      event.preventDefault();
      history.pushState({}, '', '/app/soft');
      rum.routeChanged();
      const heading = document.createElement('h2');
      heading.style.fontSize = '64px';
      heading.textContent = 'Offers of the week';
      document.getElementById('content').replaceChildren(heading);
    });
    if (params.get('wv') === '1') {
      const wv = await import(attribution ? '/app/wv/web-vitals.attribution.js' : '/app/wv/web-vitals.js');
      for (const on of [wv.onLCP, wv.onCLS, wv.onINP, wv.onFCP, wv.onTTFB]) {
        on((report) => window.__wv.push(plain(report)), { reportAllChanges: true, reportSoftNavs });
        on((report) => window.__wvFinal.push(plain(report)), { reportSoftNavs });
      }
    }
    window.__rumReady = true;
    if (params.get('errors') === '1') {
      setTimeout(() => { throw new Error('demo failure: card declined'); }, 0);
      Promise.reject(new Error('demo rejection: stock service'));
    }
  } catch (error) {
    window.__rumError = String(error);
  }
</script>
</body>
</html>
"#;

const NEXT_PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>SDK demo: next</title>
<script type="speculationrules">
{"prerender": [{"source": "list", "urls": ["/app?image_ms=0&wv=1"]}]}
</script>
</head>
<body><h1>Second page</h1><p><a id="shop" href="/app?image_ms=0&wv=1">Back to the shop</a>
(prerendered: its vitals count from activation)</p></body></html>
"#;

/// `GET /app`. With `SDK_RUM_OTLP_ENDPOINT` set (an OTLP/HTTP collector's base URL that
/// allows the page's origin), the page also sends its values there as log events.
pub async fn app_page() -> Html<String> {
    let routes = serde_json::to_string(&RUM_ROUTES).unwrap_or_else(|_| "[]".into());
    let otlp = std::env::var("SDK_RUM_OTLP_ENDPOINT")
        .ok()
        .filter(|url| !url.is_empty())
        .and_then(|url| serde_json::to_string(&url).ok())
        .unwrap_or_else(|| "undefined".into());
    Html(
        PAGE.replace("ROUTES", &routes)
            .replace("OTLP_ENDPOINT", &otlp),
    )
}

/// `GET /app/next`: a page without the module, to navigate away and back; it prerenders
/// `/app?image_ms=0` (speculation rules), so following its link activates a prerendered
/// page.
pub async fn next_page() -> Html<&'static str> {
    Html(NEXT_PAGE)
}

/// `?delay_ms=N` of the hero image.
#[derive(Deserialize)]
pub struct HeroQuery {
    delay_ms: Option<u64>,
}

/// `GET /app/hero.png?delay_ms=N`: a 400×300 picture answered after `N` ms (at most 10 s).
/// Stored uncompressed, so Chromium does not discard it as a low-entropy LCP candidate.
pub async fn hero_image(Query(query): Query<HeroQuery>) -> Response {
    let delay = query.delay_ms.unwrap_or(0).min(10_000);
    tokio::time::sleep(Duration::from_millis(delay)).await;
    static HERO: OnceLock<Vec<u8>> = OnceLock::new();
    let body = HERO.get_or_init(|| hero_png(400, 300)).clone();
    ([(header::CONTENT_TYPE, "image/png")], body).into_response()
}

/// An RGB colour gradient as an uncompressed PNG (empty if encoding fails).
fn hero_png(width: u32, height: u32) -> Vec<u8> {
    let pixels: Vec<u8> = (0..height)
        .flat_map(|y| {
            (0..width).flat_map(move |x| [(x * 255 / width) as u8, (y * 255 / height) as u8, 160])
        })
        .collect();
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::NoCompression);
    let written = encoder.write_header().and_then(|mut writer| {
        writer.write_image_data(&pixels)?;
        writer.finish()
    });
    if written.is_err() {
        out.clear();
    }
    out
}

/// `GET /app/wv/web-vitals.js` and `/app/wv/web-vitals.attribution.js`: Google's web-vitals
/// (ES modules, standard and attribution builds) for side-by-side comparison: from the
/// directory `SDK_WEB_VITALS_DIST`, else npm's copy installed by `cargo xtask test`.
pub async fn web_vitals(Path(file): Path<String>) -> Response {
    if !matches!(file.as_str(), "web-vitals.js" | "web-vitals.attribution.js") {
        return StatusCode::NOT_FOUND.into_response();
    }
    let dist = std::env::var_os("SDK_WEB_VITALS_DIST").map_or_else(
        || {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../target/peers/wasm-tools/node_modules/web-vitals/dist")
        },
        Into::into,
    );
    let path = dist.join(file);
    match tokio::fs::read(&path).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, "text/javascript")], bytes).into_response(),
        Err(_) => (
            StatusCode::NOT_FOUND,
            "web-vitals is not installed: `cargo xtask test` installs it\n",
        )
            .into_response(),
    }
}

/// Where the module is served from: `SDK_RUM_PKG`, else the crate's `pkg/` directory.
fn pkg_dir() -> std::path::PathBuf {
    std::env::var_os("SDK_RUM_PKG").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk-wasm-rum/pkg"),
        Into::into,
    )
}

/// `GET /pkg/{file}`: the module's JS glue and wasm, nothing else.
pub async fn pkg_file(Path(file): Path<String>) -> Response {
    let content_type = match file.as_str() {
        "sdk_wasm_rum.js" | "sdk_wasm_rum.attribution.js" => "text/javascript",
        "sdk_wasm_rum_bg.wasm" | "sdk_wasm_rum_attribution_bg.wasm" => "application/wasm",
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    match tokio::fs::read(pkg_dir().join(&file)).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, content_type)], bytes).into_response(),
        Err(_) => (
            StatusCode::NOT_FOUND,
            "the browser module is not built: run `cargo xtask wasm`\n",
        )
            .into_response(),
    }
}
