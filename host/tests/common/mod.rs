//! Shared by the `sx serve` tests: a real server process on a loopback port, a
//! blocking HTTP client, and a look at the SQLite store itself.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running `sx serve`, killed when dropped.
pub struct Server {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    agent: ureq::Agent,
}

/// A response: status and body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub content_type: String,
}

impl Server {
    /// Starts `sx serve --addr 127.0.0.1:0 ARGS…` and waits until it listens.
    pub fn start(args: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sx"))
            .arg("serve")
            .args(["--addr", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start sx serve");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the listening line");
        let base = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("sx serve did not start: {line:?}"))
            .to_string();
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .new_agent();
        Server {
            child: Some(child),
            base,
            agent,
        }
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Reply {
        let r = self.agent.get(format!("{}{path}", self.base)).call();
        reply(r, "GET", path)
    }

    /// `METHOD path` with a JSON body.
    pub fn send(&self, method: &str, path: &str, body: &str) -> Reply {
        let url = format!("{}{path}", self.base);
        let r = match method {
            "POST" => self
                .agent
                .post(&url)
                .content_type("application/json")
                .send(body),
            "PUT" => self
                .agent
                .put(&url)
                .content_type("application/json")
                .send(body),
            "DELETE" => self
                .agent
                .delete(&url)
                .force_send_body()
                .content_type("application/json")
                .send(body),
            other => panic!("no such method in the tests: {other}"),
        };
        reply(r, method, path)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        // SAFETY: kill(2) on our own child's pid has no memory-safety precondition.
        unsafe {
            libc::kill(child.id() as i32, libc::SIGTERM);
        }
        child.wait().expect("wait for sx serve")
    }

    /// Sends SIGKILL now, while client threads may still hold the server (it is
    /// reaped by [`Server::kill9`] or on drop).
    pub fn sigkill(&self) {
        // SAFETY: kill(2) on our own child's pid has no memory-safety precondition.
        unsafe {
            libc::kill(self.pid() as i32, libc::SIGKILL);
        }
    }

    /// Kills the process at once (SIGKILL): no shutdown at all.
    pub fn kill9(mut self) {
        let mut child = self.child.take().expect("running");
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn reply(
    r: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    method: &str,
    path: &str,
) -> Reply {
    let mut r = r.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let content_type = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    Reply {
        status: r.status().as_u16(),
        body: r.body_mut().read_to_string().expect("a text body"),
        content_type,
    }
}

/// A fresh directory under the target directory for one test's files.
pub fn scratch(name: &str) -> PathBuf {
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("serve-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("make a scratch directory");
    dir
}

/// Every (key, value) in the store file, in key order, read with SQLite directly.
pub fn store_rows(db: &Path) -> Vec<(String, String)> {
    let conn = rusqlite::Connection::open(db).expect("open the store");
    let mut s = conn
        .prepare("SELECT key, value FROM kv ORDER BY key")
        .expect("query");
    s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("rows")
        .map(|r| r.expect("row"))
        .collect()
}

/// The fixture app's directory.
pub fn fixture_app() -> String {
    format!("{}/tests/serve_fixture", env!("CARGO_MANIFEST_DIR"))
}
