//! A guest for `spec-tests/metrics/run`: records counters, gauges and
//! histograms through `lunatic::metrics`, keeps children alive for a while,
//! then lets them end, then tries to create more metric names than the
//! runtime accepts. Each phase is announced on stdout (the script scrapes
//! the Prometheus endpoint after each) and held for `HOLD_MS`.
//!
//! Usage: `metrics_app.wasm [children] [hold_ms]`.

use std::io::Write;
use std::time::Duration;

use lunatic::{metrics, Mailbox, Process};

fn announce(phase: &str, hold: Duration) {
    println!("{phase}");
    let _ = std::io::stdout().flush();
    lunatic::sleep(hold);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let children: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(20);
    let hold = Duration::from_millis(args.get(2).and_then(|s| s.parse().ok()).unwrap_or(3000));

    metrics::counter("app.requests", 5);
    metrics::increment_counter("app.requests");
    metrics::gauge("app.temperature", 21.5);
    metrics::increment_gauge("app.queue", 10.0);
    metrics::decrement_gauge("app.queue", 3.0);
    for sample in [1.0, 2.0, 3.0, 4.0] {
        metrics::histogram("app.latency", sample);
    }

    // Children that wait for one message, then end.
    let kids: Vec<Process<()>> = (0..children)
        .map(|_| {
            Process::spawn((), |_, mailbox: Mailbox<()>| {
                let _ = mailbox.receive();
            })
        })
        .collect();
    announce("spawned", hold);

    for kid in &kids {
        kid.send(());
    }
    metrics::increment_counter("app.requests");
    announce("ended", hold);

    // Past the cap: 10 050 more distinct names (the runtime takes 10 000).
    for i in 0..10_050u32 {
        metrics::increment_counter(&format!("cap.n{i}"));
    }
    // A name longer than the runtime accepts.
    metrics::increment_counter(&"x".repeat(300));
    announce("capped", hold);
    // Twice as many again: refused, and the host does not grow.
    for i in 10_050..30_050u32 {
        metrics::increment_counter(&format!("cap.n{i}"));
    }
    announce("capped-again", hold);
}
