//! The layering of the broker crate, checked over its source tree (issue 14): the core imports
//! no protocol adapter and not the adapters' shared context; no adapter (Kafka, native, HTTP)
//! imports another. A `use crate::{kafka, …}` group, a `crate::native::…` path anywhere in the
//! code, or a `super::super::…` walk into another adapter all count; comments do not.
//!
//! One exception, kept to a single file and named paths (issue 18): the Iggy HTTP API is the
//! Iggy command set in JSON, and `http/exec.rs` runs those commands through the native command
//! router (`native::dispatch::run_for`, with a `native::call::Conn` for the caller), so Iggy's
//! rules exist once. Nothing else in `http/` may reach the native adapter.

use std::path::{Path, PathBuf};

/// (module directory or file under `src/`, the crate modules it must not reach)
const RULES: &[(&str, &[&str])] = &[
    (
        "core",
        &["kafka", "native", "http", "context", "server", "broker"],
    ),
    ("kafka", &["native", "http"]),
    ("native", &["kafka", "http"]),
    ("http", &["kafka", "native"]),
];

/// (file under `src/`, the one module it may reach despite [`RULES`], the only paths it may
/// name in it)
const EXCEPTIONS: &[(&str, &str, &[&str])] = &[(
    "http/exec.rs",
    "native",
    &[
        "crate::native::call::{Conn, Payload}",
        "crate::native::dispatch::run_for",
    ],
)];

/// The text of each `crate::<module>::…` path in `code`, up to the end of its name or group.
fn paths_into(code: &str, module: &str) -> Vec<String> {
    let start = format!("crate::{module}::");
    code.match_indices(&start)
        .map(|(at, _)| {
            let rest = &code[at..];
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || "_:{}, ".contains(c)))
                .unwrap_or(rest.len());
            rest[..end].trim_end().to_string()
        })
        .collect()
}

/// Whether `file` may reach `name`: only under an exception, and only by its named paths.
fn excepted(file: &Path, src: &Path, name: &str, code: &str) -> bool {
    let relative = file.strip_prefix(src).unwrap_or(file);
    EXCEPTIONS.iter().any(|(path, module, allowed)| {
        Path::new(path) == relative
            && *module == name
            && paths_into(code, module)
                .iter()
                .all(|found| allowed.contains(&found.as_str()))
    })
}

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
                if forbidden.contains(&name.as_str()) && !excepted(&file, &src, &name, &code) {
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
fn exceptions_allow_only_their_named_paths() {
    let code =
        code_of("use crate::native::call::{Conn, Payload};\ncrate::native::dispatch::run_for(x)");
    assert_eq!(
        paths_into(&code, "native"),
        vec![
            "crate::native::call::{Conn, Payload}",
            "crate::native::dispatch::run_for"
        ]
    );
    let src = Path::new("/s");
    let exec = Path::new("/s/http/exec.rs");
    assert!(excepted(exec, src, "native", &code));
    let wider = code_of("use crate::native::users::UserStore;");
    assert!(!excepted(exec, src, "native", &wider));
    assert!(!excepted(Path::new("/s/http/mod.rs"), src, "native", &code));
}

#[test]
fn the_checker_sees_grouped_and_inline_paths() {
    let code =
        code_of("use crate::{limits, native::x};\nlet a = crate::kafka::f(); // crate::http");
    assert_eq!(reached(&code), vec!["limits", "native", "kafka"]);
}
