//! [`Worker`]: claim a task, keep its lease alive, and learn the moment it is gone.
//!
//! A lease's heartbeat is a spawned task that renews it every third of its length. A renewal
//! that meets `UNAVAILABLE` (or its own deadline) is retried until the lease's local deadline,
//! counted from when the last successful claim or renewal was *sent*: the server started its
//! clock no earlier, so the worker gives up no later than the server could hand the task to
//! another worker. On `LEASE_LOST`, or when that deadline passes, [`Lease::lost`] resolves.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch;
use tokio::time::Instant;
use tonic::Code;

use crate::client::Client;
use crate::error::{Error, ErrorKind};
use crate::proto::{ErrorReason, TaskStatus};
use crate::retry::random_u64;
use crate::types::{ClaimOptions, Completion, RenewOptions, Task, TaskError, Variables};

/// The longest pause between renewal retries after `UNAVAILABLE` (and at most a tenth of the
/// lease).
const RETRY_PAUSE: Duration = Duration::from_millis(200);

/// How a [`Worker`] claims.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerOptions {
    /// The worker's identity, shown in [`TaskLease::worker_id`](crate::TaskLease); `None`:
    /// `host:pid:random`.
    pub worker_id: Option<String>,
    /// The lease each claim asks for (default 30 s); the heartbeat renews it every third.
    pub lease: Duration,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            worker_id: None,
            lease: Duration::from_secs(30),
        }
    }
}

impl WorkerOptions {
    /// Sets the worker's identity.
    pub fn worker_id(mut self, id: impl Into<String>) -> Self {
        self.worker_id = Some(id.into());
        self
    }
    /// Sets the lease each claim asks for.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }
}

/// Claims tasks for one worker identity; each claim is a [`Lease`] that heartbeats until it
/// is dropped. Cheap to clone.
///
/// ```no_run
/// use serde_json::json;
/// use taskstate_client::{ClaimOptions, Client, Completion, Worker, WorkerOptions};
///
/// # async fn demo(client: Client) -> Result<(), taskstate_client::Error> {
/// let worker = Worker::new(client, WorkerOptions::default());
/// let opts = ClaimOptions::new().request_method("tools/call");
/// if let Some(lease) = worker.claim_next(opts).await? {
///     tokio::select! {
///         why = lease.lost() => eprintln!("lease lost: {why}"), // stop: another worker may have it
///         done = lease.complete(Completion::completed(json!({"ok": true}))) => { done?; }
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Worker {
    client: Client,
    worker_id: String,
    lease: Duration,
}

impl Worker {
    /// A worker claiming through `client`.
    pub fn new(client: Client, options: WorkerOptions) -> Worker {
        let worker_id = options.worker_id.unwrap_or_else(default_worker_id);
        Worker {
            client,
            worker_id,
            lease: options.lease,
        }
    }

    /// The worker's identity.
    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    /// Claims the oldest claimable task (of `options.request_method`, waiting up to
    /// `options.wait`; `options.lease` overrides the worker's lease); `None` when there is
    /// none.
    pub async fn claim_next(&self, mut options: ClaimOptions) -> Result<Option<Lease>, Error> {
        let asked = *options.lease.get_or_insert(self.lease);
        let sent = Instant::now();
        match self.client.claim_next(&self.worker_id, options).await? {
            Some(task) => self.hold(task, asked, sent).await.map(Some),
            None => Ok(None),
        }
    }

    /// Claims this task; fails with [`ErrorKind::LeaseHeld`] while another worker holds it.
    pub async fn claim(&self, task_id: &str) -> Result<Lease, Error> {
        let sent = Instant::now();
        let task = self
            .client
            .claim(task_id, &self.worker_id, Some(self.lease))
            .await?;
        self.hold(task, self.lease, sent).await
    }

    async fn hold(
        &self,
        mut task: Task,
        asked: Duration,
        mut sent: Instant,
    ) -> Result<Lease, Error> {
        let Some(granted) = &task.lease else {
            return Err(Error::client(
                Code::Internal,
                format!(
                    "the server answered a claim of {} without a lease",
                    task.task_id
                ),
            ));
        };
        let token = granted.fencing_token;
        let duration = granted.duration.filter(|d| !d.is_zero()).unwrap_or(asked);
        let client = self.client.with_fencing_token(token);
        if sent.elapsed() > duration / 3 {
            // A claim that waited was granted at some unknown point of the wait: renew at once.
            sent = Instant::now();
            task = client
                .renew_lease(&task.task_id, token, RenewOptions::default())
                .await?;
        }
        Ok(Lease::start(client, task, token, duration, sent))
    }
}

/// `host:pid:random`: unique per process, readable in a task's lease.
fn default_worker_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_owned());
    format!("{host}:{}:{:08x}", std::process::id(), random_u64() as u32)
}

/// A claimed task: its writes carry the fencing token, and a spawned heartbeat renews the
/// lease until the task leaves `working`, the lease is lost, or this is dropped (dropping it
/// stops the heartbeat and writes nothing: the task's lease policy then decides, once the
/// lease runs out, whether it fails or becomes claimable again).
#[derive(Debug)]
pub struct Lease {
    shared: Arc<Shared>,
    heartbeat: tokio::task::AbortHandle,
}

#[derive(Debug)]
struct Shared {
    /// Carries the fencing token.
    client: Client,
    task_id: String,
    token: u64,
    duration: Duration,
    /// The latest version seen.
    task: Mutex<Task>,
    /// Held by a renewal and by each write, so a renewal never races a write that ends the
    /// lease (and then reports a loss that is none).
    calls: tokio::sync::Mutex<()>,
    lost: watch::Sender<Option<Error>>,
}

impl Lease {
    fn start(client: Client, task: Task, token: u64, duration: Duration, sent: Instant) -> Lease {
        let shared = Arc::new(Shared {
            client,
            task_id: task.task_id.clone(),
            token,
            duration,
            task: Mutex::new(task),
            calls: tokio::sync::Mutex::new(()),
            lost: watch::Sender::new(None),
        });
        let heartbeat = tokio::spawn(beat(shared.clone(), sent + duration)).abort_handle();
        Lease { shared, heartbeat }
    }

    /// The task's id.
    pub fn task_id(&self) -> &str {
        &self.shared.task_id
    }

    /// The lease's fencing token (what every write through this lease carries).
    pub fn fencing_token(&self) -> u64 {
        self.shared.token
    }

    /// The lease's length (the heartbeat renews it every third).
    pub fn duration(&self) -> Duration {
        self.shared.duration
    }

    /// The task as of the latest claim, renewal or write through this lease.
    pub fn task(&self) -> Task {
        self.shared.task.lock().unwrap().clone()
    }

    /// The client this lease writes with: its writes carry the fencing token (for calls this
    /// type has no method for, e.g. [`Client::update`]; those do not inform [`Lease::lost`]).
    pub fn client(&self) -> &Client {
        &self.shared.client
    }

    /// Resolves when the lease is lost, with why: [`ErrorKind::LeaseLost`] (the server says
    /// another claim took over, or the local deadline passed without a successful renewal), or
    /// the error that stopped the heartbeat (e.g. the task was deleted). Stop working on the
    /// task then. Never resolves while the lease holds, nor after the task left `working`
    /// (which ends the lease normally).
    pub async fn lost(&self) -> Error {
        let mut rx = self.shared.lost.subscribe();
        let why = match rx.wait_for(Option::is_some).await {
            Ok(seen) => seen.as_ref().map(Error::detached),
            Err(_) => None, // unreachable: `self` keeps the sender alive
        };
        match why {
            Some(e) => e,
            None => std::future::pending().await,
        }
    }

    /// Whether the lease is known to be lost (see [`Lease::lost`]).
    pub fn is_lost(&self) -> bool {
        self.shared.lost.borrow().is_some()
    }

    /// Merges variables into the task (fenced; `null` deletes a key).
    pub async fn set_variables(&self, variables: Variables) -> Result<Task, Error> {
        let id = self.task_id();
        self.write(|c| async move { c.set_variables(id, variables, None).await })
            .await
    }

    /// Sets one variable (fenced; `null` deletes it).
    pub async fn set_variable(&self, key: &str, value: Value) -> Result<Task, Error> {
        let id = self.task_id();
        self.write(|c| async move { c.set_variable(id, key, value).await })
            .await
    }

    /// Moves the task to another status (fenced); leaving `working` ends the lease.
    pub async fn update_status(&self, status: TaskStatus, message: &str) -> Result<Task, Error> {
        let id = self.task_id();
        self.write(|c| async move { c.update_status(id, status, message, None).await })
            .await
    }

    /// Completes or fails the task (fenced), which ends the lease.
    pub async fn complete(&self, completion: Completion) -> Result<Task, Error> {
        let id = self.task_id();
        self.write(|c| async move { c.complete(id, completion).await })
            .await
    }

    /// Fails the task with this error (fenced), which ends the lease.
    pub async fn fail(&self, error: TaskError) -> Result<Task, Error> {
        self.complete(Completion::failed(error)).await
    }

    /// Renews the lease now (fenced by the token; the heartbeat does this on its own), with
    /// an optional status message written in the same write.
    pub async fn renew(&self, options: RenewOptions) -> Result<Task, Error> {
        let (id, token) = (self.task_id(), self.shared.token);
        self.write(|c| async move { c.renew_lease(id, token, options).await })
            .await
    }

    /// Stops the heartbeat (the same as dropping the lease).
    pub fn close(self) {}

    async fn write<'a, F, Fut>(&'a self, call: F) -> Result<Task, Error>
    where
        F: FnOnce(&'a Client) -> Fut,
        Fut: std::future::Future<Output = Result<Task, Error>>,
    {
        let _turn = self.shared.calls.lock().await;
        let result = call(&self.shared.client).await;
        match &result {
            Ok(task) => self.shared.keep(task.clone()),
            Err(e) if matches!(e.kind(), ErrorKind::LeaseLost { .. }) => {
                self.shared.lose(e.detached())
            }
            Err(_) => {}
        }
        result
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.heartbeat.abort();
    }
}

impl Shared {
    /// A lease ends with any write leaving `working`: then there is nothing to renew.
    fn holding(&self) -> bool {
        self.lost.borrow().is_none() && self.task.lock().unwrap().status == TaskStatus::Working
    }

    fn keep(&self, task: Task) {
        let mut known = self.task.lock().unwrap();
        if task.version >= known.version {
            *known = task;
        }
    }

    fn lose(&self, why: Error) {
        self.lost.send_if_modified(|lost| {
            if lost.is_some() {
                return false;
            }
            *lost = Some(why);
            true
        });
    }

    fn missed_deadline(&self) -> Error {
        Error::client(
            Code::FailedPrecondition,
            format!(
                "the lease on task {} was not renewed before its local deadline",
                self.task_id
            ),
        )
        .with_reason(ErrorReason::LeaseLost)
        .with_metadata("fencing_token", self.token.to_string())
    }
}

/// The heartbeat: renews at a third of the lease; `deadline` is when the lease ends on the
/// server at the latest (the last successful send plus the lease).
async fn beat(shared: Arc<Shared>, mut deadline: Instant) {
    let lease = shared.duration;
    loop {
        let now = Instant::now();
        tokio::time::sleep((lease / 3).min(deadline.saturating_duration_since(now))).await;
        loop {
            let turn = shared.calls.lock().await;
            if !shared.holding() {
                return;
            }
            let sent = Instant::now();
            if sent >= deadline {
                shared.lose(shared.missed_deadline());
                return;
            }
            let renewal = shared
                .client
                .with_timeout(Some(deadline - sent))
                .renew_lease(&shared.task_id, shared.token, RenewOptions::default())
                .await;
            match renewal {
                Ok(task) => {
                    shared.keep(task);
                    deadline = sent + lease;
                    break;
                }
                Err(e) if e.is_retryable() || e.code() == Code::DeadlineExceeded => {
                    drop(turn);
                    let left = deadline.saturating_duration_since(Instant::now());
                    tokio::time::sleep(RETRY_PAUSE.min(lease / 10).min(left)).await;
                }
                Err(e) => {
                    shared.lose(e);
                    return;
                }
            }
        }
    }
}
