//! Rust client for **taskstate**, the durable task-state service for tool handlers.
//!
//! A tool handler starts long-running work, gets a task id back at once, and from then on any
//! process can read the task, move it through its lifecycle, share variables with it, wait for
//! it or watch it change. This crate speaks the `taskstate.v1.TaskService` gRPC API (tonic +
//! prost) and adds what every taskstate client offers:
//!
//! * [`Client::connect`] with a bearer token, TLS (one default rule: plaintext to a loopback
//!   host, TLS to any other, see [`TlsOptions`]) and a default per-call deadline
//!   ([`ClientOptions`], [`ClientOptions::from_env`]);
//! * one method per RPC, on friendly types: [`Task`] (variables, result and error data as
//!   [`serde_json::Value`]s), [`TaskStatus`], [`std::time::Duration`] / [`std::time::SystemTime`];
//! * [`Client::update`]: read, apply a closure, compare-and-swap write, retried on conflicts
//!   with jittered exponential backoff;
//! * [`Client::watch`]: a [`Stream`](futures_core::Stream) of a task's versions that resumes
//!   from the last version seen after a dropped connection, and [`Client::watch_all`];
//! * [`Client::events`]: every change to the caller's tasks (writes, deletions, expiries) with
//!   a resume cursor, surviving dropped connections and compacted cursors;
//! * [`Worker`]: claims tasks under a lease that a spawned heartbeat renews; a [`Lease`]'s
//!   writes carry its fencing token, and [`Lease::lost`] resolves when the lease is gone;
//! * typed errors ([`Error`]) carrying the gRPC code, the `google.rpc.ErrorInfo` reason and its
//!   metadata ([`Error::kind`] for matching).
//!
//! The generated protobuf/gRPC code is in [`proto`]; [`Client::raw`] hands out the generated
//! stub (with the client's credentials) for anything the friendly API does not cover.
//!
//! ```no_run
//! use futures_util::StreamExt;
//! use serde_json::json;
//! use taskstate_client::{Client, ClientOptions, Completion, NewTask};
//!
//! # async fn demo() -> Result<(), taskstate_client::Error> {
//! // TASKSTATE_TOKEN and the TLS variables, if set; plaintext to a loopback address.
//! let client = Client::connect("127.0.0.1:50051", ClientOptions::from_env()?).await?;
//! let task = client.create(NewTask::new().request_method("tools/call")).await?;
//! client.update(&task.task_id, |t| {
//!     let n = t.variables.get("progress").and_then(|v| v.as_i64()).unwrap_or(0);
//!     t.variables.insert("progress".into(), json!(n + 10));
//! }).await?;
//! client.complete(&task.task_id, Completion::completed(json!({"ok": true}))).await?;
//! let mut versions = client.watch(&task.task_id, 0);
//! while let Some(t) = versions.next().await {
//!     let t = t?;
//!     println!("{} v{}", t.status, t.version);
//! }
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod client;
mod convert;
mod error;
mod feed;
mod options;
mod retry;
mod types;
mod watch;
mod worker;

/// Code generated from `proto/taskstate/v1/taskstate.proto` by `buf generate`
/// (protoc-gen-prost + protoc-gen-tonic, client only). Do not edit.
pub mod proto {
    /// The `taskstate` protobuf package.
    pub mod taskstate {
        /// `taskstate.v1`: messages and the `TaskService` client stub.
        #[allow(missing_docs, clippy::all, clippy::pedantic)]
        pub mod v1 {
            include!("gen/taskstate/v1/taskstate.v1.rs");
            include!("gen/taskstate/v1/taskstate.v1.tonic.rs");
        }
    }
    pub use self::taskstate::v1::*;
}

pub use client::{Client, RawClient};
pub use convert::{json_to_value, value_to_json, MAX_SAFE_INTEGER, VALUE_NOT_REPRESENTABLE};
pub use error::{Error, ErrorKind, ErrorOrigin, FieldViolation, ERROR_DOMAIN, LEASE_EXPIRED};
pub use options::{address_from_env, ClientOptions, TlsMode, TlsOptions, DEFAULT_ADDRESS};
/// What happens when a worker's lease expires unrenewed: `Fail` (the default: the task fails
/// with reason `LEASE_EXPIRED` in its error data) or `Release` (claimable again, up to its
/// `max_attempts`); `Unspecified` takes the server's default.
pub use proto::LeasePolicy;
/// The lifecycle of a task (the generated enum, with [`TaskStatus::is_terminal`],
/// [`TaskStatus::as_str`] and `FromStr`/`Display` using the lowercase names `working`,
/// `input_required`, `completed`, `failed`, `cancelled`).
pub use proto::TaskStatus;
/// How much of each task [`Client::list`], [`Client::list_all`] and [`Client::watch_all`]
/// return: `Full` (the default) or `Basic` (no `variables`, `result` or `error`: for
/// dashboards and workers scanning for work).
pub use proto::TaskView;
pub use retry::RetryPolicy;
pub use types::{
    ClaimOptions, Completion, EventKind, EventStream, InputAccepted, ListOptions, NewTask,
    RenewOptions, Task, TaskError, TaskEvent, TaskField, TaskLease, TaskPage, TaskStream,
    Variables, WatchAllOptions,
};
pub use worker::{Lease, Worker, WorkerOptions};

/// Re-exported so callers need not depend on tonic directly for status codes.
pub use tonic::Code;
