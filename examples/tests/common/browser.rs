//! ChromeDriver and one headless Chromium session (`$CHROMEDRIVER`, else
//! `/usr/bin/chromedriver`; Chromium at `/usr/bin/chromium`), both killed on drop.

use fantoccini::{Client, ClientBuilder};
use serde_json::{Value, json};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A WebDriver session on a headless Chromium.
pub(crate) struct Browser {
    driver: Child,
    /// The WebDriver client.
    pub(crate) client: Client,
}

impl Browser {
    /// Starts ChromeDriver on a free port and opens a session with a `width`×`height`
    /// window.
    pub(crate) async fn start(width: u32, height: u32) -> Self {
        let chromedriver =
            std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("{chromedriver} does not start ({e}); `cargo xtask test` installs it")
            });
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": "/usr/bin/chromium",
                "args": ["--headless", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--disable-background-networking",
                         "--disable-component-update", "--no-first-run",
                         format!("--window-size={width},{height}")],
            }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        let client = loop {
            match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                Err(err) if Instant::now() > deadline => {
                    panic!("no WebDriver session from {chromedriver} within 60 s: {err}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        Self { driver, client }
    }

    /// Navigates to `url`.
    pub(crate) async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("navigation to {url}: {e}"));
    }

    /// The value of a JavaScript expression, evaluated in one turn of the page's event loop.
    pub(crate) async fn eval(&self, expression: &str) -> Value {
        self.client
            .execute(&format!("return ({expression});"), Vec::new())
            .await
            .unwrap_or_else(|e| panic!("{expression}: {e}"))
    }

    /// Polls `expression` until it is truthy as JavaScript sees it (up to `timeout`); on
    /// timeout, panics saying what was awaited, with the value of `diagnostics`.
    pub(crate) async fn wait_until(
        &self,
        expression: &str,
        what: &str,
        timeout: Duration,
        diagnostics: &str,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let value = self.eval(expression).await;
            let falsy = match &value {
                Value::Null | Value::Bool(false) => true,
                Value::String(text) => text.is_empty(),
                Value::Number(n) => n.as_f64() == Some(0.0),
                _ => false,
            };
            if !falsy {
                return value;
            }
            if Instant::now() > deadline {
                let state = self.eval(diagnostics).await;
                panic!("timed out after {timeout:?} waiting for {what}; page state: {state}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A PNG screenshot of the viewport.
    pub(crate) async fn screenshot(&self) -> Vec<u8> {
        self.client.screenshot().await.expect("a screenshot")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // ChromeDriver and the Chromium it started share a process group.
        let _ = Command::new("pkill")
            .args(["-KILL", "-g", &self.driver.id().to_string()])
            .status();
        let _ = self.driver.wait();
    }
}
