//! The crate's package: complete crates.io metadata, and only the library in it (the generated
//! code included; the examples, which are the repository's test runners, and the tests left out).
//! `cargo publish --dry-run` is the full check; this one needs no network and no build.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn cargo(args: &[&str]) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args(args)
        .arg("--manifest-path")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .output()
        .expect("run cargo");
    assert!(
        out.status.success(),
        "cargo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn metadata_is_complete() {
    let meta: Value = serde_json::from_str(&cargo(&[
        "metadata",
        "--no-deps",
        "--offline",
        "--format-version",
        "1",
    ]))
    .unwrap();
    let pkg = &meta["packages"][0];
    assert_eq!(pkg["name"], "taskstate-client");
    assert_eq!(pkg["license"], "Apache-2.0");
    for field in ["description", "repository", "homepage", "rust_version"] {
        assert!(
            pkg[field].as_str().is_some_and(|s| !s.is_empty()),
            "{field}"
        );
    }
    assert!(pkg["readme"].as_str().unwrap().ends_with("README.md"));
    for field in ["keywords", "categories"] {
        let n = pkg[field].as_array().map_or(0, Vec::len);
        assert!((1..=5).contains(&n), "{field}: {n}");
    }
    assert!(
        pkg["publish"].is_null(),
        "publish is restricted: {}",
        pkg["publish"]
    );
}

#[test]
fn package_holds_the_library_and_no_test_runners() {
    let listing = cargo(&["package", "--list", "--allow-dirty", "--offline"]);
    let files: Vec<&str> = listing.lines().collect();
    for want in [
        "Cargo.toml",
        "README.md",
        "LICENSE",
        "src/lib.rs",
        "src/gen/taskstate/v1/taskstate.v1.rs",
        "src/gen/taskstate/v1/taskstate.v1.tonic.rs",
    ] {
        assert!(files.contains(&want), "{want} missing from {files:?}");
    }
    for f in &files {
        assert!(
            !f.starts_with("examples/") && !f.starts_with("tests/") && !f.starts_with("target/"),
            "{f} is packaged"
        );
    }
}
