//! A seeded storm of hostile requests against the real binary: every surface (Connect, the token
//! endpoint, the vehicle API v1/v2/v3 and batch, management, compatibility, webhooks, the JS SDK
//! redirect page, test control) gets thousands of generated requests — odd paths, queries,
//! headers, form and JSON bodies, durations, dates, e-mail grammar, unicode, huge numbers, raw
//! bytes on the socket. Nothing may answer 5xx, drop a connection or panic, and the server must
//! still serve a whole Connect flow afterwards.
//!
//! Reproducible: the requests are generated up front from one seed (`HOSTILE_SEED`, printed on
//! failure); `HOSTILE_REQUESTS` sets how many (default 6,000).

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::Child;
use tokio::sync::Semaphore;

mod support;
const DEFAULT_SEED: u64 = 0x5eed_cafe;
const DEFAULT_REQUESTS: usize = 6_000;
/// Every permission, so probes reach every endpoint's handler.
const EVERY_PERMISSION: &str = "read_vehicle_info read_vin read_odometer read_location read_fuel read_battery \
    read_charge control_charge read_engine_oil read_tires read_security control_security control_navigation \
    read_service_history read_diagnostics read_user_profile read_compass read_speedometer read_thermometer \
    read_extended_vehicle_info control_trunk read_climate control_climate";
/// Requests in flight at once.
const CONCURRENCY: usize = 12;

/// The mock on a free port, its stderr collected so the test can look for panics.
struct Server {
    url: String,
    addr: String,
    child: Child,
    log: tokio::task::JoinHandle<String>,
}

impl Server {
    async fn start() -> Server {
        let mut command = support::command();
        command
            .env("RUST_LOG", "warn")
            .env("RUST_BACKTRACE", "0")
            .stderr(Stdio::piped());
        let (mut child, url) = support::spawn(command).await;
        let addr = url.trim_start_matches("http://").to_owned();
        let stderr = child.stderr.take().expect("piped stderr");
        let log = tokio::spawn(async move {
            let mut text = String::new();
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                text.push_str(&line);
                text.push('\n');
            }
            text
        });
        Server { url, addr, child, log }
    }
}

/// One generated request.
#[derive(Debug, Clone)]
enum Probe {
    /// A well-formed HTTP request (reqwest) with hostile parts.
    Http {
        method: &'static str,
        path: String,
        headers: Vec<(String, Vec<u8>)>,
        body: Vec<u8>,
    },
    /// Bytes written straight to the socket; `valid` when they are well-formed HTTP/1.1, in which
    /// case an answer is owed.
    Raw { bytes: Vec<u8>, valid: bool },
    /// A whole Connect flow with hostile choices along the way (login, brand, decision, replays).
    Flow {
        query: String,
        make: String,
        username: String,
        password: String,
        decision: String,
        replay: bool,
    },
}

/// What the generator can reach once the server is up: real tokens and ids, so requests get past
/// authentication and into the handlers.
#[derive(Debug, Clone)]
struct Known {
    access_tokens: Vec<String>,
    refresh_tokens: Vec<String>,
    vehicles: Vec<String>,
    webhooks: Vec<String>,
}

const VERSIONS: &[&str] = &[
    "v2.0",
    "v2.0",
    "v1.0",
    "v99999999999999999999999.0",
    "v",
    "v2.0.1",
    "v2",
    "V2.0",
    "%00",
    "v2.%FF",
    "..",
];

const ENDPOINTS: &[&str] = &[
    "",
    "/vin",
    "/permissions",
    "/odometer",
    "/location",
    "/fuel",
    "/battery",
    "/battery/capacity",
    "/battery/nominal_capacity",
    "/charge",
    "/charge/limit",
    "/tires/pressure",
    "/engine/oil",
    "/security",
    "/service/history",
    "/diagnostics/system_status",
    "/diagnostics/dtcs",
    "/navigation/destination",
    "/application",
    "/batch",
    "/tesla/compass",
    "/tesla/charge/ammeter",
    "/tesla/charge/voltmeter",
    "/tesla/speedometer",
    "/tesla/climate/cabin",
    "/tesla/charge/schedule",
    "/chevrolet/charge",
    "/cadillac/charge",
    "/nowhere",
    "/odometer/../../admin/reset",
    "//odometer",
    "/odometer/",
];

const QUERY_KEYS: &[&str] = &[
    "limit",
    "offset",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "mode",
    "make",
    "single_select",
    "single_select_vin",
    "response_type",
    "approval_prompt",
    "flags",
    "app_origin",
    "since",
    "status",
    "path",
    "app",
    "vehicle",
    "user",
    "method",
    "vin",
    "country",
    "type",
    "year",
    "cursor",
    "user_id",
    "vehicle_id",
    "code",
    "error",
];

const JSON_KEYS: &[&str] = &[
    "by",
    "now",
    "path",
    "error",
    "type",
    "code",
    "times",
    "probability",
    "seed",
    "retry_after",
    "requests",
    "email",
    "brand",
    "scope",
    "mode",
    "client_id",
    "redirect_uri",
    "exchange",
    "callbackUrl",
    "action",
    "value",
    "limit",
    "latitude",
    "longitude",
    "enabled",
    "app",
    "app_capacity",
    "app_refill_per_minute",
    "vehicle_capacity",
    "vehicle_refill_seconds",
    "monthly_vehicle_requests",
    "state",
    "battery",
    "percentRemaining",
    "isPluggedIn",
    "asleep",
    "odometer",
    "location",
];

/// Values a hostile client likes: durations past the clock's range, dates at the edges of time,
/// test-login grammar variants, markup, unicode, huge and odd numbers, path tricks.
fn hostile_text(rng: &mut StdRng) -> String {
    const POOL: &[&str] = &[
        "",
        " ",
        "-1",
        "0",
        "1",
        "1e309",
        "-1e309",
        "99999999999999999999999",
        "18446744073709551616",
        "NaN",
        "Infinity",
        "0x10",
        "8000y",
        "20000y",
        "292277026596y",
        "-5s",
        "1h",
        "61d",
        "500ms..3s",
        "3s..1s",
        "9999-12-31T23:59:59Z",
        "-9999-01-01T00:00:00Z",
        "0000-00-00T00:00:00Z",
        "2030-02-30T00:00:00Z",
        "+999-vehicles@smartcar.com",
        "0999-vehicles@smartcar.com",
        "00999-vehicles@smartcar.com",
        "1000-vehicles@smartcar.com",
        "3-vehicles@smartcar.com",
        "VEHICLE_STATE.ASLEEP@smartcar.com",
        "RATE_LIMIT.VEHICLE@smartcar.com",
        "SERVER.INTERNAL@smartcar.com",
        "smartcar@invalid-subscription.com",
        "smartcar@vehicle-incompatible.com",
        "smartcar@vs-003.vehicle-state-error.com",
        "5YJ3E1EA0KF000001@bev.smartcar.com",
        "<script>alert(1)</script>",
        "\"><img src=x onerror=alert(1)>",
        "'; DROP TABLE users; --",
        "\u{202e}gnp.exe",
        "ééé",
        "🚗🔋",
        "\u{0}",
        "%FF%FE",
        "%",
        "%%",
        "../../etc/passwd",
        "null",
        "{}",
        "[]",
        "true",
        "https://example.com/auth",
        "http://localhost:8000/exchange",
        "javascript:alert(1)",
        "demo-client",
        "sdk-test-client",
        "CHEVROLET",
        "TESLA",
        "FORD",
        "read_odometer read_vin",
        "read_everything",
        "live",
        "test",
        "simulated",
        "VEHICLE_STATE:ASLEEP",
        "**/**/**/**/**/**/**/**/**/**/**/**/**/**/x",
        "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b",
        "4xx",
        "5XX",
        "metric",
        "imperial",
    ];
    match rng.random_range(0..10) {
        0 => "a".repeat(rng.random_range(200..6000)),
        1 => uuid_text(rng),
        2 => {
            let len = rng.random_range(1..40);
            (0..len).map(|_| random_char(rng)).collect()
        }
        3 => rng.random::<i64>().to_string(),
        _ => (*POOL.choose(rng).expect("a pool")).to_owned(),
    }
}

/// Durations a test-control client might send, most of them past any sane range.
fn duration_text(rng: &mut StdRng) -> String {
    const POOL: &[&str] = &[
        "1h",
        "61d",
        "-5s",
        "0s",
        "100y",
        "101y",
        "8000y",
        "20000y",
        "292277026596y",
        "18446744073709551615s",
        "1e9y",
        "-8000y",
        "5m 3s",
        "1h30m",
        "y",
        "",
        "9999999999999999999999d",
    ];
    if rng.random_bool(0.8) {
        (*POOL.choose(rng).expect("a pool")).to_owned()
    } else {
        format!(
            "{}{}",
            rng.random::<u64>(),
            ["s", "m", "h", "d", "y", "ms", "ns"].choose(rng).expect("units")
        )
    }
}

/// Instants at and past the edges of what a clock can hold.
fn date_text(rng: &mut StdRng) -> String {
    const POOL: &[&str] = &[
        "9999-12-31T23:59:59Z",
        "9999-12-31T23:59:59.999999999Z",
        "+10000-01-01T00:00:00Z",
        "0000-01-01T00:00:00Z",
        "-9999-01-01T00:00:00Z",
        "1970-01-01T00:00:00Z",
        "2030-01-01T00:00:00Z",
        "2126-01-01T00:00:00Z",
        "1900-01-01T00:00:00Z",
        "2030-02-30T00:00:00Z",
        "2030-01-01T00:00:00+23:59",
        "now",
        "",
    ];
    (*POOL.choose(rng).expect("a pool")).to_owned()
}

fn random_char(rng: &mut StdRng) -> char {
    match rng.random_range(0..4) {
        0 => char::from(rng.random_range(0x20u8..0x7f)),
        1 => char::from_u32(rng.random_range(0x80..0x800)).unwrap_or('?'),
        2 => char::from_u32(rng.random_range(0x1f300..0x1f600)).unwrap_or('?'),
        _ => *['/', '%', '&', '=', '+', '#', '?', '\\', '"', '\'']
            .choose(rng)
            .expect("chars"),
    }
}

fn uuid_text(rng: &mut StdRng) -> String {
    uuid::Builder::from_random_bytes(rng.random()).into_uuid().to_string()
}

/// Percent-encodes everything but unreserved characters, so reqwest sends the text as given.
fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn query(rng: &mut StdRng) -> String {
    let pairs = rng.random_range(0..6);
    let mut parts = Vec::new();
    for _ in 0..pairs {
        let key = *QUERY_KEYS.choose(rng).expect("keys");
        let value = hostile_text(rng);
        // Now and then a raw (unencoded, possibly broken) value.
        if rng.random_bool(0.1) {
            parts.push(format!("{key}={}", value.replace(['#', ' '], "")));
        } else {
            parts.push(format!("{key}={}", encode(&value)));
        }
    }
    parts.join("&")
}

fn json_value(rng: &mut StdRng, depth: u32) -> Value {
    let pick = if depth > 3 {
        rng.random_range(0..6)
    } else {
        rng.random_range(0..9)
    };
    match pick {
        0 => Value::Null,
        1 => Value::Bool(rng.random()),
        2 => json!(rng.random::<i64>()),
        3 => json!(rng.random::<f64>() * 1e300),
        4 => Value::String(hostile_text(rng)),
        5 => serde_json::from_str(&format!("{}", rng.random::<u64>())).unwrap_or(Value::Null),
        6 | 7 => {
            let mut map = Map::new();
            for _ in 0..rng.random_range(0..6) {
                map.insert(
                    (*JSON_KEYS.choose(rng).expect("keys")).to_owned(),
                    json_value(rng, depth + 1),
                );
            }
            Value::Object(map)
        }
        _ => Value::Array(
            (0..rng.random_range(0..5))
                .map(|_| json_value(rng, depth + 1))
                .collect(),
        ),
    }
}

fn batch_body(rng: &mut StdRng) -> Vec<u8> {
    let count = if rng.random_bool(0.05) {
        rng.random_range(100..3000)
    } else {
        rng.random_range(0..8)
    };
    let requests: Vec<Value> = (0..count)
        .map(|_| {
            if rng.random_bool(0.8) {
                json!({ "path": ENDPOINTS.choose(rng).expect("endpoints") })
            } else {
                json_value(rng, 2)
            }
        })
        .collect();
    serde_json::to_vec(&json!({ "requests": requests })).expect("json")
}

fn body(rng: &mut StdRng, path: &str) -> (Vec<u8>, Option<&'static str>) {
    if path.ends_with("/batch") && rng.random_bool(0.7) {
        return (batch_body(rng), Some("application/json"));
    }
    match rng.random_range(0..10) {
        0 => (Vec::new(), None),
        1 => {
            let len = rng.random_range(0..2048);
            (
                (0..len).map(|_| rng.random()).collect(),
                Some("application/octet-stream"),
            )
        }
        2 => (b"{not json".to_vec(), Some("application/json")),
        3 | 4 => {
            let mut form = form_urlencoded::Serializer::new(String::new());
            for _ in 0..rng.random_range(0..6) {
                let key = *[
                    "grant_type",
                    "code",
                    "redirect_uri",
                    "refresh_token",
                    "client_id",
                    "client_secret",
                    "flow",
                    "make",
                    "username",
                    "password",
                    "decision",
                    "vehicle",
                ]
                .choose(rng)
                .expect("keys");
                form.append_pair(key, &hostile_text(rng));
            }
            (form.finish().into_bytes(), Some("application/x-www-form-urlencoded"))
        }
        5 => {
            // Deep nesting: serde_json's recursion limit must answer, not overflow the stack.
            let depth = rng.random_range(100..3000);
            let text = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            (text.into_bytes(), Some("application/json"))
        }
        6 => (
            serde_json::to_vec(&json_value(rng, 0)).expect("json"),
            Some("text/plain"),
        ),
        _ => (
            serde_json::to_vec(&json_value(rng, 0)).expect("json"),
            Some("application/json"),
        ),
    }
}

fn authorization(rng: &mut StdRng, known: &Known) -> Option<Vec<u8>> {
    let basic = |text: &str| format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(text)).into_bytes();
    match rng.random_range(0..14) {
        0..=4 => Some(format!("Bearer {}", known.access_tokens.choose(rng).expect("tokens")).into_bytes()),
        5 => Some(format!("Bearer {}", uuid_text(rng)).into_bytes()),
        6 => Some(basic("demo-client:demo-secret")),
        7 => Some(basic("default:demo-amt")),
        8 => Some(b"Bearer demo-amt".to_vec()),
        9 => Some(basic(&format!("{}:{}", hostile_text(rng), hostile_text(rng)))),
        10 => Some(b"Basic %%%%".to_vec()),
        11 => Some(b"Bearer \xe9t\xe9".to_vec()),
        12 => Some(
            format!(
                "{} {}",
                hostile_text(rng).replace(['\r', '\n', '\0'], ""),
                hostile_text(rng).replace(['\r', '\n', '\0'], "")
            )
            .into_bytes(),
        ),
        _ => None,
    }
}

fn path(rng: &mut StdRng, known: &Known) -> (&'static str, String) {
    let version = *VERSIONS.choose(rng).expect("versions");
    let vehicle = if rng.random_bool(0.75) {
        known.vehicles.choose(rng).expect("vehicles").clone()
    } else {
        match rng.random_range(0..4) {
            0 => uuid_text(rng),
            1 => uuid_text(rng).to_uppercase(),
            2 => "not-a-uuid".to_owned(),
            _ => encode(&hostile_text(rng)),
        }
    };
    let webhook = if rng.random_bool(0.7) {
        known.webhooks.choose(rng).expect("webhooks").clone()
    } else {
        encode(&hostile_text(rng))
    };
    let endpoint = *ENDPOINTS.choose(rng).expect("endpoints");
    let q = query(rng);
    let method = |rng: &mut StdRng, usual: &'static str| -> &'static str {
        if rng.random_bool(0.8) {
            usual
        } else {
            const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
            METHODS.choose(rng).expect("methods")
        }
    };
    match rng.random_range(0..30) {
        0..=2 => (method(rng, "GET"), format!("/oauth/authorize?{q}")),
        3 => (method(rng, "POST"), "/connect/brand".to_owned()),
        4 => (method(rng, "POST"), "/connect/login".to_owned()),
        5 => (method(rng, "POST"), "/connect/sign-in".to_owned()),
        6 => (method(rng, "POST"), "/connect/grant".to_owned()),
        7 | 8 => (method(rng, "POST"), "/oauth/token".to_owned()),
        9 => (method(rng, "POST"), format!("/?{q}")),
        10 => (method(rng, "GET"), format!("/v2/redirect?{q}")),
        11 => (method(rng, "GET"), format!("/{version}/user?{q}")),
        12 => (method(rng, "GET"), format!("/{version}/vehicles?{q}")),
        13..=17 => {
            let usual = if endpoint == "/batch" || endpoint == "/navigation/destination" {
                "POST"
            } else {
                "GET"
            };
            (
                method(rng, usual),
                format!("/{version}/vehicles/{vehicle}{endpoint}?{q}"),
            )
        }
        18 => (
            method(rng, "GET"),
            format!("/v3/vehicles/{vehicle}/signals/{}", encode(&hostile_text(rng))),
        ),
        19 => (
            method(rng, "GET"),
            format!("/v3/vehicles/{vehicle}{}", if rng.random() { "/signals" } else { "" }),
        ),
        20 => (method(rng, "GET"), format!("/{version}/management/connections?{q}")),
        21 => (method(rng, "GET"), format!("/{version}/compatibility?{q}")),
        22 => (method(rng, "GET"), format!("/{version}/compatibility/matrix?{q}")),
        23 => (
            method(rng, "POST"),
            format!("/{version}/vehicles/{vehicle}/webhooks/{webhook}"),
        ),
        24 => {
            let tail = *["", "/deliveries", "/verify"].choose(rng).expect("tails");
            (method(rng, "PUT"), format!("/{version}/webhooks/{webhook}{tail}"))
        }
        25 => (method(rng, "GET"), format!("/admin/requests?{q}")),
        26 => {
            let route = *[
                "/admin/clock",
                "/admin/clock/advance",
                "/admin/limits",
                "/admin/health",
                "/admin/vehicles",
            ]
            .choose(rng)
            .expect("routes");
            (method(rng, "POST"), format!("{route}?{q}"))
        }
        27 => (method(rng, "PATCH"), format!("/admin/vehicles/{vehicle}")),
        28 => (method(rng, "POST"), "/admin/authorize".to_owned()),
        _ => {
            let len = rng.random_range(1..60);
            let garbage: String = (0..len).map(|_| random_char(rng)).collect();
            (method(rng, "GET"), format!("/{}", encode(&garbage).replace("%2F", "/")))
        }
    }
}

/// Test control with bodies shaped like the real ones, carrying hostile values: durations past
/// the clock's range, dates at the edges of time, huge limits, odd vehicle state.
fn admin_probe(rng: &mut StdRng, known: &Known) -> Probe {
    let vehicle = known.vehicles.choose(rng).expect("vehicles").clone();
    let value = |rng: &mut StdRng| -> Value {
        if rng.random_bool(0.6) {
            Value::String(hostile_text(rng))
        } else {
            json_value(rng, 3)
        }
    };
    let (method, path, body): (&'static str, String, Value) = match rng.random_range(0..9) {
        0 => {
            let by = if rng.random_bool(0.8) {
                Value::String(duration_text(rng))
            } else {
                value(rng)
            };
            ("POST", "/admin/clock/advance".to_owned(), json!({ "by": by }))
        }
        1 => {
            let now = if rng.random_bool(0.8) {
                Value::String(date_text(rng))
            } else {
                value(rng)
            };
            ("PUT", "/admin/clock".to_owned(), json!({ "now": now }))
        }
        2 => ("DELETE", "/admin/clock".to_owned(), Value::Null),
        3 => {
            let since = if rng.random() {
                duration_text(rng)
            } else if rng.random() {
                date_text(rng)
            } else {
                hostile_text(rng)
            };
            (
                "GET",
                format!(
                    "/admin/requests?since={}&limit={}",
                    encode(&since),
                    encode(&hostile_text(rng))
                ),
                Value::Null,
            )
        }
        4 => {
            let mut change = Map::new();
            for key in [
                "enabled",
                "app_capacity",
                "app_refill_per_minute",
                "vehicle_capacity",
                "vehicle_refill_seconds",
                "monthly_vehicle_requests",
                "app",
            ] {
                if rng.random_bool(0.4) {
                    change.insert(
                        key.to_owned(),
                        if key == "enabled" {
                            json!(rng.random_bool(0.3))
                        } else {
                            json_value(rng, 3)
                        },
                    );
                }
            }
            ("PUT", "/admin/limits".to_owned(), Value::Object(change))
        }
        5 | 6 => {
            let mut change = Map::new();
            for key in JSON_KEYS.choose_multiple(rng, 3) {
                change.insert((*key).to_owned(), json_value(rng, 2));
            }
            ("PATCH", format!("/admin/vehicles/{vehicle}"), Value::Object(change))
        }
        7 => ("GET", format!("/admin/vehicles/{vehicle}"), Value::Null),
        _ => {
            let mut request = Map::new();
            request.insert("email".to_owned(), value(rng));
            if rng.random() {
                request.insert("brand".to_owned(), value(rng));
            }
            if rng.random() {
                request.insert("scope".to_owned(), value(rng));
            }
            if rng.random_bool(0.2) {
                request.insert("mode".to_owned(), value(rng));
            }
            ("POST", "/admin/authorize".to_owned(), Value::Object(request))
        }
    };
    let (body, headers) = if body.is_null() {
        (Vec::new(), Vec::new())
    } else {
        (
            serde_json::to_vec(&body).expect("json"),
            vec![("content-type".to_owned(), b"application/json".to_vec())],
        )
    };
    Probe::Http {
        method,
        path,
        headers,
        body,
    }
}

fn raw_probe(rng: &mut StdRng) -> Probe {
    match rng.random_range(0..6) {
        0 => {
            // Too many headers.
            let mut text = String::from("GET /admin/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
            for i in 0..rng.random_range(90..400) {
                text.push_str(&format!("x-h{i}: {i}\r\n"));
            }
            text.push_str("\r\n");
            Probe::Raw {
                bytes: text.into_bytes(),
                valid: false,
            }
        }
        1 => {
            // One huge header.
            let text = format!(
                "GET /admin/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\nx-big: {}\r\n\r\n",
                "b".repeat(rng.random_range(10_000..200_000))
            );
            Probe::Raw {
                bytes: text.into_bytes(),
                valid: false,
            }
        }
        2 => {
            // A body larger than announced, and one smaller (the server must not wait forever).
            let text = "POST /oauth/token HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 5\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\ngrant_type=refresh_token";
            // Bytes left unread when the server closes make the kernel reset the connection, which
            // can discard the answer before the client reads it: an answer is not owed here.
            Probe::Raw {
                bytes: text.as_bytes().to_vec(),
                valid: false,
            }
        }
        3 => {
            // A body past the 1 MiB limit.
            let size = 1024 * 1024 + rng.random_range(1..4096);
            let mut bytes =
                format!("POST /oauth/token HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {size}\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n").into_bytes();
            bytes.extend(std::iter::repeat_n(b'a', size));
            // As above: the server answers 413 before reading it all, and the reset may eat it.
            Probe::Raw { bytes, valid: false }
        }
        4 => {
            // Raw bytes in the path and in header values.
            let mut bytes = b"GET /v2.0/vehicles/".to_vec();
            bytes.extend((0..rng.random_range(1..40)).map(|_| rng.random_range(0x21u8..=0xff)));
            bytes.extend(b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer ");
            bytes.extend((0..rng.random_range(1..40)).map(|_| rng.random_range(0x80u8..=0xff)));
            bytes.extend(b"\r\n\r\n");
            Probe::Raw { bytes, valid: false }
        }
        _ => {
            // Chunked bodies, a method nobody knows.
            let method = *["FOO", "GET", "BREW", "PROPFIND"].choose(rng).expect("methods");
            let text = format!(
                "{method} /oauth/token HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n4\r\n{{\"a\"\r\n0\r\n\r\n"
            );
            Probe::Raw {
                bytes: text.into_bytes(),
                valid: true,
            }
        }
    }
}

fn flow_probe(rng: &mut StdRng) -> Probe {
    let mut q = vec![
        "response_type=code".to_owned(),
        "client_id=demo-client".to_owned(),
        format!("redirect_uri={}", encode("https://example.com/auth")),
        format!("mode={}", if rng.random_bool(0.8) { "test" } else { "live" }),
    ];
    if rng.random() {
        q.push(format!("state={}", encode(&hostile_text(rng))));
    }
    if rng.random_bool(0.3) {
        q.push(format!("scope={}", encode(&hostile_text(rng))));
    }
    if rng.random_bool(0.2) {
        q.push("single_select=true".to_owned());
    }
    Probe::Flow {
        query: q.join("&"),
        make: if rng.random_bool(0.8) {
            (*["CHEVROLET", "FORD", "TESLA", "KIA"].choose(rng).expect("makes")).to_owned()
        } else {
            hostile_text(rng)
        },
        username: hostile_text(rng),
        password: hostile_text(rng),
        decision: if rng.random_bool(0.8) {
            "allow".to_owned()
        } else {
            hostile_text(rng)
        },
        replay: rng.random_bool(0.3),
    }
}

fn generate(seed: u64, count: usize, known: &Known) -> Vec<Probe> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count)
        .map(|_| match rng.random_range(0..100) {
            0..=4 => raw_probe(&mut rng),
            5..=9 => flow_probe(&mut rng),
            10..=15 => admin_probe(&mut rng, known),
            _ => {
                let (method, path) = path(&mut rng, known);
                let (body, content_type) = body(&mut rng, &path);
                let mut headers = Vec::new();
                if let Some(value) = authorization(&mut rng, known) {
                    headers.push(("authorization".to_owned(), value));
                }
                let admin = path.starts_with("/admin");
                let content_type = if admin && !body.is_empty() && rng.random_bool(0.8) {
                    Some("application/json")
                } else {
                    content_type
                };
                if let Some(content_type) = content_type {
                    headers.push(("content-type".to_owned(), content_type.as_bytes().to_vec()));
                }
                if rng.random_bool(0.2) {
                    let unit = if rng.random() {
                        "imperial".to_owned()
                    } else {
                        hostile_text(&mut rng)
                    };
                    headers.push((
                        "sc-unit-system".to_owned(),
                        unit.replace(['\r', '\n', '\0'], "").into_bytes(),
                    ));
                }
                if rng.random_bool(0.05) {
                    headers.push(("origin".to_owned(), b"https://evil.example".to_vec()));
                }
                if rng.random_bool(0.03) {
                    let token = known.refresh_tokens.choose(&mut rng).expect("refresh tokens");
                    let form = format!("grant_type=refresh_token&refresh_token={token}");
                    return Probe::Http {
                        method: "POST",
                        path: "/oauth/token".to_owned(),
                        headers: vec![
                            (
                                "authorization".to_owned(),
                                format!(
                                    "Basic {}",
                                    base64::engine::general_purpose::STANDARD.encode("demo-client:demo-secret")
                                )
                                .into_bytes(),
                            ),
                            ("content-type".to_owned(), b"application/x-www-form-urlencoded".to_vec()),
                        ],
                        body: form.into_bytes(),
                    };
                }
                Probe::Http {
                    method,
                    path,
                    headers,
                    body,
                }
            }
        })
        .collect()
}

/// Why a probe failed the test, if it did.
type Verdict = Result<(), String>;

fn check_status(status: u16, what: &str) -> Verdict {
    if status >= 500 && status != 501 {
        return Err(format!("{what} answered {status}"));
    }
    Ok(())
}

async fn send_http(
    http: &reqwest::Client,
    base: &str,
    method: &'static str,
    path: &str,
    headers: &[(String, Vec<u8>)],
    body: Vec<u8>,
) -> Verdict {
    let what = format!("{method} {}", shorten(path));
    let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|error| error.to_string())?;
    let mut request = http.request(method, format!("{base}{path}")).body(body);
    for (name, value) in headers {
        match reqwest::header::HeaderValue::from_bytes(value) {
            Ok(value) => request = request.header(name.as_str(), value),
            Err(_) => continue,
        }
    }
    let response = request
        .send()
        .await
        .map_err(|error| format!("{what}: no answer ({error:?})"))?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = response
        .text()
        .await
        .map_err(|error| format!("{what}: the answer broke off ({error})"))?;
    check_status(status, &what)?;
    // 501 is Smartcar's answer for an endpoint the vehicle cannot serve, and only that.
    // (`VEHICLE_NOT_CAPABLE` on v2/v3, `vehicle_not_capable_error` on v1).
    if status == 501 && !text.to_ascii_lowercase().contains("not_capable") {
        return Err(format!("{what} answered 501 with {}", shorten(&text)));
    }
    if content_type.starts_with("text/html") {
        for raw in ["<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>"] {
            if text.contains(raw) {
                return Err(format!("{what}: a page reflected {raw:?} unescaped"));
            }
        }
    }
    Ok(())
}

async fn send_raw(addr: &str, bytes: &[u8], valid: bool) -> Verdict {
    let what = format!(
        "raw {:?}",
        shorten(&String::from_utf8_lossy(&bytes[..bytes.len().min(60)]))
    );
    let mut socket = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|error| format!("{what}: cannot connect: {error}"))?;
    // The server may answer (and close) before reading everything: a failed write is fine.
    let _ = socket.write_all(bytes).await;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), socket.read_to_end(&mut answer)).await;
    if read.is_err() {
        return Err(format!("{what}: no answer and no close within 20 s"));
    }
    let head = String::from_utf8_lossy(&answer[..answer.len().min(12)]).into_owned();
    match head
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse::<u16>().ok())
    {
        Some(status) => check_status(status, &what),
        None if valid => Err(format!(
            "{what}: well-formed, but the connection closed without an answer"
        )),
        None => Ok(()),
    }
}

async fn run_flow(http: &reqwest::Client, base: &str, probe: &Probe) -> Verdict {
    let Probe::Flow {
        query,
        make,
        username,
        password,
        decision,
        replay,
    } = probe
    else {
        return Ok(());
    };
    let page = |response: reqwest::Response, what: &'static str| async move {
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|error| format!("{what}: {error}"))?;
        check_status(status, what)?;
        Ok::<_, String>((status, text))
    };
    let start = http
        .get(format!("{base}/oauth/authorize?{query}"))
        .send()
        .await
        .map_err(|error| format!("flow authorize: {error}"))?;
    let (_, text) = page(start, "flow authorize").await?;
    let Some(flow) = hidden_flow(&text) else { return Ok(()) };
    let post = |path: &'static str, form: Vec<(String, String)>| http.post(format!("{base}{path}")).form(&form).send();
    let brand = post("/connect/brand", vec![("flow".into(), flow.clone())])
        .await
        .map_err(|error| format!("flow brand: {error}"))?;
    let (_, text) = page(brand, "flow brand").await?;
    let Some(flow) = hidden_flow(&text) else { return Ok(()) };
    let login = post(
        "/connect/login",
        vec![("flow".into(), flow.clone()), ("make".into(), make.clone())],
    )
    .await
    .map_err(|error| format!("flow login: {error}"))?;
    let (_, text) = page(login, "flow login").await?;
    let Some(flow) = hidden_flow(&text) else { return Ok(()) };
    let sign_in_form = vec![
        ("flow".to_owned(), flow.clone()),
        ("username".to_owned(), username.clone()),
        ("password".to_owned(), password.clone()),
    ];
    let sign_in = post("/connect/sign-in", sign_in_form.clone())
        .await
        .map_err(|error| format!("flow sign-in: {error}"))?;
    let (_, text) = page(sign_in, "flow sign-in").await?;
    if *replay {
        let again = post("/connect/sign-in", sign_in_form)
            .await
            .map_err(|error| format!("flow sign-in replay: {error}"))?;
        page(again, "flow sign-in replay").await?;
    }
    let Some(flow) = hidden_flow(&text) else { return Ok(()) };
    let grant_form = vec![("flow".to_owned(), flow), ("decision".to_owned(), decision.clone())];
    let grant = post("/connect/grant", grant_form.clone())
        .await
        .map_err(|error| format!("flow grant: {error}"))?;
    page(grant, "flow grant").await?;
    if *replay {
        let again = post("/connect/grant", grant_form)
            .await
            .map_err(|error| format!("flow grant replay: {error}"))?;
        page(again, "flow grant replay").await?;
    }
    Ok(())
}

fn hidden_flow(page: &str) -> Option<String> {
    let marker = r#"name="flow" value=""#;
    let start = page.find(marker)? + marker.len();
    let end = page[start..].find('"')? + start;
    Some(page[start..end].to_owned())
}

fn shorten(text: &str) -> String {
    if text.chars().count() > 120 {
        format!("{}…", text.chars().take(120).collect::<String>())
    } else {
        text.to_owned()
    }
}

/// Tokens, vehicles and webhooks from `POST /admin/authorize`, so most probes reach the handlers.
async fn known(http: &reqwest::Client, base: &str) -> Known {
    let mut known = Known {
        access_tokens: Vec::new(),
        refresh_tokens: Vec::new(),
        vehicles: Vec::new(),
        webhooks: vec![
            "7c9e6679-7425-40de-944b-e07fc1f90ae7".to_owned(),
            "0b6a1c1e-3f57-4d1a-9f0e-5b2c4d8e9a10".to_owned(),
        ],
    };
    for brand in ["CHEVROLET", "FORD", "TESLA", "CHEVROLET"] {
        let answer: Value = http
            .post(format!("{base}/admin/authorize"))
            .json(&json!({ "brand": brand, "scope": EVERY_PERMISSION }))
            .send()
            .await
            .expect("authorize answers")
            .json()
            .await
            .expect("authorize JSON");
        let text = |key: &str| {
            answer[key]
                .as_str()
                .unwrap_or_else(|| panic!("{key} in {answer}"))
                .to_owned()
        };
        known.access_tokens.push(text("access_token"));
        known.refresh_tokens.push(text("refresh_token"));
        for id in answer["vehicle_ids"].as_array().expect("vehicle ids") {
            known.vehicles.push(id.as_str().expect("an id").to_owned());
        }
    }
    known
}

/// Hostile fault rules, one at a time (a rule that fires changes what every later request gets, so
/// these cannot share the storm): the admin API refuses or stores each without a 5xx, a rule
/// without latency or drop leaves the next request answered, and then it is removed.
async fn fault_rules(http: &reqwest::Client, base: &str, seed: u64, known: &Known) -> Vec<String> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0xfa17);
    let mut problems = Vec::new();
    for index in 0..300 {
        let mut spec = Map::new();
        for key in [
            "app",
            "user",
            "vehicle",
            "method",
            "path",
            "error",
            "retry_after",
            "latency",
            "drop",
            "times",
            "probability",
            "seed",
        ] {
            if rng.random_bool(0.35) {
                let value = match key {
                    "path" if rng.random() => Value::String(hostile_text(&mut rng)),
                    "latency" if rng.random() => Value::String(duration_text(&mut rng)),
                    "error" if rng.random() => Value::String(
                        (*["VEHICLE_STATE:ASLEEP", "RATE_LIMIT:VEHICLE", "SERVER", "NOPE:NOPE", ""]
                            .choose(&mut rng)
                            .expect("errors"))
                        .to_owned(),
                    ),
                    "vehicle" if rng.random() => {
                        Value::String(known.vehicles.choose(&mut rng).expect("vehicles").clone())
                    }
                    _ => json_value(&mut rng, 3),
                };
                spec.insert(key.to_owned(), value);
            }
        }
        let connect = rng.random_bool(0.2);
        let route = if connect {
            "/admin/faults/connect"
        } else {
            "/admin/faults"
        };
        let added = http.post(format!("{base}{route}")).json(&spec).send().await;
        let what = format!("fault #{index} {}", shorten(&Value::Object(spec.clone()).to_string()));
        match added {
            Err(error) => problems.push(format!("{what}: no answer ({error})")),
            Ok(response) if response.status().is_server_error() => {
                problems.push(format!("{what}: answered {}", response.status()));
            }
            Ok(response) => {
                let accepted = response.status().is_success();
                let _ = response.bytes().await;
                let quiet =
                    !spec.contains_key("latency") && spec.get("drop").is_none_or(|drop| drop != &Value::Bool(true));
                if accepted && quiet && !connect {
                    let vehicle = known.vehicles.choose(&mut rng).expect("vehicles");
                    let token = known.access_tokens.choose(&mut rng).expect("tokens");
                    let long_path = format!("/v2.0/vehicles/{vehicle}/{}", "a/".repeat(200));
                    for path in [format!("/v2.0/vehicles/{vehicle}/odometer"), long_path] {
                        let answer = http
                            .get(format!("{base}{path}"))
                            .bearer_auth(token)
                            .timeout(Duration::from_secs(15))
                            .send()
                            .await;
                        if let Err(error) = answer {
                            problems.push(format!("{what}: the next request got no answer ({error})"));
                        }
                    }
                }
            }
        }
        if let Err(error) = http.delete(format!("{base}/admin/faults")).send().await {
            problems.push(format!("{what}: the rules could not be cleared ({error})"));
        }
    }
    problems
}

/// A clean Connect flow and a read: the server still does its job after the storm.
async fn still_serves(http: &reqwest::Client, base: &str) {
    let health = http
        .get(format!("{base}/admin/health"))
        .send()
        .await
        .expect("health answers");
    assert_eq!(health.status(), 200, "healthy after the storm");
    http.delete(format!("{base}/admin/clock"))
        .send()
        .await
        .expect("clock reset");
    http.delete(format!("{base}/admin/faults"))
        .send()
        .await
        .expect("faults cleared");
    http.put(format!("{base}/admin/limits"))
        .json(&json!({ "enabled": false }))
        .send()
        .await
        .expect("limits off");
    let answer: Value = http
        .post(format!("{base}/admin/authorize"))
        .json(&json!({ "brand": "CHEVROLET", "scope": "read_odometer" }))
        .send()
        .await
        .expect("authorize answers")
        .json()
        .await
        .expect("authorize JSON");
    let token = answer["access_token"].as_str().expect("a token");
    let vehicle = answer["vehicle_ids"][0].as_str().expect("a vehicle");
    let odometer = http
        .get(format!("{base}/v2.0/vehicles/{vehicle}/odometer"))
        .bearer_auth(token)
        .send()
        .await
        .expect("odometer answers");
    assert_eq!(
        odometer.status(),
        200,
        "a fresh token still reads the odometer after the storm"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seeded_storm_of_hostile_requests_gets_no_5xx_no_dropped_connection_and_no_panic() {
    let seed = std::env::var("HOSTILE_SEED")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(DEFAULT_SEED);
    let count = std::env::var("HOSTILE_REQUESTS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(DEFAULT_REQUESTS);
    let mut server = Server::start().await;
    // reqwest is built without a crypto provider of its own (the mock uses ring): install it.
    mock_server::net::install_crypto_provider();
    let http = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let known = known(&http, &server.url).await;
    let probes = generate(seed, count, &known);
    let started = Instant::now();

    let gate = Arc::new(Semaphore::new(CONCURRENCY));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, probe) in probes.into_iter().enumerate() {
        let permit = Arc::clone(&gate).acquire_owned().await.expect("the gate stays open");
        let http = http.clone();
        let base = server.url.clone();
        let addr = server.addr.clone();
        tasks.spawn(async move {
            let _permit = permit;
            let verdict = match &probe {
                Probe::Http {
                    method,
                    path,
                    headers,
                    body,
                } => send_http(&http, &base, method, path, headers, body.clone()).await,
                Probe::Raw { bytes, valid } => send_raw(&addr, bytes, *valid).await,
                Probe::Flow { .. } => run_flow(&http, &base, &probe).await,
            };
            verdict.map_err(|problem| format!("probe #{index}: {problem}"))
        });
    }
    let mut problems = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        if let Err(problem) = joined.expect("a probe task does not panic") {
            problems.push(problem);
        }
    }
    problems.extend(fault_rules(&http, &server.url, seed, &known).await);
    let elapsed = started.elapsed();
    still_serves(&http, &server.url).await;

    let running = server.child.try_wait().expect("the process can be asked").is_none();
    server.child.start_kill().expect("the server can be stopped");
    let _ = server.child.wait().await;
    let log = server.log.await.expect("the log reader ends");

    let total = problems.len();
    problems.truncate(20);
    assert!(
        problems.is_empty(),
        "seed {seed} ({count} requests): {total} problem(s), first ones:\n{}",
        problems.join("\n")
    );
    assert!(running, "seed {seed}: the server exited during the storm:\n{log}");
    assert!(!log.contains("panicked"), "seed {seed}: the server panicked:\n{log}");
    assert!(
        elapsed < Duration::from_secs(60),
        "seed {seed}: the storm took {elapsed:?}"
    );
}
