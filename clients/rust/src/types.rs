//! Friendly types: tasks, request builders, status helpers.

use std::fmt;
use std::pin::Pin;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use futures_core::Stream;
use serde_json::Value;

use crate::error::Error;
use crate::proto::{LeasePolicy, TaskStatus, TaskView};

/// A task's shared variables: JSON values by key (sorted by key).
pub type Variables = serde_json::Map<String, Value>;

/// A stream of tasks, as returned by [`Client::watch`](crate::Client::watch),
/// [`Client::watch_all`](crate::Client::watch_all) and
/// [`Client::list_all`](crate::Client::list_all).
pub type TaskStream = Pin<Box<dyn Stream<Item = Result<Task, Error>> + Send + 'static>>;

/// A durable task (the friendly form of `taskstate.v1.Task`).
///
/// Times are [`SystemTime`]s and durations [`Duration`]s; `variables`, `result` and the error's
/// `data` are JSON. `None` means the field is unset on the server (e.g. `result` before
/// completion); a result that is JSON `null` is `Some(Value::Null)`.
///
/// `Task::default()` (status `Unspecified`, everything empty) is a convenient base for the
/// values of [`Client::put_if_version`](crate::Client::put_if_version).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Task {
    /// Server-generated UUIDv7.
    pub task_id: String,
    /// Current status.
    pub status: TaskStatus,
    /// Free text describing the current status.
    pub status_message: String,
    /// What started the task, e.g. `tools/call`.
    pub request_method: String,
    /// When the task was created.
    pub create_time: Option<SystemTime>,
    /// When the last committed write happened.
    pub update_time: Option<SystemTime>,
    /// Time to live; `None` = never expires.
    pub ttl: Option<Duration>,
    /// When the task stops existing; `None` when it has no ttl.
    pub expire_time: Option<SystemTime>,
    /// Suggested interval between polls.
    pub poll_interval: Option<Duration>,
    /// The shared scratchpad.
    pub variables: Variables,
    /// The outcome; set when completed (may be set when failed).
    pub result: Option<Value>,
    /// Why the task failed; set when failed.
    pub error: Option<TaskError>,
    /// 1 at creation, +1 on every committed write.
    pub version: u64,
    /// The live lease of the worker that claimed the task; `None` when no worker holds it.
    pub lease: Option<TaskLease>,
    /// What happens when a lease expires unrenewed (`Unspecified`: the server's default, fail).
    pub lease_policy: LeasePolicy,
    /// How many claims a [`LeasePolicy::Release`] task allows before it fails (0: unset).
    pub max_attempts: u32,
    /// The attempt under way: 1 at creation, +1 each time an expired lease releases the task.
    pub attempt: u32,
    /// The end user the task belongs to (the subject of the client that created it, see
    /// [`Client::with_subject`](crate::Client::with_subject)); empty when it had none.
    pub subject: String,
    /// Requests the worker needs answered, by a key unique over the task's lifetime (set with
    /// [`Client::update_status_with_input`](crate::Client::update_status_with_input)); empty
    /// with the basic view. See [`Task::outstanding_input`].
    pub input_requests: Variables,
    /// The answers given with [`Client::provide_input`](crate::Client::provide_input), by the
    /// key of their request; empty with the basic view.
    pub input_responses: Variables,
    /// Set by [`Client::request_cancel`](crate::Client::request_cancel): the requester wants
    /// the work stopped.
    pub cancel_requested: bool,
}

/// What [`Client::provide_input`](crate::Client::provide_input) did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InputAccepted {
    /// The task after the call (unchanged when nothing was accepted).
    pub task: Task,
    /// The keys this call recorded, sorted; empty when none (then nothing was written).
    pub accepted_keys: Vec<String>,
}

/// A worker's lease on a task (`taskstate.v1.Lease`), as [`Task::lease`] shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TaskLease {
    /// The worker that holds it.
    pub worker_id: String,
    /// Increases with every claim of the task: a write naming an older token is refused with
    /// [`ErrorKind::LeaseLost`](crate::ErrorKind::LeaseLost).
    pub fencing_token: u64,
    /// When the lease ends unless renewed.
    pub expire_time: Option<SystemTime>,
    /// The length granted by the last claim or renewal.
    pub duration: Option<Duration>,
}

impl Task {
    /// Whether the task is completed, failed or cancelled (and therefore frozen).
    pub fn is_terminal(&self) -> bool {
        self.status.is_terminal()
    }

    /// The input requests still without a response, by key.
    pub fn outstanding_input(&self) -> Variables {
        self.input_requests
            .iter()
            .filter(|(k, _)| !self.input_responses.contains_key(*k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// A JSON-RPC shaped error, set on failed tasks.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskError {
    /// Application-defined error code (JSON-RPC style).
    pub code: i32,
    /// Human-readable message.
    pub message: String,
    /// Optional structured detail.
    pub data: Option<Value>,
}

impl TaskError {
    /// An error with a code and a message, without data.
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        TaskError {
            code,
            message: message.into(),
            data: None,
        }
    }

    /// Sets the structured detail.
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }
}

impl TaskStatus {
    /// All statuses a stored task can have.
    pub const ALL: [TaskStatus; 5] = [
        TaskStatus::Working,
        TaskStatus::InputRequired,
        TaskStatus::Completed,
        TaskStatus::Failed,
        TaskStatus::Cancelled,
    ];
    /// The terminal statuses.
    pub const TERMINAL: [TaskStatus; 3] = [
        TaskStatus::Completed,
        TaskStatus::Failed,
        TaskStatus::Cancelled,
    ];

    /// Whether this is completed, failed or cancelled.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskStatus::Completed | TaskStatus::Failed | TaskStatus::Cancelled
        )
    }

    /// The lowercase name: `working`, `input_required`, `completed`, `failed`, `cancelled`
    /// (`unspecified` for the zero value).
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Unspecified => "unspecified",
            TaskStatus::Working => "working",
            TaskStatus::InputRequired => "input_required",
            TaskStatus::Completed => "completed",
            TaskStatus::Failed => "failed",
            TaskStatus::Cancelled => "cancelled",
        }
    }
}

/// The lowercase MCP name (`input_required`), the same on every taskstate surface; width and
/// alignment flags apply (`{:<15}`), for tables.
impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for TaskStatus {
    type Err = Error;

    /// Parses the lowercase name (`input_required`) or the proto name
    /// (`TASK_STATUS_INPUT_REQUIRED`).
    fn from_str(s: &str) -> Result<Self, Error> {
        TaskStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .or_else(|| TaskStatus::from_str_name(s).filter(|st| *st != TaskStatus::Unspecified))
            .ok_or_else(|| {
                Error::client(
                    tonic::Code::InvalidArgument,
                    format!("unknown task status {s:?}"),
                )
            })
    }
}

/// The writable fields of a task, for [`Client::put_if_version`](crate::Client::put_if_version)
/// (the `update_mask` paths).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TaskField {
    /// `status`
    Status,
    /// `status_message`
    StatusMessage,
    /// `variables` (replaces the whole map)
    Variables,
    /// `result`
    Result,
    /// `error`
    Error,
    /// `ttl` (renews `expire_time` to now + ttl; `None` = the task never expires)
    Ttl,
    /// `poll_interval` (unset = the server's default)
    PollInterval,
}

impl TaskField {
    /// Every writable field.
    pub const ALL: [TaskField; 7] = [
        TaskField::Status,
        TaskField::StatusMessage,
        TaskField::Variables,
        TaskField::Result,
        TaskField::Error,
        TaskField::Ttl,
        TaskField::PollInterval,
    ];

    /// The field mask path.
    pub fn path(self) -> &'static str {
        match self {
            TaskField::Status => "status",
            TaskField::StatusMessage => "status_message",
            TaskField::Variables => "variables",
            TaskField::Result => "result",
            TaskField::Error => "error",
            TaskField::Ttl => "ttl",
            TaskField::PollInterval => "poll_interval",
        }
    }

    /// The writable fields whose values differ between `a` and `b`.
    pub fn changed(a: &Task, b: &Task) -> Vec<TaskField> {
        TaskField::ALL
            .into_iter()
            .filter(|f| match f {
                TaskField::Status => a.status != b.status,
                TaskField::StatusMessage => a.status_message != b.status_message,
                TaskField::Variables => a.variables != b.variables,
                TaskField::Result => a.result != b.result,
                TaskField::Error => a.error != b.error,
                TaskField::Ttl => a.ttl != b.ttl,
                TaskField::PollInterval => a.poll_interval != b.poll_interval,
            })
            .collect()
    }
}

/// What [`Client::create`](crate::Client::create) creates. Unset fields take the server's
/// defaults.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NewTask {
    /// Time to live (unset: the server's default ttl).
    pub ttl: Option<Duration>,
    /// Suggested poll interval (unset: the server's default).
    pub poll_interval: Option<Duration>,
    /// What started the task.
    pub request_method: String,
    /// Initial variables (`null` values are ignored).
    pub variables: Variables,
    /// Idempotency key, per owner: a retry returns the task first created.
    pub request_id: String,
    /// What happens when a worker's lease expires unrenewed: [`LeasePolicy::Fail`] (the
    /// default) or [`LeasePolicy::Release`] (claimable again, up to `max_attempts` claims).
    pub lease_policy: LeasePolicy,
    /// Claims a `Release` task allows (0: the server's default).
    pub max_attempts: u32,
}

impl NewTask {
    /// A task with the server's defaults.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the time to live.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }
    /// Sets the suggested poll interval.
    pub fn poll_interval(mut self, d: Duration) -> Self {
        self.poll_interval = Some(d);
        self
    }
    /// Sets what started the task.
    pub fn request_method(mut self, m: impl Into<String>) -> Self {
        self.request_method = m.into();
        self
    }
    /// Replaces the initial variables.
    pub fn variables(mut self, vars: Variables) -> Self {
        self.variables = vars;
        self
    }
    /// Adds one initial variable.
    pub fn variable(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.variables.insert(key.into(), value.into());
        self
    }
    /// Sets the idempotency key.
    pub fn request_id(mut self, id: impl Into<String>) -> Self {
        self.request_id = id.into();
        self
    }
    /// Sets what an expired lease does to the task.
    pub fn lease_policy(mut self, policy: LeasePolicy) -> Self {
        self.lease_policy = policy;
        self
    }
    /// Sets how many claims a [`LeasePolicy::Release`] task allows.
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n;
        self
    }
}

/// What [`Client::list`](crate::Client::list) and [`Client::list_all`](crate::Client::list_all)
/// return. `ListOptions::default()`: every task, in full, 50 per page.
#[derive(Clone, Debug, PartialEq)]
pub struct ListOptions {
    /// Tasks per page: 0 = the server's default (50), at most 1000. A page may hold fewer (the
    /// server also cuts pages under 4 MiB): only an empty `next_page_token` ends a listing.
    pub page_size: i32,
    /// `next_page_token` of the previous page; empty for the first page.
    pub page_token: String,
    /// Only tasks in these statuses; empty = all.
    pub statuses: Vec<TaskStatus>,
    /// [`TaskView::Full`] (the default) or [`TaskView::Basic`] (no variables, result or error).
    pub view: TaskView,
}

impl Default for ListOptions {
    fn default() -> Self {
        ListOptions {
            page_size: 0,
            page_token: String::new(),
            statuses: Vec::new(),
            view: TaskView::Full,
        }
    }
}

/// `new`, `statuses` and `view`, the builder methods [`ListOptions`] and [`WatchAllOptions`]
/// share (both select tasks by status and choose a view).
macro_rules! selection_builders {
    ($options:ty) => {
        impl $options {
            /// Every task, in full.
            pub fn new() -> Self {
                Self::default()
            }
            /// Only tasks in these statuses (empty = all).
            pub fn statuses(mut self, statuses: impl IntoIterator<Item = TaskStatus>) -> Self {
                self.statuses = statuses.into_iter().collect();
                self
            }
            /// How much of each task to return.
            pub fn view(mut self, view: TaskView) -> Self {
                self.view = view;
                self
            }
        }
    };
}
selection_builders!(ListOptions);
selection_builders!(WatchAllOptions);

impl ListOptions {
    /// Tasks per page.
    pub fn page_size(mut self, page_size: i32) -> Self {
        self.page_size = page_size;
        self
    }
    /// Continues after a previous page.
    pub fn page_token(mut self, token: impl Into<String>) -> Self {
        self.page_token = token.into();
        self
    }
}

/// What [`Client::watch_all`](crate::Client::watch_all) sends. `WatchAllOptions::default()`:
/// every change, each task in full.
#[derive(Clone, Debug, PartialEq)]
pub struct WatchAllOptions {
    /// Only changes leaving a task in one of these statuses; empty = all.
    pub statuses: Vec<TaskStatus>,
    /// [`TaskView::Full`] (the default) or [`TaskView::Basic`] (no variables, result or error).
    pub view: TaskView,
    /// Where to start: the `resume_cursor` of an event or of a listing ([`TaskPage`]); empty =
    /// from now. A cursor the server no longer keeps fails with
    /// [`ErrorKind::FeedCompacted`](crate::ErrorKind::FeedCompacted).
    pub resume_cursor: String,
    /// Deletions, expiries and progress markers too, not only writes (implied by a cursor).
    pub all_events: bool,
}

impl Default for WatchAllOptions {
    fn default() -> Self {
        WatchAllOptions {
            statuses: Vec::new(),
            view: TaskView::Full,
            resume_cursor: String::new(),
            all_events: false,
        }
    }
}

impl WatchAllOptions {
    /// Starts after this cursor.
    pub fn resume_cursor(mut self, cursor: impl Into<String>) -> Self {
        self.resume_cursor = cursor.into();
        self
    }
    /// Asks for every kind of event.
    pub fn all_events(mut self, all: bool) -> Self {
        self.all_events = all;
        self
    }
}

/// What a [`TaskEvent`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventKind {
    /// A committed write; the event carries the task as written.
    Write,
    /// The task was deleted.
    Deleted,
    /// The task expired (its ttl passed).
    Expired,
    /// Nothing happened to the caller's tasks, but the cursor moved on (sent by the server to
    /// keep a quiet watcher's cursor young; [`Client::events`](crate::Client::events) does not
    /// yield these).
    Progress,
    /// Client-side, from [`Client::events`](crate::Client::events) only: the cursor was too old
    /// (the server had dropped events after it), so the tasks were listed again; a `Write` per
    /// listed task follows. Forget what you knew about tasks not in that listing.
    Reset,
}

/// One message of a task feed ([`Client::watch_all_events`](crate::Client::watch_all_events),
/// [`Client::events`](crate::Client::events)).
#[derive(Clone, Debug, PartialEq)]
pub struct TaskEvent {
    /// What happened.
    pub kind: EventKind,
    /// The task concerned; empty for `Progress` and `Reset`.
    pub task_id: String,
    /// The version written (`Write`), or the last version of a deleted or expired task; 0 for
    /// `Progress` and `Reset`.
    pub version: u64,
    /// Opening a watch with this cursor resumes right after this event.
    pub resume_cursor: String,
    /// The task as written (`Write` only).
    pub task: Option<Task>,
}

/// A stream of [`TaskEvent`]s.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<TaskEvent, Error>> + Send + 'static>>;

/// How [`Client::claim_next`](crate::Client::claim_next) and
/// [`Worker::claim_next`](crate::Worker::claim_next) pick a task.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClaimOptions {
    /// Only tasks created with this `request_method`.
    pub request_method: Option<String>,
    /// When no task is claimable, wait up to this long for one (`None`: answer at once).
    pub wait: Option<Duration>,
    /// The lease asked for (`None`: the server's default, or the worker's lease).
    pub lease: Option<Duration>,
}

impl ClaimOptions {
    /// The oldest claimable task of any method, without waiting.
    pub fn new() -> Self {
        Self::default()
    }
    /// Only tasks of this `request_method`.
    pub fn request_method(mut self, m: impl Into<String>) -> Self {
        self.request_method = Some(m.into());
        self
    }
    /// Waits up to this long for a claimable task.
    pub fn wait(mut self, wait: Duration) -> Self {
        self.wait = Some(wait);
        self
    }
    /// Asks for this lease.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = Some(lease);
        self
    }
}

/// What [`Client::renew_lease`](crate::Client::renew_lease) sends besides the token.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RenewOptions {
    /// The new lease, from now (`None`: the lease's current duration).
    pub lease: Option<Duration>,
    /// A status message written in the same write.
    pub status_message: Option<String>,
}

/// A page of tasks, newest first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaskPage {
    /// The tasks.
    pub tasks: Vec<Task>,
    /// Token for the next page; empty on the last page.
    pub next_page_token: String,
    /// A feed position taken with the page (in the first page: before it was read): a watch
    /// from it ([`WatchAllOptions::resume_cursor`]) misses no change made after the listing.
    /// Empty when the server's store keeps no event log.
    pub resume_cursor: String,
}

/// The terminal write of [`Client::complete`](crate::Client::complete): completed with a
/// result, or failed with an error.
#[derive(Clone, Debug, PartialEq)]
pub struct Completion {
    /// `Completed` or `Failed`.
    pub status: TaskStatus,
    /// The final status message.
    pub message: String,
    /// The outcome.
    pub result: Option<Value>,
    /// Why it failed.
    pub error: Option<TaskError>,
    /// Merged into the variables in the same write (`null` deletes a key).
    pub variables: Variables,
    /// When set, the write happens only if the stored version equals it.
    pub expected_version: Option<u64>,
}

impl Completion {
    /// Completed with this result.
    pub fn completed(result: Value) -> Self {
        Completion {
            status: TaskStatus::Completed,
            message: String::new(),
            result: Some(result),
            error: None,
            variables: Variables::new(),
            expected_version: None,
        }
    }

    /// Completed without a result.
    pub fn completed_empty() -> Self {
        Completion {
            result: None,
            ..Self::completed(Value::Null)
        }
    }

    /// Failed with this error.
    pub fn failed(error: TaskError) -> Self {
        Completion {
            status: TaskStatus::Failed,
            message: String::new(),
            result: None,
            error: Some(error),
            variables: Variables::new(),
            expected_version: None,
        }
    }

    /// Sets the final status message.
    pub fn message(mut self, m: impl Into<String>) -> Self {
        self.message = m.into();
        self
    }
    /// Sets (or, for a failure, adds) the result.
    pub fn result(mut self, r: Value) -> Self {
        self.result = Some(r);
        self
    }
    /// Variables merged in the same write.
    pub fn variables(mut self, vars: Variables) -> Self {
        self.variables = vars;
        self
    }
    /// Makes the write conditional on the stored version.
    pub fn expected_version(mut self, v: u64) -> Self {
        self.expected_version = Some(v);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outstanding_input_is_the_requests_without_a_response() {
        let obj = |v: Value| v.as_object().unwrap().clone();
        let task = Task {
            input_requests: obj(serde_json::json!({"a": "A?", "b": {"q": "B?"}})),
            input_responses: obj(serde_json::json!({"a": null})),
            ..Task::default()
        };
        assert_eq!(
            task.outstanding_input(),
            obj(serde_json::json!({"b": {"q": "B?"}}))
        );
        assert!(Task::default().outstanding_input().is_empty());
    }

    #[test]
    fn status_display_is_the_lowercase_mcp_name() {
        let shown: Vec<String> = TaskStatus::ALL.iter().map(|s| format!("{s}")).collect();
        assert_eq!(
            shown,
            [
                "working",
                "input_required",
                "completed",
                "failed",
                "cancelled"
            ]
        );
        let task = Task {
            status: TaskStatus::Completed,
            ..Task::default()
        };
        assert_eq!(task.status.to_string(), "completed");
        for s in TaskStatus::ALL {
            assert_eq!(s.to_string().parse::<TaskStatus>().unwrap(), s);
        }
        // Formatting flags apply, so statuses line up in tables.
        assert_eq!(format!("[{:<9}]", TaskStatus::Failed), "[failed   ]");
        assert_eq!(format!("[{:>9}]", TaskStatus::Working), "[  working]");
    }
}
