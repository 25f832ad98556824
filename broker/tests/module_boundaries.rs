//! The layering of the broker crate, checked over its source tree (issue 14): the core imports
//! no protocol adapter and not the adapters' shared context; no adapter (Kafka, native, HTTP)
//! imports another. A `use crate::{kafka, …}` group, a `crate::native::…` path anywhere in the
//! code, or a `super::super::…` walk into another adapter all count; comments do not.

use std::path::{Path, PathBuf};

/// (module directory or file under `src/`, the crate modules it must not reach)
const RULES: &[(&str, &[&str])] = &[
    (
        "core",
        &["kafka", "native", "http", "context", "server", "broker"],
    ),
    ("kafka", &["native", "http"]),
    ("native", &["kafka", "http"]),
    ("http.rs", &["kafka", "native"]),
];

fn rust_files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_file() {
        out.push(path.to_path_buf());
        return;
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .map(|entry| entry.map(|e| e.path()).unwrap_or_default())
        .collect();
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            rust_files(&entry, out);
        } else if entry.extension().is_some_and(|e| e == "rs") {
            out.push(entry);
        }
    }
}

/// The source without `//` comments (doc comments name other modules freely).
fn code_of(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every crate module `code` reaches: `crate::m`, and each name in a `crate::{…}` group.
fn reached(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name = item.trim().split("::").next().unwrap_or("").trim();
                found.push(name.split_whitespace().next().unwrap_or("").to_string());
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            found.push(name);
        }
    }
    found
}

#[test]
fn core_and_adapters_keep_their_boundaries() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut broken = Vec::new();
    for (module, forbidden) in RULES {
        let mut files = Vec::new();
        rust_files(&src.join(module), &mut files);
        assert!(!files.is_empty(), "no source found for {module}");
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            let code = code_of(&text);
            for name in reached(&code) {
                if forbidden.contains(&name.as_str()) {
                    broken.push(format!("{} reaches crate::{name}", file.display()));
                }
            }
            if code.contains("super::super::super") {
                broken.push(format!("{} walks up three modules", file.display()));
            }
        }
    }
    assert!(broken.is_empty(), "layering broken:\n{}", broken.join("\n"));
}

#[test]
fn the_checker_sees_grouped_and_inline_paths() {
    let code =
        code_of("use crate::{limits, native::x};\nlet a = crate::kafka::f(); // crate::http");
    assert_eq!(reached(&code), vec!["limits", "native", "kafka"]);
}
