//! The blog app shipped in `sx` (host/app), on a real server over loopback with a
//! real SQLite file: every route's first request, recovery of faulting handlers,
//! bad input that changes nothing, and a kill -9 in a burst of posts.

mod common;

use common::{scratch, store_rows, Server};
use serde_json::Value as Json;
use std::collections::BTreeSet;

fn blog(db: &str, extra: &[&str]) -> Server {
    let mut args = vec!["--db", db];
    args.extend_from_slice(extra);
    Server::start(&args)
}

/// A fresh SQLite file's path for one test.
fn store(name: &str) -> String {
    let path = scratch(name).join("blog.sqlite3");
    path.to_str().expect("a UTF-8 path").to_string()
}

fn json(body: &str) -> Json {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// The slugs of `/api/posts`, newest first.
fn slugs(s: &Server) -> Vec<String> {
    let r = s.get("/api/posts");
    assert_eq!(r.status, 200);
    json(&r.body)
        .as_array()
        .expect("a list of posts")
        .iter()
        .map(|p| p["slug"].as_str().expect("a slug").to_string())
        .collect()
}

/// Every route, in the order a visitor and then an author would use them, with
/// the status each must answer first time.
fn every_route(s: &Server) -> Vec<(String, u16)> {
    let mut seen = Vec::new();
    let mut check = |what: String, status: u16, expected: u16, body: &str| {
        assert_eq!(status, expected, "{what}: {body}");
        seen.push((what, status));
    };
    let first = slugs(s)[0].clone();
    let tag = json(&s.get(&format!("/api/posts/{first}")).body)["tags"][0]
        .as_str()
        .expect("seeded posts have tags")
        .to_string();
    for path in [
        "/".to_string(),
        format!("/posts/{first}/"),
        "/tags/".to_string(),
        format!("/tags/{tag}/"),
        "/health".to_string(),
        "/style.css".to_string(),
        "/api/posts".to_string(),
        format!("/api/posts/{first}"),
        "/api/tags".to_string(),
    ] {
        let r = s.get(&path);
        check(format!("GET {path}"), r.status, 200, &r.body);
    }
    let post = r#"{"slug":"new-post","title":"New","body":"*hi*","tags":["rust","new"]}"#;
    let writes = [
        ("POST", "/api/posts".to_string(), post.to_string(), 201),
        (
            "PUT",
            "/api/posts/new-post".to_string(),
            r#"{"title":"Newer","body":"hi","tags":["web"]}"#.to_string(),
            200,
        ),
        (
            "POST",
            "/api/edges".to_string(),
            format!(r#"{{"from":"new-post","to":"{first}","kind":"links-to"}}"#),
            201,
        ),
        (
            "DELETE",
            "/api/edges".to_string(),
            format!(r#"{{"from":"new-post","to":"{first}","kind":"links-to"}}"#),
            200,
        ),
        (
            "DELETE",
            "/api/posts/new-post".to_string(),
            String::new(),
            200,
        ),
    ];
    for (method, path, body, status) in writes {
        let r = s.send(method, &path, &body);
        check(format!("{method} {path}"), r.status, status, &r.body);
    }
    let r = s.get("/api/stats");
    check("GET /api/stats".into(), r.status, 200, &r.body);
    seen
}

#[test]
fn the_first_request_to_every_route_succeeds_on_the_eager_vm_with_no_fallback() {
    for extra in [&[][..], &["--suspend-everywhere"][..]] {
        let mut args = vec!["--seed", "30"];
        args.extend_from_slice(extra);
        let s = blog(":memory:", &args);
        let routes = every_route(&s);
        assert_eq!(routes.len(), 15, "{routes:?}");
        let stats = json(&s.get("/api/stats").body);
        let jit = &stats["jit"];
        assert_eq!(jit["mode"], "eager");
        assert_eq!(jit["fallbacks"], 0, "{extra:?}: {jit}");
        assert_eq!(jit["failed"], 0, "{extra:?}: {jit}");
        let functions = jit["functions"].as_object().expect("per-function stats");
        for handler in [
            "host/handle",
            "host/page-home",
            "host/page-post",
            "host/page-tags",
            "host/page-tag",
            "host/api-posts",
            "host/api-post",
            "host/api-create",
            "host/api-update",
            "host/api-delete",
            "host/api-edge-create",
            "host/api-edge-delete",
            "host/api-tags",
            "host/api-stats",
        ] {
            let f = &functions[handler];
            assert_eq!(f["compiled"], true, "{extra:?}: {handler}: {f}");
            assert_eq!(f["fallbacks"], 0, "{extra:?}: {handler}: {f}");
        }
        for (name, f) in functions {
            assert!(f["demoted"].is_null(), "{extra:?}: {name} was demoted: {f}");
        }
        assert_eq!(stats["errors"], 0);
    }
}

#[test]
fn a_fault_in_a_page_that_reads_is_recovered_and_the_page_is_the_same() {
    let plain = blog(":memory:", &["--seed", "20"]);
    let faulty = blog(
        ":memory:",
        &["--seed", "20", "--inject-fault", "host/page-post"],
    );
    let slug = slugs(&plain)[3].clone();
    let want = plain.get(&format!("/posts/{slug}/"));
    let got = faulty.get(&format!("/posts/{slug}/"));
    assert_eq!(want.status, 200);
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(got.body, want.body);
    let jit = json(&faulty.get("/api/stats").body)["jit"].clone();
    assert_eq!(jit["recovered"], 1, "{jit}");
    let f = &jit["functions"]["host/page-post"];
    assert!(
        f["demoted"]
            .as_str()
            .is_some_and(|d| d.contains("recovered on the CEK")),
        "{f}"
    );
}

#[test]
fn a_fault_after_a_post_is_stored_is_a_500_and_the_post_was_stored_once() {
    let db = &store("blog-write-fault");
    let s = blog(db, &["--seed", "5", "--inject-fault", "host/api-create"]);
    let r = s.send(
        "POST",
        "/api/posts",
        r#"{"slug":"faulty","title":"Faulty","body":"b","tags":["rust"]}"#,
    );
    assert_eq!(r.status, 500, "{}", r.body);
    // The app's host/recover rebuilds its derived state from the store after the
    // 500 (in the background): the pages come to show the stored post.
    let shown = (0..100).any(|_| {
        let listed = s.get("/tags/rust/").body.contains("/posts/faulty/");
        if !listed {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        listed
    });
    assert!(shown, "the derived state caught up with the store");
    assert_eq!(s.terminate().code(), Some(0));
    let rows: Vec<String> = store_rows(db.as_ref())
        .into_iter()
        .map(|(k, _)| k)
        .filter(|k| k.ends_with("/faulty"))
        .collect();
    assert_eq!(
        rows,
        ["meta/faulty", "post/faulty"],
        "one post, stored once"
    );
    // Restarted without the fault: the store is the truth and the pages show it.
    let s = blog(db, &[]);
    assert_eq!(s.get("/api/posts/faulty").status, 200);
    assert!(s.get("/tags/rust/").body.contains("/posts/faulty/"));
}

#[test]
fn bad_input_gets_its_status_and_message_and_changes_nothing() {
    let db = &store("blog-bad-input");
    let s = blog(db, &["--seed", "5"]);
    let taken = slugs(&s)[0].clone();
    let other = slugs(&s)[1].clone();
    let tags21: Vec<String> = (0..21).map(|i| format!("\"t{i}\"")).collect();
    let cases: Vec<(&str, String, String, u16, &str)> = vec![
        (
            "POST",
            "/api/posts".into(),
            "not json".into(),
            400,
            "body: not JSON",
        ),
        (
            "POST",
            "/api/posts".into(),
            "[1,2]".into(),
            400,
            "body: expected a JSON object",
        ),
        (
            "POST",
            "/api/posts".into(),
            r#"{"title":"t","body":"b"}"#.into(),
            400,
            "slug: missing",
        ),
        (
            "POST",
            "/api/posts".into(),
            r#"{"slug":7,"title":"t","body":"b"}"#.into(),
            400,
            "slug: expected a string",
        ),
        (
            "POST",
            "/api/posts".into(),
            r#"{"slug":"Has Caps","title":"t","body":"b"}"#.into(),
            400,
            "slug: must match [a-z0-9-]{1,80}",
        ),
        (
            "POST",
            "/api/posts".into(),
            format!(r#"{{"slug":"{}","title":"t","body":"b"}}"#, "a".repeat(81)),
            400,
            "slug: must match",
        ),
        (
            "POST",
            "/api/posts".into(),
            r#"{"slug":"a/b","title":"t","body":"b"}"#.into(),
            400,
            "slug: must match",
        ),
        (
            "POST",
            "/api/posts".into(),
            r#"{"slug":"ok","body":"b"}"#.into(),
            400,
            "title: missing",
        ),
        (
            "POST",
            "/api/posts".into(),
            r#"{"slug":"ok","title":"  ","body":"b"}"#.into(),
            400,
            "title: must not be empty",
        ),
        (
            "POST",
            "/api/posts".into(),
            r#"{"slug":"ok","title":["x"],"body":"b"}"#.into(),
            400,
            "title: expected a string",
        ),
        (
            "POST",
            "/api/posts".into(),
            r#"{"slug":"ok","title":"t"}"#.into(),
            400,
            "body: missing",
        ),
        (
            "POST",
            "/api/posts".into(),
            r#"{"slug":"ok","title":"t","body":{}}"#.into(),
            400,
            "body: expected a string",
        ),
        (
            "POST",
            "/api/posts".into(),
            r#"{"slug":"ok","title":"t","body":"b","tags":"rust"}"#.into(),
            400,
            "tags: expected a list of strings",
        ),
        (
            "POST",
            "/api/posts".into(),
            r#"{"slug":"ok","title":"t","body":"b","tags":["Rust"]}"#.into(),
            400,
            "tags: each must match",
        ),
        (
            "POST",
            "/api/posts".into(),
            format!(
                r#"{{"slug":"ok","title":"t","body":"b","tags":[{}]}}"#,
                tags21.join(",")
            ),
            400,
            "tags: at most 20, got 21",
        ),
        (
            "POST",
            "/api/posts".into(),
            format!(r#"{{"slug":"{taken}","title":"t","body":"b"}}"#),
            409,
            "already exists",
        ),
        (
            "PUT",
            "/api/posts/nope".into(),
            r#"{"title":"t","body":"b"}"#.into(),
            404,
            "no post nope",
        ),
        (
            "PUT",
            format!("/api/posts/{taken}"),
            r#"{"title":"","body":"b"}"#.into(),
            400,
            "title: must not be empty",
        ),
        (
            "PUT",
            format!("/api/posts/{taken}"),
            format!(r#"{{"slug":"{other}","title":"t","body":"b"}}"#),
            400,
            "slug: differs",
        ),
        (
            "DELETE",
            "/api/posts/nope".into(),
            String::new(),
            404,
            "no post nope",
        ),
        (
            "POST",
            "/api/edges".into(),
            format!(r#"{{"from":"{taken}","to":"nope","kind":"links-to"}}"#),
            404,
            "no post nope",
        ),
        (
            "POST",
            "/api/edges".into(),
            format!(r#"{{"from":"nope","to":"{taken}","kind":"links-to"}}"#),
            404,
            "no post nope",
        ),
        (
            "POST",
            "/api/edges".into(),
            format!(r#"{{"from":"{taken}","to":"{taken}","kind":"links-to"}}"#),
            400,
            "to: an edge joins two different posts",
        ),
        (
            "POST",
            "/api/edges".into(),
            format!(r#"{{"from":"{taken}","to":"{other}"}}"#),
            400,
            "kind: missing",
        ),
        (
            "POST",
            "/api/edges".into(),
            format!(r#"{{"from":"{taken}","to":"{other}","kind":"Bad Kind"}}"#),
            400,
            "kind: must match [a-z0-9-]{1,40}",
        ),
        (
            "DELETE",
            "/api/edges".into(),
            format!(r#"{{"from":"{taken}","to":"{other}","kind":"cites"}}"#),
            404,
            "no edge",
        ),
        (
            "POST",
            "/api/nothing".into(),
            "{}".into(),
            404,
            "no such API route",
        ),
        (
            "PUT",
            "/api/posts".into(),
            "{}".into(),
            405,
            "method not allowed",
        ),
    ];
    let before = store_rows(db.as_ref());
    let listing = s.get("/api/posts").body;
    for (method, path, body, status, message) in &cases {
        let r = s.send(method, path, body);
        assert_eq!(r.status, *status, "{method} {path} {body}: {}", r.body);
        assert!(
            r.body.contains(message),
            "{method} {path} {body}: {}",
            r.body
        );
        if *status == 400 || *status == 409 || r.body.starts_with('{') {
            let e = json(&r.body);
            assert!(e["error"].is_string(), "{method} {path}: {}", r.body);
        }
    }
    assert_eq!(
        s.get("/api/posts").body,
        listing,
        "the derived state is unchanged"
    );
    assert_eq!(s.terminate().code(), Some(0));
    assert_eq!(store_rows(db.as_ref()), before, "the store is unchanged");
}

#[test]
fn writes_show_in_the_pages_at_once_and_after_a_restart() {
    let db = &store("blog-writes");
    let s = blog(db, &["--seed", "12"]);
    let target = slugs(&s)[5].clone();
    let r = s.send(
        "POST",
        "/api/posts",
        r#"{"slug":"fresh","title":"Fresh <b>news</b>","body":"Hello <script>x()</script>","tags":["zeta","rust"]}"#,
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let edge = format!(r#"{{"from":"fresh","to":"{target}","kind":"cites"}}"#);
    assert_eq!(s.send("POST", "/api/edges", &edge).status, 201);
    let check = |s: &Server| {
        assert_eq!(slugs(s)[0], "fresh", "newest first");
        let page = s.get("/posts/fresh/").body;
        assert!(
            page.contains("<title>Fresh &lt;b&gt;news&lt;/b&gt;</title>"),
            "{page}"
        );
        assert!(
            page.contains("&lt;script&gt;") && !page.contains("<script>"),
            "{page}"
        );
        assert!(
            page.contains(&format!("/posts/{target}/")),
            "the edge: {page}"
        );
        let back = s.get(&format!("/posts/{target}/")).body;
        assert!(
            back.contains("cites from <a href=\"/posts/fresh/\">"),
            "{back}"
        );
        assert!(s.get("/tags/zeta/").body.contains("/posts/fresh/"));
        let tags = json(&s.get("/api/tags").body);
        assert_eq!(tags["zeta"], 1);
        assert!(s.get("/").body.contains("/posts/fresh/"));
    };
    check(&s);
    assert_eq!(s.terminate().code(), Some(0));
    let s = blog(db, &[]);
    check(&s);
    assert_eq!(s.send("DELETE", "/api/posts/fresh", "").status, 200);
    assert_eq!(s.get("/posts/fresh/").status, 404);
    assert_eq!(s.get("/tags/zeta/").status, 404);
    assert!(!s
        .get(&format!("/posts/{target}/"))
        .body
        .contains("/posts/fresh/"));
    assert_eq!(s.terminate().code(), Some(0));
    let left: Vec<String> = store_rows(db.as_ref())
        .into_iter()
        .map(|(k, _)| k)
        .filter(|k| k.contains("fresh"))
        .collect();
    assert!(
        left.is_empty(),
        "the post's rows and edges are gone: {left:?}"
    );
}

#[test]
fn a_kill_9_in_a_burst_of_posts_loses_no_acknowledged_post_tag_or_edge() {
    let db = &store("blog-kill9");
    let s = blog(db, &["--seed", "10"]);
    let seeded = slugs(&s);
    let acked = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for t in 0..8 {
            let (s, acked, seeded) = (&s, &acked, &seeded);
            scope.spawn(move || {
                // Bounded: far more than can finish before the kill.
                for i in 0..100_000 {
                    let slug = format!("burst-{t}-{i}");
                    let post = format!(
                        r#"{{"slug":"{slug}","title":"Burst {t} {i}","body":"b","tags":["burst","t{t}","n{}"]}}"#,
                        i % 3
                    );
                    let to = &seeded[i % seeded.len()];
                    let edge = format!(r#"{{"from":"{slug}","to":"{to}","kind":"links-to"}}"#);
                    // Once the server is killed, requests fail: that ends the client.
                    let Ok(r) = ureq::post(format!("{}/api/posts", s.base)).send(&post) else {
                        return;
                    };
                    assert_eq!(r.status(), 201);
                    let Ok(r) = ureq::post(format!("{}/api/edges", s.base)).send(&edge) else {
                        acked.lock().unwrap().push((slug, t, i, None));
                        return;
                    };
                    assert_eq!(r.status(), 201);
                    acked.lock().unwrap().push((slug, t, i, Some(to.clone())));
                }
            });
        }
        std::thread::sleep(std::time::Duration::from_millis(600));
        s.sigkill();
    });
    s.kill9();
    let acked = acked.into_inner().unwrap();
    assert!(
        !acked.is_empty(),
        "some posts were acknowledged before the kill"
    );
    let s = blog(db, &[]);
    let listed: BTreeSet<String> = slugs(&s).into_iter().collect();
    // The tag's pages, 50 posts each, until the first page past the end.
    let mut burst_page = String::new();
    for page in 1.. {
        let r = s.get(&format!("/tags/burst/?page={page}"));
        if r.status == 404 {
            break;
        }
        assert_eq!(r.status, 200);
        burst_page.push_str(&r.body);
    }
    for (slug, t, i, edge_to) in &acked {
        assert!(listed.contains(slug), "{slug} got a 201 but is not listed");
        let p = json(&s.get(&format!("/api/posts/{slug}")).body);
        let want = ["burst".to_string(), format!("t{t}"), format!("n{}", i % 3)];
        assert_eq!(p["tags"], serde_json::json!(want), "{slug}");
        if let Some(to) = edge_to {
            assert_eq!(
                p["edges"]["out"]["links-to"],
                serde_json::json!([to]),
                "{slug}"
            );
        }
        assert!(burst_page.contains(&format!("/posts/{slug}/")), "{slug}");
    }
}

#[test]
fn related_posts_and_tag_counts_agree_with_a_count_over_the_listing() {
    let s = blog(":memory:", &["--seed", "200"]);
    let listing = json(&s.get("/api/posts").body);
    let posts: Vec<(String, BTreeSet<String>)> = listing
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let tags = p["tags"].as_array().unwrap();
            let tags = tags.iter().map(|t| t.as_str().unwrap().to_string());
            (p["slug"].as_str().unwrap().to_string(), tags.collect())
        })
        .collect();
    assert_eq!(posts.len(), 200);
    // Pages of the listing are slices of it.
    let page = json(&s.get("/api/posts?offset=190&limit=20").body);
    assert_eq!(page, serde_json::json!(listing.as_array().unwrap()[190..]));
    let page = json(&s.get("/api/posts?limit=3").body);
    assert_eq!(page, serde_json::json!(listing.as_array().unwrap()[..3]));
    let bad = s.get("/api/posts?limit=-1");
    assert_eq!(bad.status, 400);
    assert!(
        bad.body.contains("limit: expected a non-negative integer"),
        "{}",
        bad.body
    );
    // Tag counts.
    let mut counts = std::collections::BTreeMap::<String, u64>::new();
    for (_, tags) in &posts {
        for t in tags {
            *counts.entry(t.clone()).or_default() += 1;
        }
    }
    let api = json(&s.get("/api/tags").body);
    let api: std::collections::BTreeMap<String, u64> = api
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect();
    assert_eq!(api, counts);
    // Tags: each row's count and its three most frequent co-occurring tags
    // (ties by tag), after a write too (the page is memoized until one).
    let tags_page = |s: &Server, posts: &[(String, BTreeSet<String>)]| {
        let page = s.get("/tags/").body;
        let mut counts = std::collections::BTreeMap::<&String, usize>::new();
        for (_, tags) in posts {
            for t in tags {
                *counts.entry(t).or_default() += 1;
            }
        }
        for (t, n) in &counts {
            let mut with: Vec<(usize, &String)> = counts
                .keys()
                .filter(|u| u != &t)
                .map(|u| {
                    (
                        posts
                            .iter()
                            .filter(|p| p.1.contains(*t) && p.1.contains(*u))
                            .count(),
                        *u,
                    )
                })
                .filter(|c| c.0 > 0)
                .collect();
            with.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
            let often: Vec<String> = with
                .iter()
                .take(3)
                .map(|(n, u)| {
                    format!("<a href=\"/tags/{u}/\">{u}</a> <span class=\"meta\">({n})</span>")
                })
                .collect();
            let row = format!(
                "<tr><td><a href=\"/tags/{t}/\">{t}</a></td><td>{n}</td><td>{}</td></tr>",
                often.join(", ")
            );
            assert!(page.contains(&row), "{row} not in {page}");
        }
    };
    tags_page(&s, &posts);
    let extra = r#"{"slug":"extra","title":"Extra","body":"b","tags":["rust","datalog","zz-new"]}"#;
    assert_eq!(s.send("POST", "/api/posts", extra).status, 201);
    let mut more = posts.clone();
    more.push((
        "extra".into(),
        ["rust", "datalog", "zz-new"]
            .iter()
            .map(|t| t.to_string())
            .collect(),
    ));
    tags_page(&s, &more);
    assert_eq!(s.send("DELETE", "/api/posts/extra", "").status, 200);
    tags_page(&s, &posts);
    // Related: most shared tags first, ties by slug, top 5.
    for (slug, tags) in posts.iter().step_by(7) {
        let mut ranked: Vec<(usize, &String)> = posts
            .iter()
            .filter(|(other, _)| other != slug)
            .map(|(other, t)| (t.intersection(tags).count(), other))
            .filter(|(n, _)| *n > 0)
            .collect();
        ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
        let want: Vec<&String> = ranked.iter().take(5).map(|r| r.1).collect();
        let got = json(&s.get(&format!("/api/posts/{slug}")).body)["related"].clone();
        assert_eq!(got, serde_json::json!(want), "{slug}");
    }
}

#[test]
fn an_edge_row_whose_post_is_gone_is_left_out_at_start() {
    let db = &store("blog-dangling");
    let s = blog(db, &["--seed", "6"]);
    let slug = slugs(&s)[0].clone();
    let edges = json(&s.get("/api/stats").body)["edges"].clone();
    assert_eq!(s.terminate().code(), Some(0));
    // What a crash between a delete's two transactions could leave behind.
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute(
        "INSERT INTO kv (key, value) VALUES (?1, ?2)",
        [
            format!("edge/{slug}/cites/ghost"),
            format!("{{:from \"{slug}\" :kind \"cites\" :to \"ghost\"}}"),
        ],
    )
    .unwrap();
    drop(conn);
    let s = blog(db, &[]);
    let page = s.get(&format!("/posts/{slug}/"));
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("ghost"), "{}", page.body);
    assert_eq!(json(&s.get("/api/stats").body)["edges"], edges);
}
