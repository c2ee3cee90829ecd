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
