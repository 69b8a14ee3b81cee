//! A fresh headless Chromium per test, driven through ChromeDriver, plus what the browser tests
//! share: the mock and the demo backend on port 0, a tiny "app" server for test pages, and
//! helpers named after what a person does in the browser (click, type, switch to the popup).

use std::future::Future;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use fantoccini::elements::Element;
use fantoccini::wd::WindowHandle;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use mock_server::{Fixtures, MockServer};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::process::{Child, Command};

/// How long any one wait in a browser test may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// What every run needs: headless in a container, a profile of its own, nothing phoning home.
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/// ChromeDriver with one session. Closed by [`with_browser`], whatever the test did.
struct Browser {
    client: Client,
    chromedriver: Child,
    profile: PathBuf,
}

impl Browser {
    async fn start(extra_flags: &[String]) -> Browser {
        let chromedriver_bin = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".to_owned());
        let chromium_bin = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
        // ChromeDriver now and then exits at start-up when many start at once; a second try works.
        let mut attempts = 0;
        let (chromedriver, port) = loop {
            attempts += 1;
            let mut chromedriver = Command::new(&chromedriver_bin)
                .arg("--port=0")
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .unwrap_or_else(|error| {
                    panic!(
                        "cannot start {chromedriver_bin} ({error}): install Chromium and ChromeDriver with \
                         `bash scripts/install-test-deps.sh`"
                    )
                });
            match chromedriver_port(&mut chromedriver).await {
                Ok(port) => break (chromedriver, port),
                Err(output) if attempts < 3 => eprintln!("ChromeDriver exited ({output}); starting it again"),
                Err(output) => panic!("ChromeDriver exited three times; last output: {output}"),
            }
        };

        let profile = std::env::temp_dir().join(format!("offline-smartcar-chromium-{}", uuid::Uuid::new_v4()));
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|flag| (*flag).to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        args.extend_from_slice(extra_flags);
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": chromium_bin, "args": args },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object literal")
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .unwrap_or_else(|error| panic!("ChromeDriver could not start {chromium_bin}: {error}"));
        Browser {
            client,
            chromedriver,
            profile,
        }
    }

    async fn close(mut self) {
        // Ending the session is what stops Chromium; killing ChromeDriver alone would orphan it.
        if let Err(error) = self.client.close().await {
            eprintln!("closing the WebDriver session failed: {error}");
        }
        let _ = self.chromedriver.kill().await;
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Reads ChromeDriver's "started successfully on port N." (its `--port=0` choice), then keeps
/// draining its output in the background so a later log line cannot block or kill it.
async fn chromedriver_port(chromedriver: &mut Child) -> Result<u16, String> {
    const MARKER: &str = "started successfully on port ";
    let mut stdout = chromedriver.stdout.take().expect("stdout is piped");
    let mut seen = Vec::new();
    let port = tokio::time::timeout(PATIENCE, async {
        let mut chunk = [0_u8; 512];
        loop {
            let read = stdout.read(&mut chunk).await.unwrap_or(0);
            if read == 0 {
                return Err(String::from_utf8_lossy(&seen).into_owned());
            }
            seen.extend_from_slice(&chunk[..read]);
            let text = String::from_utf8_lossy(&seen);
            if let Some(at) = text.find(MARKER) {
                let digits: String = text[at + MARKER.len()..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                if text[at + MARKER.len() + digits.len()..].starts_with('.') {
                    return Ok(digits.parse().expect("a port number"));
                }
            }
        }
    })
    .await
    .expect("ChromeDriver says which port it took");
    tokio::spawn(async move {
        let mut sink = tokio::io::sink();
        let _ = tokio::io::copy(&mut stdout, &mut sink).await;
    });
    port
}

/// Runs `test` with a fresh browser, then closes the browser, even when the test panics (the
/// panic is re-raised afterwards).
pub async fn with_browser<F, Fut>(extra_flags: &[String], test: F)
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let browser = Browser::start(extra_flags).await;
    let outcome = tokio::spawn(test(browser.client.clone())).await;
    browser.close().await;
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

/// Binds port 0 on loopback and names it the way browsers will: `http://localhost:PORT`.
pub async fn bind() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let port = listener.local_addr().expect("an address").port();
    (listener, format!("http://localhost:{port}"))
}

/// Starts the mock on `listener` with its built-in fixtures, `redirect_uris` added to the demo
/// app; it serves until the handle is dropped.
pub async fn start_mock(listener: TcpListener, redirect_uris: &[&str]) -> MockServer {
    mock_builder(listener, redirect_uris).start().await
}

/// The mock [`start_mock`] starts, for a test that adds to it (an HTTPS listener).
pub fn mock_builder(listener: TcpListener, redirect_uris: &[&str]) -> mock_server::MockServerBuilder {
    MockServer::builder()
        .fixtures(demo_fixtures(redirect_uris))
        .listener(listener)
}

/// The built-in fixtures, with `redirect_uris` registered for `demo-client`.
pub fn demo_fixtures(redirect_uris: &[&str]) -> Fixtures {
    let mut fixtures = Fixtures::embedded().expect("the built-in fixtures load");
    let mut app = fixtures.app("demo-client").expect("the demo app").clone();
    app.redirect_uris
        .extend(redirect_uris.iter().map(|uri| (*uri).to_owned()));
    fixtures.upsert_app(app);
    fixtures
}

/// Serves each `(path, content type, body)`: an app's origin for a test page.
pub fn serve_app(listener: TcpListener, files: Vec<(String, &'static str, String)>) {
    let mut app = Router::new();
    for (path, content_type, body) in files {
        app = app.route(
            &path,
            get(move || async move { ([("content-type", content_type)], body) }),
        );
    }
    tokio::spawn(async move { axum::serve(listener, app).await });
}

/// A single HTML page at `/`.
pub fn serve_page(listener: TcpListener, page: &str) {
    serve_app(
        listener,
        vec![("/".to_owned(), "text/html; charset=utf-8", page.to_owned())],
    );
}

/// The element `css` selects, once it exists.
pub async fn find(browser: &Client, css: &str) -> Element {
    match browser.wait().at_most(PATIENCE).for_element(Locator::Css(css)).await {
        Ok(element) => element,
        Err(error) => {
            let url = browser.current_url().await.map(String::from).unwrap_or_default();
            panic!("no {css} on {url}: {error}")
        }
    }
}

/// Clicks the element `css` finds. A live page (the dashboard) may re-render between the find and
/// the click, leaving a stale element: then it finds it again.
pub async fn click(browser: &Client, css: &str) {
    let clicked = eventually(|| async { find(browser, css).await.click().await.ok() }).await;
    if clicked.is_none() {
        find(browser, css)
            .await
            .click()
            .await
            .unwrap_or_else(|error| panic!("clicking {css}: {error}"));
    }
}

pub async fn type_into(browser: &Client, css: &str, text: &str) {
    find(browser, css)
        .await
        .send_keys(text)
        .await
        .unwrap_or_else(|error| panic!("typing into {css}: {error}"));
}

/// The text of `css` once it is not empty.
pub async fn text_of(browser: &Client, css: &str) -> String {
    eventually(|| async {
        let text = find(browser, css).await.text().await.ok()?;
        (!text.trim().is_empty()).then_some(text)
    })
    .await
    .unwrap_or_else(|| panic!("{css} stayed empty"))
}

/// Waits for the popup a click opened and switches to it; returns the opener's handle.
pub async fn switch_to_popup(browser: &Client) -> WindowHandle {
    let opener = browser.window().await.expect("the current window");
    let popup = eventually(|| async {
        let windows = browser.windows().await.ok()?;
        windows.into_iter().find(|window| *window != opener)
    })
    .await
    .expect("a popup opens");
    browser.switch_to_window(popup).await.expect("switching to the popup");
    opener
}

/// Waits for the popup to close itself (the redirect page does), then goes back to the opener.
pub async fn back_to_opener(browser: &Client, opener: WindowHandle) {
    eventually(|| async { (browser.windows().await.ok()?.len() == 1).then_some(()) })
        .await
        .expect("the popup closes itself");
    browser
        .switch_to_window(opener)
        .await
        .expect("switching back to the opener");
}

/// A person in Connect's popup: Continue, search for and pick Tesla, sign in as `username`, then
/// (unless sign-in already ended Connect) Allow or Deny.
pub async fn walk_connect(browser: &Client, username: &str, allow: Option<bool>) {
    click(browser, "#continue-button").await;
    type_into(browser, "#brand-search", "tes").await;
    click(browser, "#TESLA").await;
    type_into(browser, "#username", username).await;
    type_into(browser, "#password", "anything").await;
    click(browser, "#sign-in-button").await;
    if let Some(allow) = allow {
        find(browser, ".page-content").await;
        click(browser, if allow { "#approval-button" } else { "#deny-button" }).await;
    }
}

/// Evaluates `expression` in the page until it is neither `null` nor `undefined`.
pub async fn page_value(browser: &Client, expression: &str) -> Value {
    let script = ["return (", expression, ") ?? null;"].concat();
    eventually(|| async {
        let value = browser.execute(&script, vec![]).await.ok()?;
        (!value.is_null()).then_some(value)
    })
    .await
    .unwrap_or_else(|| panic!("{expression} stayed null"))
}

/// Polls `check` until it gives a value or [`PATIENCE`] runs out.
pub async fn eventually<T, F, Fut>(mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
