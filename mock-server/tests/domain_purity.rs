//! The domain core knows no HTTP: no file under `src/domain` names an HTTP crate or reaches a
//! module outside the domain (which could speak HTTP for it). Comments may name anything.

use std::path::{Path, PathBuf};

/// Crates that speak HTTP (`http::` catches `axum::http::…` and the `http` crate alike).
const HTTP_CRATES: &[&str] = &["axum", "http::", "http_body", "hyper", "tower", "reqwest"];

fn sources(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("the domain folder is readable").flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

/// The offending lines of one source: `path:line: code`.
fn offences(file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).expect("a readable source");
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim_start().starts_with("//"))
        .filter(|(_, line)| {
            let outside = line
                .match_indices("crate::")
                .any(|(at, _)| !line[at..].starts_with("crate::domain"));
            outside || HTTP_CRATES.iter().any(|name| line.contains(name))
        })
        .map(|(number, line)| format!("{}:{}: {}", file.display(), number + 1, line.trim()))
        .collect()
}

#[test]
fn the_domain_imports_no_http_crate_and_no_module_outside_it() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/domain");
    let mut files = Vec::new();
    sources(&dir, &mut files);

    let found: Vec<String> = files.iter().flat_map(|file| offences(file)).collect();

    assert!(files.len() >= 3, "the scan found the domain's files: {files:?}");
    assert!(
        found.is_empty(),
        "the domain must not speak HTTP:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_scan_would_notice_an_http_import() {
    let dir = std::env::temp_dir().join(format!("domain-purity-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    let file = dir.join("bad.rs");
    std::fs::write(
        &file,
        "// axum is fine in a comment\nuse axum::http::Method;\nuse crate::state::AppState;\nuse crate::domain::clock::Clock;\n",
    )
    .expect("a scratch file");

    let found = offences(&file);

    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(found.len(), 2, "{found:?}");
}
