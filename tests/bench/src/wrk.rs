//! Load from a separate process: `wrk` (Debian's package), so the client
//! does not share the measured process. A run that saw any non-2xx answer
//! or socket error fails.

use std::process::Command;

/// What one `wrk` run measured.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    pub requests_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub requests: u64,
}

fn millis(v: &str) -> Option<f64> {
    let v = v.trim();
    let (num, factor) = if let Some(n) = v.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = v.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1000.0)
    } else {
        return None;
    };
    num.trim().parse::<f64>().ok().map(|n| n * factor)
}

/// Parses wrk's `--latency` report; an error names what went wrong.
pub fn parse(out: &str) -> anyhow::Result<Run> {
    let mut run = Run {
        requests_per_sec: f64::NAN,
        p50_ms: f64::NAN,
        p99_ms: f64::NAN,
        requests: 0,
    };
    for line in out.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("Requests/sec:") {
            run.requests_per_sec = v.trim().parse()?;
        } else if let Some(v) = line.strip_prefix("50%") {
            run.p50_ms = millis(v).unwrap_or(f64::NAN);
        } else if let Some(v) = line.strip_prefix("99%") {
            run.p99_ms = millis(v).unwrap_or(f64::NAN);
        } else if let Some(v) = line.strip_prefix("Non-2xx or 3xx responses:") {
            anyhow::bail!("{} requests answered an error", v.trim());
        } else if let Some(v) = line.strip_prefix("Socket errors:") {
            anyhow::bail!("socket errors:{v}");
        } else if line.contains(" requests in ") {
            run.requests = line
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
        }
    }
    anyhow::ensure!(
        run.requests > 0 && run.requests_per_sec.is_finite() && run.p99_ms.is_finite(),
        "wrk printed no figures:\n{out}"
    );
    Ok(run)
}

/// `wrk` against `url` with `connections` for `secs`, headers as given.
pub async fn run(
    url: &str,
    connections: u32,
    secs: u32,
    headers: &[(&str, &str)],
) -> anyhow::Result<Run> {
    run_with(url, connections, secs, headers, None).await
}

/// As [`run`], each request made by the Lua `script` (`request()`).
pub async fn run_script(
    url: &str,
    connections: u32,
    secs: u32,
    script: &std::path::Path,
) -> anyhow::Result<Run> {
    run_with(url, connections, secs, &[], Some(script)).await
}

async fn run_with(
    url: &str,
    connections: u32,
    secs: u32,
    headers: &[(&str, &str)],
    script: Option<&std::path::Path>,
) -> anyhow::Result<Run> {
    let mut cmd = Command::new("wrk");
    cmd.arg("--latency")
        .arg(format!("-t{}", connections.clamp(1, 2)))
        .arg(format!("-c{connections}"))
        .arg(format!("-d{secs}s"));
    for (k, v) in headers {
        cmd.arg("-H").arg(format!("{k}: {v}"));
    }
    if let Some(s) = script {
        cmd.arg("-s").arg(s);
    }
    cmd.arg(url);
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await?
        .map_err(|e| anyhow::anyhow!("wrk did not run ({e}): apt-get install wrk"))?;
    anyhow::ensure!(
        out.status.success(),
        "wrk failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    parse(&text).map_err(|e| anyhow::anyhow!("{url}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "Running 2s test @ http://127.0.0.1:8765/
  2 threads and 8 connections
  Latency Distribution
     50%   13.07ms
     75%   19.97ms
     90%   27.01ms
     99%  885.48us
  851 requests in 2.01s, 3.64MB read
Requests/sec:    424.05
Transfer/sec:      1.81MB
";

    #[test]
    fn reads_the_figures_and_refuses_failed_runs() {
        let r = parse(REPORT).unwrap();
        assert_eq!(r.requests, 851);
        assert!((r.requests_per_sec - 424.05).abs() < 1e-9);
        assert!((r.p50_ms - 13.07).abs() < 1e-9);
        assert!((r.p99_ms - 0.88548).abs() < 1e-9);
        let failed = REPORT.replace(
            "Requests/sec",
            "  Non-2xx or 3xx responses: 3\nRequests/sec",
        );
        assert!(parse(&failed).is_err());
        let broken = REPORT.replace(
            "Requests/sec",
            "  Socket errors: connect 0, read 2, write 0, timeout 0\nRequests/sec",
        );
        assert!(parse(&broken).is_err());
        assert!(parse("nothing").is_err());
    }
}
