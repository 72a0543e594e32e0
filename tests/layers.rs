//! The dependency rules of issue 16, read from the source itself: no import
//! cycle between top-level modules, the domain modules never import the
//! Japanese wording (`messages`), and only `queue/` issues SQL.
//!
//! "Imports" are the `crate::module` paths in non-test code (comments,
//! `#[cfg(test)]` modules and `tests.rs` / `testing.rs` files left out):
//! the same thing a reader sees when asking "what does this module use?".

use regex::Regex;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The modules that produce facts and must leave wording to `messages`.
const DOMAIN: [&str; 7] = [
    "sheet",
    "validation",
    "message",
    "gmis",
    "queue",
    "calendar",
    "request",
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`src/queue/filing.rs` → `queue`).
fn module_of(path: &Path) -> String {
    let rel = path.strip_prefix(src()).expect("under src");
    let first = rel.components().next().expect("component");
    let name = first.as_os_str().to_string_lossy();
    name.trim_end_matches(".rs").to_string()
}

/// The file's code without its `#[cfg(test)]` modules and comments.
fn production_code(text: &str) -> String {
    let test_module =
        Regex::new(r"#\[cfg\(test\)\]\s*(pub(\([^)]*\))?\s+)?mod\s+\w+\s*\{").unwrap();
    let mut code = String::new();
    let mut rest = text;
    while let Some(m) = test_module.find(rest) {
        code.push_str(&rest[..m.start()]);
        rest = &rest[block_end(rest, m.end() - 1)..];
    }
    code.push_str(rest);
    code.lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The index just past the block whose `{` is at `open`, skipping braces in
/// string and character literals (the end of the text if it never closes).
fn block_end(text: &str, open: usize) -> usize {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = open;
    while i < bytes.len() {
        match bytes[i] {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            b'r' if bytes.get(i + 1) == Some(&b'#') || bytes.get(i + 1) == Some(&b'"') => {
                // A raw string: r"…" or r#"…"#.
                let hashes = bytes[i + 1..].iter().take_while(|&&b| b == b'#').count();
                if bytes.get(i + 1 + hashes) == Some(&b'"') {
                    let close = format!("\"{}", "#".repeat(hashes));
                    let from = i + 2 + hashes;
                    i = text[from..]
                        .find(&close)
                        .map_or(bytes.len(), |k| from + k + close.len());
                    continue;
                }
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'\'' if bytes.get(i + 2) == Some(&b'\'') || bytes.get(i + 1) == Some(&b'\\') => {
                // A character literal such as '{' or '\\'' (not a lifetime).
                i += 1;
                while i < bytes.len() && bytes[i] != b'\'' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            _ => {}
        }
        i += 1;
    }
    bytes.len()
}

/// Every top-level module → the top-level modules its production code names.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let path = Regex::new(r"crate::(\w+)").unwrap();
    let group = Regex::new(r"crate::\{([^}]*)\}").unwrap();
    let head = Regex::new(r"(?:^|[,{\s])(\w+)(?:::|\s*,|\s*$)").unwrap();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let module = module_of(&file);
        if name == "tests.rs" || name == "testing.rs" || module == "lib" || module == "main" {
            continue;
        }
        let code = production_code(&std::fs::read_to_string(&file).expect("read"));
        let mut used: BTreeSet<String> = path
            .captures_iter(&code)
            .map(|c| c[1].to_string())
            .collect();
        for g in group.captures_iter(&code) {
            used.extend(head.captures_iter(&g[1]).map(|c| c[1].to_string()));
        }
        used.remove(&module);
        used.remove("self");
        graph.entry(module).or_default().extend(used);
    }
    graph
}

/// A cycle through `start`, if the graph has one (depth-first search).
fn cycle_from(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    fn walk(
        graph: &BTreeMap<String, BTreeSet<String>>,
        start: &str,
        at: &str,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        for next in graph.get(at).into_iter().flatten() {
            if next == start {
                path.push(next.clone());
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(graph, start, next, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start.to_string()];
    let mut seen = BTreeSet::new();
    walk(graph, start, start, &mut path, &mut seen).then_some(path)
}

#[test]
fn no_import_cycle_between_top_level_modules() {
    let graph = imports();
    assert!(
        graph.len() > 15,
        "the scan found too few modules: {graph:?}"
    );
    // The scan sees real edges (a broken regex would pass any graph).
    assert!(graph["pipeline"].contains("queue"));
    assert!(graph["web"].contains("queue"));
    let cycles: Vec<String> = graph
        .keys()
        .filter_map(|m| cycle_from(&graph, m))
        .map(|c| c.join(" → "))
        .collect();
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn domain_modules_never_import_the_wording() {
    let graph = imports();
    for module in DOMAIN {
        let used = graph
            .get(module)
            .unwrap_or_else(|| panic!("no module {module}"));
        assert!(!used.contains("messages"), "{module} imports messages");
    }
    // The layer that does the wording is reached by the edges.
    assert!(graph["replies"].contains("messages"));
    assert!(graph["web"].contains("messages"));
}

#[test]
fn only_the_queue_issues_sql() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let sql = Regex::new(r"sqlx::(query|query_as|query_scalar)\b").unwrap();
    let outside: Vec<String> = files
        .iter()
        .filter(|f| module_of(f) != "queue")
        .filter(|f| sql.is_match(&production_code(&std::fs::read_to_string(f).unwrap())))
        .map(|f| f.display().to_string())
        .collect();
    assert!(outside.is_empty(), "SQL outside queue/: {outside:?}");
}
