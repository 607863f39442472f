//! A shop that takes orders for a while and counts them in metrics: run it
//! with `--prometheus` and watch the figures move with curl.
//!
//! ```sh
//! LUNATIC_FLAGS="--prometheus --prometheus-http 127.0.0.1:9927" examples/run metrics 60
//! curl -s 127.0.0.1:9927/metrics | grep -E '^(shop|lunatic_process)'
//! ```

use std::time::Duration;

use lunatic::{metrics, sleep, Mailbox, Process};

/// Workers taking orders.
const WORKERS: u64 = 4;

fn main() {
    let seconds: u64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(60);
    println!("taking orders for {seconds} s (metrics: curl -s 127.0.0.1:9927/metrics)");
    let workers: Vec<Process<u64>> = (0..WORKERS).map(|id| Process::spawn(id, worker)).collect();
    for tick in 0..seconds * 10 {
        for worker in &workers {
            worker.send(tick);
        }
        metrics::gauge("shop.open_orders", (tick % 7) as f64);
        sleep(Duration::from_millis(100));
    }
    println!("closed: {} orders", seconds * 10 * WORKERS);
}

/// Takes orders one by one: each is counted, and its value goes into a
/// histogram.
fn worker(id: u64, mailbox: Mailbox<u64>) {
    loop {
        let order = mailbox.receive();
        metrics::increment_counter("shop.orders");
        metrics::histogram("shop.order_value", ((order * 37 + id * 11) % 100) as f64);
    }
}
