//! The app `sx serve` runs: the blog shipped in the binary, or the `.sx` files of a
//! directory (`--app DIR`), loaded in file-name order.

use std::path::Path;

/// The blog app (`host/app/*.sx`), embedded at build time.
static EMBEDDED: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/app_files.rs"));

/// The app's files (name and source), in load order: those of `dir`, or the
/// embedded blog.
pub fn load(dir: Option<&Path>) -> Result<Vec<(String, String)>, String> {
    let Some(dir) = dir else {
        if EMBEDDED.is_empty() {
            return Err("this sx was built without its blog app (host/app is empty)".into());
        }
        return Ok(EMBEDDED
            .iter()
            .map(|(n, s)| (format!("app/{n}"), s.to_string()))
            .collect());
    };
    let entries = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read the app directory {}: {e}", dir.display()))?;
    let mut files: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "sx"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!(
            "the app directory {} holds no .sx file",
            dir.display()
        ));
    }
    files
        .iter()
        .map(|f| {
            std::fs::read_to_string(f)
                .map(|src| (f.display().to_string(), src))
                .map_err(|e| format!("cannot read {}: {e}", f.display()))
        })
        .collect()
}
