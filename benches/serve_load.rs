//! A load test of `sx serve` and its blog: a release server seeded with N posts
//! (default 10,000: 100 tags, about 30,000 edges) in a fresh SQLite file, driven
//! over loopback by blocking keep-alive clients, bounded in requests and time.
//!
//! `cargo bench -p sx-benches --bench serve_load [-- --posts N --secs S --conns C]`
//!
//! It builds the release `sx` first, measures seeding and then start-up on the
//! seeded store, drives each route for S seconds (or 200,000 requests) with C
//! connections, and prints a Markdown table: requests/s, p50, p99 and max per
//! route, then the server's resident memory. Only 127.0.0.1 is contacted, and the
//! server is killed when the run ends.
#![forbid(unsafe_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

struct Options {
    posts: usize,
    secs: f64,
    conns: usize,
}

fn options() -> Options {
    let mut o = Options {
        posts: 10_000,
        secs: 5.0,
        conns: 32,
    };
    let args: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < args.len() {
        let value = || args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--posts" => o.posts = value().parse().expect("--posts N"),
            "--secs" => o.secs = value().parse().expect("--secs S"),
            "--conns" => o.conns = value().parse().expect("--conns C"),
            // cargo bench passes --bench; other flags are not ours.
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    o
}

/// The release `sx`, built now so the figures are of the current source.
fn sx_binary() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let ok = Command::new(cargo)
        .args(["build", "--release", "-p", "sx"])
        .current_dir(&root)
        .status()
        .expect("run cargo build");
    assert!(ok.success(), "cargo build --release -p sx failed");
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target"));
    target.join("release/sx")
}

struct Server {
    child: Child,
    base: String,
    /// From spawning to the listening line.
    ready: Duration,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(sx: &Path, args: &[&str]) -> Server {
    let t = Instant::now();
    let mut child = Command::new(sx)
        .args(["serve", "--addr", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start sx serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped"))
        .read_line(&mut line)
        .expect("the listening line");
    let ready = t.elapsed();
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("sx serve did not start: {line:?}"))
        .to_string();
    Server { child, base, ready }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .max_idle_connections_per_host(1)
        .build()
        .new_agent()
}

/// One route's figures.
struct Figures {
    route: String,
    conns: usize,
    requests: usize,
    rps: f64,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

/// Drives `request(i)` from `conns` threads for `secs` (at most 200,000 requests in
/// all); `request` answers the status and whether it is the expected one.
fn drive(
    route: &str,
    conns: usize,
    secs: f64,
    request: &(dyn Fn(&ureq::Agent, usize) -> bool + Sync),
) -> Figures {
    let next = AtomicUsize::new(0);
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let started = Instant::now();
    let mut latencies: Vec<Duration> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..conns)
            .map(|_| {
                let next = &next;
                scope.spawn(move || {
                    let a = agent();
                    let mut mine = Vec::new();
                    while Instant::now() < deadline {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= 200_000 {
                            break;
                        }
                        let t = Instant::now();
                        assert!(request(&a, i), "{route}: request {i} failed");
                        mine.push(t.elapsed());
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a client thread"))
            .collect()
    });
    let elapsed = started.elapsed();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    Figures {
        route: route.to_string(),
        conns,
        requests: latencies.len(),
        rps: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
        max: *latencies.last().expect("some requests"),
    }
}

fn get_ok(a: &ureq::Agent, url: &str) -> bool {
    match a.get(url).call() {
        Ok(mut r) => r.status() == 200 && r.body_mut().read_to_string().is_ok(),
        Err(_) => false,
    }
}

/// `GET url`, its body read as JSON (the bench stops on any failure).
fn get_json(a: &ureq::Agent, url: &str) -> serde_json::Value {
    let body = a
        .get(url)
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
        .body_mut()
        .read_to_string()
        .expect("a body");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {url}: not JSON: {e}"))
}

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let o = options();
    let sx = sx_binary();
    let dir = std::env::temp_dir().join(format!("sx-serve-load-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    let db = dir.join("blog.sqlite3");
    let db = db.to_str().expect("a UTF-8 path");

    let seeding = start(&sx, &["--db", db, "--seed", &o.posts.to_string()]);
    let seed_time = seeding.ready;
    drop(seeding);
    let s = start(&sx, &["--db", db]);
    let a = agent();
    let posts: serde_json::Value = get_json(&a, &format!("{}/api/posts", s.base));
    let slugs: Vec<String> = posts
        .as_array()
        .expect("a list")
        .iter()
        .map(|p| p["slug"].as_str().expect("slug").to_string())
        .collect();
    let tags: serde_json::Value = get_json(&a, &format!("{}/api/tags", s.base));
    let tag_names: Vec<String> = tags.as_object().expect("a dict").keys().cloned().collect();
    let stats: serde_json::Value = get_json(&a, &format!("{}/api/stats", s.base));
    println!(
        "seeded {} posts, {} tags, {} edges in {} (seed and start); start-up on that store: {}",
        slugs.len(),
        tag_names.len(),
        stats["edges"],
        ms(seed_time),
        ms(s.ready)
    );

    let base = s.base.clone();
    let mut figures = Vec::new();
    let post_page = |a: &ureq::Agent, i: usize| {
        get_ok(
            a,
            &format!("{base}/posts/{}/", slugs[(i * 7919) % slugs.len()]),
        )
    };
    figures.push(drive("GET /posts/SLUG/", o.conns, o.secs, &post_page));
    figures.push(drive("GET /posts/SLUG/", 1, o.secs.min(3.0), &post_page));
    figures.push(drive("GET /tags/", o.conns, o.secs, &|a, _| {
        get_ok(a, &format!("{base}/tags/"))
    }));
    figures.push(drive("GET /tags/", 1, o.secs.min(3.0), &|a, _| {
        get_ok(a, &format!("{base}/tags/"))
    }));
    figures.push(drive("GET /tags/TAG/", o.conns, o.secs, &|a, i| {
        get_ok(
            a,
            &format!("{base}/tags/{}/", tag_names[i % tag_names.len()]),
        )
    }));
    figures.push(drive("GET /", o.conns, o.secs, &|a, _| {
        get_ok(a, &format!("{base}/"))
    }));
    figures.push(drive("GET /api/posts/SLUG", o.conns, o.secs, &|a, i| {
        get_ok(
            a,
            &format!("{base}/api/posts/{}", slugs[(i * 7919) % slugs.len()]),
        )
    }));
    let post = |prefix: &'static str| {
        let base = base.clone();
        let tag_names = tag_names.clone();
        move |a: &ureq::Agent, i: usize| {
            let body = format!(
                r#"{{"slug":"{prefix}-{i}","title":"Load {i}","body":"Some *text* {i}.","tags":["{}","{}","{}"]}}"#,
                tag_names[i % tag_names.len()],
                tag_names[(i + 1) % tag_names.len()],
                tag_names[(i + 2) % tag_names.len()]
            );
            match a.post(format!("{base}/api/posts")).send(&body) {
                Ok(mut r) => r.status() == 201 && r.body_mut().read_to_string().is_ok(),
                Err(_) => false,
            }
        }
    };
    figures.push(drive(
        "POST /api/posts (3 tags)",
        1,
        o.secs.min(3.0),
        &post("one"),
    ));
    figures.push(drive(
        "POST /api/posts (3 tags)",
        o.conns,
        o.secs.min(3.0),
        &post("many"),
    ));
    let rss = rss_kb(s.child.id());

    println!("\n| route | connections | requests | requests/s | p50 | p99 | max |");
    println!("|---|---|---|---|---|---|---|");
    for f in &figures {
        println!(
            "| {} | {} | {} | {:.0} | {} | {} | {} |",
            f.route,
            f.conns,
            f.requests,
            f.rps,
            ms(f.p50),
            ms(f.p99),
            ms(f.max)
        );
    }
    println!(
        "\nresident memory after the run: {:.1} MB",
        rss as f64 / 1024.0
    );
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}
