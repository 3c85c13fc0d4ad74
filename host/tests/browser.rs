//! The blog in a real browser: headless Chromium (Debian's package, which `.ci/run`
//! installs) loads `/`, a post and `/tags/` from a seeded server, saves a screenshot
//! of each under the target directory, and the rendered DOM must show the page's
//! title and heading. Skipped, with a message, only where there is no Chromium.

mod common;

use common::{scratch, Server};
use std::path::Path;
use std::process::Command;

fn chromium() -> Option<&'static str> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

fn headless(browser: &str, args: &[&str]) -> std::process::Output {
    Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--window-size=1100,900",
        ])
        .args(args)
        .output()
        .expect("run chromium")
}

#[test]
fn chromium_renders_the_home_page_a_post_and_the_tags_page() {
    let Some(browser) = chromium() else {
        eprintln!("SKIPPED: no Chromium (install Debian's chromium package; .ci/run does)");
        return;
    };
    let s = Server::start(&["--db", ":memory:", "--seed", "40"]);
    let api = s.get("/api/posts");
    let posts: serde_json::Value = serde_json::from_str(&api.body).expect("JSON");
    let post = &posts[0];
    let slug = post["slug"].as_str().expect("a slug");
    let title = post["title"].as_str().expect("a title");
    let dir = scratch("screenshots");
    for (name, path, want_title, want_h1) in [
        ("home", "/".to_string(), "SX blog", "Latest posts"),
        ("post", format!("/posts/{slug}/"), title, title),
        ("tags", "/tags/".to_string(), "Tags", "Tags"),
    ] {
        let url = format!("{}{path}", s.base);
        let dom = headless(browser, &["--dump-dom", &url]);
        let dom = String::from_utf8_lossy(&dom.stdout);
        assert!(
            dom.contains(&format!("<title>{want_title}</title>")),
            "{name}: the rendered page has no title {want_title:?}: {dom}"
        );
        assert!(
            dom.contains(&format!("<h1>{want_h1}</h1>")),
            "{name}: no heading {want_h1:?}"
        );
        let shot = dir.join(format!("{name}.png"));
        let out = headless(
            browser,
            &[&format!("--screenshot={}", shot.display()), &url],
        );
        let png = std::fs::read(&shot).unwrap_or_else(|e| {
            panic!(
                "{name}: no screenshot ({e}): {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        assert!(png.starts_with(b"\x89PNG"), "{name}: not a PNG");
        assert!(
            png.len() > 10_000,
            "{name}: a nearly empty screenshot ({} bytes)",
            png.len()
        );
    }
    eprintln!("screenshots in {}", dir.display());
}
