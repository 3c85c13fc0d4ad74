//! `sx serve` itself, on a small fixture app (tests/serve_fixture): the request
//! and response contract, many performs per request, recovery of a faulting
//! handler without repeating a write, and a clean stop. A real server process on
//! a loopback port, a real SQLite file.

mod common;

use common::{fixture_app, scratch, store_rows, Server};

fn fixture(db: &str, extra: &[&str]) -> Server {
    let app = fixture_app();
    let mut args = vec!["--app", app.as_str(), "--db", db];
    args.extend_from_slice(extra);
    Server::start(&args)
}

#[test]
fn a_request_reaches_the_handler_as_a_dict_and_its_dict_is_the_response() {
    let s = fixture(":memory:", &[]);
    let r = s.send("POST", "/echo?a=1&b=x%20y", r#"{"x": 1}"#);
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type, "application/json");
    assert_eq!(
        r.body,
        r#"{"method":"POST","path":"/echo","query":{"a":"1","b":"x y"},"body":"{\"x\": 1}","ct":"application/json"}"#
    );
    assert_eq!(s.get("/nope").status, 404);
    assert_eq!(s.get("/echo?a=%zz").status, 400, "a bad query string");
}

#[test]
fn a_handler_error_is_a_500_and_the_server_goes_on() {
    let s = fixture(":memory:", &[]);
    let r = s.get("/boom");
    assert_eq!(r.status, 500);
    assert!(r.body.contains("internal error"), "{}", r.body);
    assert_eq!(s.get("/bad-response").status, 500);
    assert_eq!(s.get("/read-map").body, "1 2 3");
    let stats = s.get("/stats").body;
    assert!(stats.contains(":errors 2"), "{stats}");
}

#[test]
fn a_handler_that_never_returns_is_stopped_and_the_others_go_on() {
    let s = fixture(":memory:", &["--handler-timeout", "300"]);
    std::thread::scope(|scope| {
        let spin = scope.spawn(|| s.get("/spin"));
        // Requests that arrive while it spins wait, then are served.
        std::thread::sleep(std::time::Duration::from_millis(50));
        let r = s.get("/read-map");
        assert_eq!((r.status, r.body.as_str()), (200, "1 2 3"));
        let r = spin.join().unwrap();
        assert_eq!(r.status, 500);
    });
    for mode in [&["--jit", "off"][..], &[][..]] {
        let mut args = vec!["--handler-timeout", "300"];
        args.extend_from_slice(mode);
        let s = fixture(":memory:", &args);
        let t = std::time::Instant::now();
        assert_eq!(s.get("/spin").status, 500, "{mode:?}");
        assert!(t.elapsed() < std::time::Duration::from_secs(5), "{mode:?}");
        assert_eq!(
            s.get("/read-map").body,
            "1 2 3",
            "{mode:?}: the server goes on"
        );
        let stats = s.get("/stats").body;
        assert!(stats.contains(":errors 1"), "{mode:?}: {stats}");
        assert!(
            stats.contains(":fallbacks 0"),
            "{mode:?}: not retried on the CEK: {stats}"
        );
    }
}

#[test]
fn a_transaction_is_all_or_nothing_and_its_condition_is_checked() {
    let s = fixture(":memory:", &[]);
    assert_eq!(s.get("/tx").status, 201);
    assert_eq!(s.get("/tx").status, 409, "t/a exists now: nothing written");
}

#[test]
fn ten_thousand_reads_in_one_request() {
    for mode in [
        &[][..],
        &["--suspend-everywhere"][..],
        &["--jit", "off"][..],
    ] {
        let s = fixture(":memory:", mode);
        let r = s.get("/reads?n=10000");
        assert_eq!((r.status, r.body.as_str()), (200, "10000"), "{mode:?}");
    }
}

#[test]
fn a_fault_after_a_read_is_recovered_and_the_page_is_right() {
    let s = fixture(":memory:", &["--inject-fault", "host/read-then-map"]);
    let r = s.get("/read-map");
    assert_eq!((r.status, r.body.as_str()), (200, "1 2 3"));
    let stats = s.get("/stats").body;
    assert!(stats.contains(":recovered 1"), "{stats}");
}

#[test]
fn a_fault_after_a_write_is_a_500_and_the_write_happened_once() {
    let dir = scratch("write-fault");
    let db = dir.join("store.sqlite3");
    let s = fixture(
        db.to_str().unwrap(),
        &["--inject-fault", "host/write-then-map"],
    );
    assert_eq!(s.get("/write-map").status, 500);
    assert_eq!(s.terminate().code(), Some(0));
    assert_eq!(
        store_rows(&db),
        [("count".to_string(), "1".to_string())],
        "the write ran exactly once"
    );
}

#[test]
fn without_a_fault_the_same_handler_answers_and_writes_each_time() {
    let dir = scratch("write-ok");
    let db = dir.join("store.sqlite3");
    let s = fixture(db.to_str().unwrap(), &[]);
    for _ in 0..3 {
        assert_eq!(s.get("/write-map").body, "1 2 3");
    }
    assert_eq!(s.terminate().code(), Some(0), "SIGTERM stops it cleanly");
    assert_eq!(store_rows(&db), [("count".to_string(), "3".to_string())]);
}

#[test]
fn a_missing_app_or_store_directory_is_a_clear_error() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sx"))
        .args(["serve", "--app", "/nonexistent/app", "--db", ":memory:"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot read the app directory /nonexistent/app"),
        "{err}"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sx"))
        .args([
            "serve",
            "--app",
            &fixture_app(),
            "--db",
            "/nonexistent/dir/x.sqlite3",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("store /nonexistent/dir/x.sqlite3"), "{err}");
}

#[test]
fn every_acknowledged_write_survives_a_kill_9_in_a_burst() {
    let dir = scratch("kill9");
    let db = dir.join("store.sqlite3");
    let s = fixture(db.to_str().unwrap(), &[]);
    let acked = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for t in 0..8 {
            let (s, acked) = (&s, &acked);
            scope.spawn(move || {
                // Bounded: far more than can finish in the 300 ms before the kill.
                for i in 0..100_000 {
                    let url = format!("{}/put", s.base);
                    let body = format!("{t}-{i}");
                    // Once the server is killed, requests fail: that ends the client.
                    match ureq::post(&url).send(&body) {
                        Ok(r) if r.status() == 201 => acked.lock().unwrap().push(body),
                        Ok(r) => panic!("unexpected status {}", r.status()),
                        Err(_) => return,
                    }
                }
            });
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
        s.sigkill();
    });
    s.kill9();
    let acked = acked.into_inner().unwrap();
    assert!(
        !acked.is_empty(),
        "some writes were acknowledged before the kill"
    );
    assert!(
        acked.len() < 8 * 100_000,
        "the kill came in the middle of the burst"
    );
    let s = fixture(db.to_str().unwrap(), &[]);
    drop(s);
    let stored: std::collections::HashSet<String> = store_rows(&db)
        .into_iter()
        .filter_map(|(k, _)| k.strip_prefix("p/").map(str::to_string))
        .collect();
    for body in &acked {
        assert!(
            stored.contains(body),
            "{body} got a 201 but is not in the store"
        );
    }
}
