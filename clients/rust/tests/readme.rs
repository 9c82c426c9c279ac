//! Runs the Rust examples of the READMEs as written: every ```rust block of clients/rust/README.md
//! and of the root README's `## Rust` section, except those after a `<!-- not-run -->` line,
//! against a fresh server configured like `make run` (SQLite, no tokens, loopback).
//!
//! Each block is the body of an `async fn run() -> Result<(), Box<dyn std::error::Error>>`. The
//! bodies become one program in a scratch crate (under the target directory) that depends on
//! this one by path, as the README tells users to; it shares this crate's target directory and
//! dependency versions, so only the scratch crate itself is compiled. The program gets the
//! server's address through `TASKSTATE_ADDRESS`, and no other `TASKSTATE_*` variable.
//! `TASKSTATE_ROOT_README=path` checks another copy of the root README (e.g. a draft).

mod common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use common::{Server, ServerConfig, TempDir};

/// One fenced code block: where it starts (for failures) and its text.
struct Block {
    place: String,
    code: String,
}

/// The runnable ```rust blocks of a markdown file (called `name` in messages), from the heading
/// `section` to the next `## ` heading (the whole file if `None`).
fn rust_blocks(path: &Path, name: &str, section: Option<&str>) -> Vec<Block> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut blocks = Vec::new();
    let mut in_section = section.is_none();
    let mut current: Option<(usize, String, bool)> = None; // (line, code, runnable)
    let mut previous = "";
    for (i, line) in text.lines().enumerate() {
        let fence = line.trim_start().starts_with("```");
        if let Some((start, code, runnable)) = current.as_mut() {
            if fence {
                if *runnable {
                    blocks.push(Block {
                        place: format!("{name}:{start}"),
                        code: std::mem::take(code),
                    });
                }
                current = None;
            } else {
                code.push_str(line);
                code.push('\n');
            }
            continue;
        }
        if let (Some(wanted), true) = (section, line.starts_with("## ")) {
            in_section = line.trim() == wanted;
        } else if fence {
            let runnable =
                in_section && line.trim() == "```rust" && previous.trim() != "<!-- not-run -->";
            current = Some((i + 1, String::new(), runnable));
        }
        if !line.trim().is_empty() {
            previous = line;
        }
    }
    assert!(current.is_none(), "{name}: a code block is not closed");
    blocks
}

/// One program running every block in turn, each within a minute; exits 1 if any fails.
fn program(blocks: &[Block]) -> String {
    let mut p = String::from(
        "#![allow(unused, clippy::all)]\n\
         use std::time::Duration;\n\n",
    );
    for (i, b) in blocks.iter().enumerate() {
        writeln!(
            p,
            "// {}\nasync fn run_{i}() -> Result<(), Box<dyn std::error::Error>> {{\n{}\n    \
             #[allow(unreachable_code)]\n    Ok(())\n}}\n",
            b.place, b.code
        )
        .unwrap();
    }
    p.push_str("#[tokio::main]\nasync fn main() -> std::process::ExitCode {\n    let mut failed = false;\n");
    for (i, b) in blocks.iter().enumerate() {
        writeln!(
            p,
            "    println!(\"== {place}\");\n    \
             match tokio::time::timeout(Duration::from_secs(60), run_{i}()).await {{\n        \
             Ok(Ok(())) => {{}}\n        \
             Ok(Err(e)) => {{ eprintln!(\"{place}: {{e}}\"); failed = true; }}\n        \
             Err(_) => {{ eprintln!(\"{place}: timed out\"); failed = true; }}\n    }}",
            place = b.place
        )
        .unwrap();
    }
    p.push_str("    if failed { std::process::ExitCode::FAILURE } else { std::process::ExitCode::SUCCESS }\n}\n");
    p
}

/// The target directory this test was built in (`<target>/debug/deps/readme-<hash>`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).expect("target dir").to_path_buf()
}

/// The text of a `[section]` of a TOML file, without its header.
fn toml_section(toml: &str, header: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in toml.lines() {
        if line.starts_with('[') {
            inside = line.trim() == header;
        } else if inside {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// A scratch crate using this one by path, with this crate's dependencies (its dev-dependencies,
/// feature for feature, so every compiled dependency is shared) and its Cargo.lock.
fn scratch_crate(dir: &Path, main_rs: &str) {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ours = std::fs::read_to_string(crate_dir.join("Cargo.toml")).unwrap();
    let manifest = format!(
        "[package]\nname = \"readme-check\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
         publish = false\n\n[workspace]\n\n[dependencies]\n\
         taskstate-client = {{ path = {path:?} }}\n\
         serde_json = \"1\"\n\
         futures-util = {{ version = \"0.3\", default-features = false, features = [\"std\"] }}\n\
         {dev}",
        path = crate_dir.display().to_string(),
        dev = toml_section(&ours, "[dev-dependencies]"),
    );
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    std::fs::copy(crate_dir.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    // Rewritten only when it changes, so an unchanged README costs no compilation.
    let main_path = dir.join("src/main.rs");
    if std::fs::read_to_string(&main_path).ok().as_deref() != Some(main_rs) {
        std::fs::write(main_path, main_rs).unwrap();
    }
}

fn root_readme() -> PathBuf {
    match std::env::var("TASKSTATE_ROOT_README") {
        Ok(p) if !p.is_empty() => PathBuf::from(p),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"),
    }
}

/// Runs `cmd`; on failure, fails the test with `what`, the generated program's path and the
/// command's output.
async fn succeed(cmd: &mut tokio::process::Command, what: &str, main_rs: &Path) {
    let out = cmd.output().await.expect("start the command");
    assert!(
        out.status.success(),
        "{what} ({}):\n{}\n{}",
        main_rs.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn readme_examples_run() {
    let crate_readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let mut blocks = Vec::new();
    for (path, name, section) in [
        (crate_readme, "clients/rust/README.md", None),
        (root_readme(), "README.md", Some("## Rust")),
    ] {
        let found = rust_blocks(&path, name, section);
        assert!(
            !found.is_empty(),
            "no runnable ```rust block in {}",
            path.display()
        );
        blocks.extend(found);
    }

    let target = target_dir();
    let dir = target.join("readme-check");
    scratch_crate(&dir, &program(&blocks));
    let main_rs = dir.join("src/main.rs");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut build = tokio::process::Command::new(&cargo);
    build
        .args(["build", "--quiet", "--offline", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target);
    succeed(&mut build, "the README examples do not compile", &main_rs).await;

    let db = TempDir::new("readme");
    let server = Server::start_with(ServerConfig {
        store: format!("sqlite:///{}", db.path().join("taskstate.db").display()),
        ..Default::default()
    })
    .await;
    let mut run = tokio::process::Command::new(target.join("debug/readme-check"));
    for (name, _) in std::env::vars() {
        if name.starts_with("TASKSTATE_") {
            run.env_remove(name);
        }
    }
    run.env("TASKSTATE_ADDRESS", &server.addr);
    succeed(&mut run, "a README example failed", &main_rs).await;
}
