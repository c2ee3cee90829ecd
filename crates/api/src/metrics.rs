//! Prometheus metrics: requests by route and status, a latency histogram,
//! and job counts by queue and state (read at scrape time).

use std::sync::LazyLock;
use std::time::Duration;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    jobs: IntGaugeVec,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let registry = Registry::new();
    let requests = IntCounterVec::new(
        Opts::new(
            "pitwall_http_requests_total",
            "HTTP requests by route and status",
        ),
        &["route", "status"],
    )
    .expect("static metric definition");
    let latency = HistogramVec::new(
        HistogramOpts::new(
            "pitwall_http_request_duration_seconds",
            "HTTP request latency",
        )
        .buckets(vec![
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        ]),
        &["route"],
    )
    .expect("static metric definition");
    let jobs = IntGaugeVec::new(
        Opts::new("pitwall_jobs", "Jobs by queue and state"),
        &["queue", "state"],
    )
    .expect("static metric definition");
    for c in [
        Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
        Box::new(latency.clone()),
        Box::new(jobs.clone()),
    ] {
        let _ = registry.register(c);
    }
    Metrics {
        registry,
        requests,
        latency,
        jobs,
    }
});

/// The route label of a request no route matched.
pub const UNMATCHED: &str = "unmatched";

/// Collapses ids and tokens in a path (for the access log of a path no
/// route matched; metrics use the route template).
pub fn route_label(path: &str) -> String {
    let mut out = Vec::new();
    let mut prev = "";
    for seg in path.split('/') {
        let secret_follows = matches!(prev, "c" | "invitations" | "reset-password" | "links");
        let label = if secret_follows && seg != "accept" && !seg.is_empty() {
            ":token"
        } else if uuid::Uuid::parse_str(seg).is_ok() {
            ":id"
        } else if seg.len() > 40 {
            ":value"
        } else {
            seg
        };
        out.push(label);
        prev = seg;
    }
    out.join("/")
}

pub fn observe(route: &str, status: u16, elapsed: Duration) {
    let m = &*METRICS;
    m.requests
        .with_label_values(&[route, &status.to_string()])
        .inc();
    m.latency
        .with_label_values(&[route])
        .observe(elapsed.as_secs_f64());
}

pub fn set_job_count(queue: &str, state: &str, n: i64) {
    METRICS.jobs.with_label_values(&[queue, state]).set(n);
}

pub fn render() -> String {
    let mut buf = Vec::new();
    let _ = TextEncoder::new().encode(&METRICS.registry.gather(), &mut buf);
    String::from_utf8(buf).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn labels_hide_ids_and_tokens() {
        assert_eq!(
            super::route_label("/api/v1/users/0190f3a4-7c1e-7b55-9a43-1c1d2e3f4a5b"),
            "/api/v1/users/:id"
        );
        assert_eq!(
            super::route_label("/invitations/abcdefSECRET"),
            "/invitations/:token"
        );
        assert_eq!(
            super::route_label("/api/v1/invitations/accept"),
            "/api/v1/invitations/accept"
        );
    }
}
