//! Real services for the CLI's tests: a redis-server of our own on a free port; [`gateway`]: a gateway and CA simulator.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod gateway;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

// Not every test binary uses them.
#[allow(unused_imports)]
pub use jpki_testsupport::{RedisServer as Redis, free_port};

/// A minimal HTTP/1.1 client for the simulator's JSON endpoints: (status, body).
pub fn http(port: u16, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let body = body.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
    (status, body)
}

/// A child process whose stdout lines are collected; killed on drop.
pub struct Collected {
    /// The process.
    pub child: Child,
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Collected {
    /// Spawns `program` with `arguments`, collecting stdout lines.
    pub fn spawn(program: &str, arguments: &[String]) -> Collected {
        let mut child =
            Command::new(program).args(arguments).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Collected { child, lines }
    }

    /// The lines so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// The JSON lines so far.
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.lines().iter().filter_map(|line| serde_json::from_str(line).ok()).collect()
    }

    /// Waits until an event satisfies `predicate` (failing after a generous deadline).
    pub fn wait_for(&self, what: &str, predicate: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Some(event) = self.events().into_iter().find(|event| predicate(event)) {
                return event;
            }
            assert!(Instant::now() < deadline, "no {what} event; output so far: {:#?}", self.lines());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sends a signal (STOP, CONT, KILL, INT).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill").args([&format!("-{signal}"), &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
    }
}

impl Drop for Collected {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `condition` holds (failing after a generous deadline).
pub fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
