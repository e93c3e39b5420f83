//! Tidy checks: every source file starts with a `//!` doc, and the synchronous crates
//! do not depend on tokio.

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if p.is_dir() {
            if name != "target" && !name.starts_with('.') {
                rust_files(&p, out);
            }
        } else if name.ends_with(".rs") {
            out.push(p);
        }
    }
}

#[test]
fn every_source_file_starts_with_a_module_doc() {
    let root = workspace_root();
    let mut files = Vec::new();
    for d in ["crates", "benches", "tests"] {
        rust_files(&root.join(d), &mut files);
    }
    assert!(files.len() > 20, "found too few files: {}", files.len());
    let offenders: Vec<_> = files
        .iter()
        .filter(|f| {
            !std::fs::read_to_string(f)
                .unwrap_or_default()
                .starts_with("//!")
        })
        .map(|f| f.strip_prefix(&root).unwrap_or(f).display().to_string())
        .collect();
    assert!(
        offenders.is_empty(),
        "files without a leading //! doc: {offenders:#?}"
    );
}

#[test]
fn storage_and_query_cores_do_not_depend_on_tokio() {
    for krate in ["tsdb", "promql", "compactor", "ingest"] {
        let out = Command::new(env!("CARGO"))
            .args([
                "tree",
                "--offline",
                "-p",
                krate,
                "-e",
                "normal",
                "--prefix",
                "none",
            ])
            .current_dir(workspace_root())
            .output()
            .expect("cargo tree");
        assert!(
            out.status.success(),
            "cargo tree -p {krate}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let tree = String::from_utf8_lossy(&out.stdout);
        assert!(
            !tree.lines().any(|l| l.starts_with("tokio ")),
            "{krate} depends on tokio:\n{tree}"
        );
        assert!(
            tree.lines().any(|l| l.starts_with(&format!("{krate} "))),
            "unexpected cargo tree output:\n{tree}"
        );
    }
}
