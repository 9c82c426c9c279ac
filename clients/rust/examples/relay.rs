//! The Rust step of the cross-language relay test (`tests/relay/test_relay.py`): reads a task
//! and completes it with a result built from the variables the Go and TypeScript steps wrote.
//!
//! ```text
//! TASKSTATE_ADDRESS=127.0.0.1:50051 TASKSTATE_TOKEN=... \
//!     cargo run --quiet --manifest-path clients/rust/Cargo.toml --example relay -- <task_id>
//! ```
//!
//! The result is `{"completed_by": "rust", "claimed_by": <claimed_by>, "ts_note": <ts_note>}`,
//! written at the version read (so it reflects exactly the variables it was built from). stdout
//! carries only the new version; errors go to stderr with exit code 1 (2 for bad usage).

use std::process::ExitCode;
use std::time::Duration;

use serde_json::{json, Value};
use taskstate_client::{Client, ClientOptions, Completion, Task};

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [task_id] = args.as_slice() else {
        eprintln!("usage: relay <task_id>");
        return ExitCode::from(2);
    };
    let Some(address) = std::env::var("TASKSTATE_ADDRESS")
        .ok()
        .filter(|a| !a.is_empty())
    else {
        eprintln!("relay: TASKSTATE_ADDRESS is not set");
        return ExitCode::from(2);
    };
    // TASKSTATE_TOKEN and the TLS variables (TASKSTATE_TLS, TASKSTATE_CA_CERT, ...).
    let options = match ClientOptions::from_env() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("relay: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&address, options, task_id).await {
        Ok(task) => {
            println!("{}", task.version);
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("relay: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(address: &str, options: ClientOptions, task_id: &str) -> Result<Task, String> {
    let options = ClientOptions {
        default_timeout: Some(Duration::from_secs(10)),
        ..options
    };
    let client = Client::connect(address, options)
        .await
        .map_err(|e| format!("connect {address}: {e}"))?;
    let task = client
        .get(task_id)
        .await
        .map_err(|e| format!("GetTask {task_id}: {e}"))?;
    let variable = |name: &str| -> Result<Value, String> {
        task.variables.get(name).cloned().ok_or_else(|| {
            format!(
                "task {task_id} (version {}) has no variable {name:?}: {:?}",
                task.version, task.variables
            )
        })
    };
    let result = json!({
        "completed_by": "rust",
        "claimed_by": variable("claimed_by")?,
        "ts_note": variable("ts_note")?,
    });
    let completion = Completion::completed(result)
        .message("completed by rust")
        .expected_version(task.version);
    client
        .complete(task_id, completion)
        .await
        .map_err(|e| format!("CompleteTask {task_id} at version {}: {e}", task.version))
}
