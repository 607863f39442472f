//! An HTTP app on the `submillisecond` web framework.
//!
//! Usage: `http [ADDRESS]` (default `127.0.0.1:3000`). Routes:
//!
//! - `GET /` — a plain-text greeting
//! - `GET /hello/:name` — greets `name` (a path parameter)
//! - `GET /json` — a JSON document
//! - `POST /echo` — answers with the request body
//!
//! Anything else is submillisecond's 404 page. Every connection is served by
//! its own process, and every request on it by one more, spawned for it.

use serde::Serialize;
use submillisecond::params::Params;
use submillisecond::{router, Application, Json};

fn index() -> &'static str {
    "Hello from submillisecond on lunatic-wasmi!\n"
}

// submillisecond 0.4.1's `Path` extractor panics (it looks for the parameters
// where the router does not put them), on the reference runtime too; `Params`
// reads them from the right place.
fn hello(params: Params) -> String {
    format!("Hello, {}!\n", params.get("name").unwrap_or("stranger"))
}

#[derive(Serialize)]
struct Info {
    framework: &'static str,
    routes: [&'static str; 4],
}

fn info() -> Json<Info> {
    Json(Info {
        framework: "submillisecond 0.4",
        routes: ["GET /", "GET /hello/:name", "GET /json", "POST /echo"],
    })
}

fn echo(body: Vec<u8>) -> Vec<u8> {
    body
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:3000".to_string());
    println!("listening on http://{addr}");
    Application::new(router! {
        GET "/" => index
        GET "/hello/:name" => hello
        GET "/json" => info
        POST "/echo" => echo
    })
    .serve(addr)
}
