//! The real `pitwall` binary as a separate process, for the tests that
//! need the production shape (several processes, a killed worker, the
//! process's own log).

use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// A child process that does not outlive its test: killed when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A child process asked to stop (SIGTERM, so the graceful path runs) when
/// dropped, and killed if it still runs 15 s later.
pub struct Graceful(pub Child);

impl Drop for Graceful {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let until = Instant::now() + Duration::from_secs(15);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port free on 127.0.0.1 right now, for a process to listen on.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// A TCP proxy in front of PostgreSQL that can be cut, as a database
/// restart or a network fault looks to the app: open connections drop and
/// new ones are refused, until it is restored.
pub struct PgProxy {
    pub addr: String,
    cut: std::sync::Arc<std::sync::atomic::AtomicBool>,
    conns: std::sync::Arc<tokio::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl PgProxy {
    pub async fn start(upstream: &'static str) -> Self {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port for the proxy");
        let addr = listener
            .local_addr()
            .expect("the proxy's address")
            .to_string();
        let cut = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let conns = std::sync::Arc::new(tokio::sync::Mutex::new(Vec::new()));
        let (c, list) = (cut.clone(), conns.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if c.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let handle = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                list.lock().await.push(handle);
            }
        });
        Self { addr, cut, conns }
    }

    /// Drops every open connection and refuses new ones.
    pub async fn cut(&self) {
        self.cut.store(true, std::sync::atomic::Ordering::SeqCst);
        for h in self.conns.lock().await.drain(..) {
            h.abort();
        }
    }

    pub fn restore(&self) {
        self.cut.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Waits until the process serving `base` answers `/ready` with 200, at
/// most 30 s.
pub async fn wait_ready(client: &reqwest::Client, base: &str) {
    let started = Instant::now();
    while !client
        .get(format!("{base}/ready"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{base} never became ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
