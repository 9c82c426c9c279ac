//! The async client.

use std::fmt;
use std::time::{Duration, Instant};

use futures_util::stream::{self, TryStreamExt};
use serde_json::Value;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic::{Code, Request};

use crate::convert::{duration_from_proto, duration_to_proto, optional_value, variables_to_proto};
use crate::error::Error;
use crate::options::{address_from_env, build_endpoint, ClientOptions};
use crate::proto::task_service_client::TaskServiceClient;
use crate::proto::{self, TaskStatus};
use crate::retry::{Backoff, RetryPolicy};
use crate::types::{
    ClaimOptions, Completion, EventKind, EventStream, InputAccepted, ListOptions, NewTask,
    RenewOptions, Task, TaskError, TaskEvent, TaskField, TaskPage, TaskStream, Variables,
    WatchAllOptions,
};

/// Longest single WaitTask call; longer waits are made of several calls.
const WAIT_CHUNK: Duration = Duration::from_secs(300);
/// Grace added to a WaitTask call's deadline over its server-side timeout when the client has
/// no default timeout.
const WAIT_MARGIN: Duration = Duration::from_secs(10);

/// The generated `TaskService` stub, with the client's credentials attached to every call.
pub type RawClient = TaskServiceClient<InterceptedService<Channel, AuthInterceptor>>;

/// The metadata key of [`ClientOptions::subject`].
const SUBJECT_HEADER: &str = "taskstate-subject";

/// Adds `authorization: Bearer <token>` (nothing for anonymous clients) and
/// `taskstate-subject` (with a subject) to every call.
#[derive(Clone)]
pub struct AuthInterceptor {
    header: Option<MetadataValue<Ascii>>,
    subject: Option<MetadataValue<Ascii>>,
}

impl fmt::Debug for AuthInterceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthInterceptor")
            .field("token", &self.header.as_ref().map(|_| "<redacted>"))
            .field("subject", &self.subject)
            .finish()
    }
}

impl tonic::service::Interceptor for AuthInterceptor {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, tonic::Status> {
        if let Some(h) = &self.header {
            req.metadata_mut().insert("authorization", h.clone());
        }
        if let Some(s) = &self.subject {
            req.metadata_mut().insert(SUBJECT_HEADER, s.clone());
        }
        Ok(req)
    }
}

/// The subject as a header value; `None` for none (or empty).
fn subject_header(subject: Option<&str>) -> Result<Option<MetadataValue<Ascii>>, Error> {
    match subject {
        None | Some("") => Ok(None),
        Some(s) => s.parse().map(Some).map_err(|_| {
            Error::client(
                Code::InvalidArgument,
                "the subject has characters not allowed in a header",
            )
        }),
    }
}

/// An async taskstate client. Cheap to clone (clones share the connection); `Send + Sync`.
#[derive(Clone)]
pub struct Client {
    stub: RawClient,
    channel: Channel,
    auth: AuthInterceptor,
    timeout: Option<Duration>,
    update_retry: RetryPolicy,
    pub(crate) watch_retry: RetryPolicy,
    fencing_token: Option<u64>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("timeout", &self.timeout)
            .field("fencing_token", &self.fencing_token)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Connects to a server. `endpoint` is `host:port`, `http://host:port` or
    /// `https://host:port`; TLS or plaintext follows [`TlsOptions`](crate::TlsOptions)'s rule
    /// (plaintext to a loopback host, TLS to any other unless told otherwise). Fails if the
    /// server is unreachable.
    pub async fn connect(
        endpoint: impl AsRef<str>,
        options: ClientOptions,
    ) -> Result<Client, Error> {
        let channel = build_endpoint(endpoint.as_ref(), &options)?
            .connect()
            .await?;
        Client::from_channel(channel, options)
    }

    /// Connects to `TASKSTATE_ADDRESS` (default `127.0.0.1:50051`) with
    /// [`ClientOptions::from_env`] (`TASKSTATE_TOKEN`, `TASKSTATE_TLS`, `TASKSTATE_CA_CERT`,
    /// `TASKSTATE_CLIENT_CERT`, `TASKSTATE_CLIENT_KEY`).
    pub async fn connect_from_env() -> Result<Client, Error> {
        Client::connect(address_from_env(), ClientOptions::from_env()?).await
    }

    /// Like [`Client::connect`], but connects on the first call.
    pub fn connect_lazy(
        endpoint: impl AsRef<str>,
        options: ClientOptions,
    ) -> Result<Client, Error> {
        let channel = build_endpoint(endpoint.as_ref(), &options)?.connect_lazy();
        Client::from_channel(channel, options)
    }

    /// A client over an existing tonic channel (the channel's own TLS settings apply).
    pub fn from_channel(channel: Channel, options: ClientOptions) -> Result<Client, Error> {
        let header = match &options.token {
            None => None,
            Some(token) => {
                let mut v: MetadataValue<Ascii> =
                    format!("Bearer {token}").parse().map_err(|_| {
                        Error::client(
                            Code::InvalidArgument,
                            "the token has characters not allowed in a header",
                        )
                    })?;
                v.set_sensitive(true);
                Some(v)
            }
        };
        let subject = subject_header(options.subject.as_deref())?;
        let auth = AuthInterceptor { header, subject };
        Ok(Client {
            stub: TaskServiceClient::with_interceptor(channel.clone(), auth.clone()),
            channel,
            auth,
            timeout: options.default_timeout,
            update_retry: options.update_retry,
            watch_retry: options.watch_retry,
            fencing_token: None,
        })
    }

    /// A clone whose unary calls use this deadline (`None`: no deadline).
    pub fn with_timeout(&self, timeout: Option<Duration>) -> Client {
        Client {
            timeout,
            ..self.clone()
        }
    }

    /// A clone whose writes (`update_status`, `set_variables`, `set_variable`,
    /// `put_if_version`, `complete`, `fail`, `update`, `try_update`) carry this fencing token:
    /// the server refuses them with [`ErrorKind::LeaseLost`](crate::ErrorKind::LeaseLost)
    /// unless it names the task's live lease. [`Worker`](crate::Worker)'s leases do this for
    /// you.
    pub fn with_fencing_token(&self, token: u64) -> Client {
        Client {
            fencing_token: Some(token),
            ..self.clone()
        }
    }

    /// A clone (sharing the connection) whose calls, streams included, act on behalf of this
    /// end user: the `taskstate-subject` metadata (1 to 256 printable ASCII characters; `""`
    /// = none). [`Client::create`] records it in [`Task::subject`], and every other call then
    /// sees only that subject's tasks (another subject's task is
    /// [`ErrorKind::TaskNotFound`](crate::ErrorKind::TaskNotFound)); a client without one (a
    /// worker) sees all of the owner's tasks. Fails on characters a header cannot carry.
    pub fn with_subject(&self, subject: &str) -> Result<Client, Error> {
        let auth = AuthInterceptor {
            subject: subject_header(Some(subject))?,
            ..self.auth.clone()
        };
        Ok(Client {
            stub: TaskServiceClient::with_interceptor(self.channel.clone(), auth.clone()),
            auth,
            ..self.clone()
        })
    }

    /// The subject this client's calls carry, if any.
    pub fn subject(&self) -> Option<&str> {
        self.auth.subject.as_ref().and_then(|s| s.to_str().ok())
    }

    /// The fencing token this client's writes carry, if any.
    pub fn fencing_token(&self) -> Option<u64> {
        self.fencing_token
    }

    /// The generated stub, with this client's credentials (no default deadline: set one with
    /// `Request::set_timeout`).
    pub fn raw(&self) -> RawClient {
        self.stub.clone()
    }

    fn request<T>(&self, msg: T) -> Request<T> {
        let mut req = Request::new(msg);
        if let Some(t) = self.timeout {
            req.set_timeout(t);
        }
        req
    }

    /// Creates a task in `working`, version 1.
    pub async fn create(&self, new: NewTask) -> Result<Task, Error> {
        let req = proto::CreateTaskRequest {
            ttl: new.ttl.map(duration_to_proto),
            poll_interval: new.poll_interval.map(duration_to_proto),
            request_method: new.request_method,
            variables: variables_to_proto(new.variables)?,
            request_id: new.request_id,
            lease_policy: new.lease_policy as i32,
            max_attempts: new.max_attempts,
        };
        let resp = self.stub.clone().create_task(self.request(req)).await?;
        task_of(resp.into_inner().task)
    }

    /// Reads one task.
    pub async fn get(&self, task_id: &str) -> Result<Task, Error> {
        let req = proto::GetTaskRequest {
            task_id: task_id.to_owned(),
        };
        let resp = self.stub.clone().get_task(self.request(req)).await?;
        task_of(resp.into_inner().task)
    }

    /// One page of the caller's tasks, newest first.
    pub async fn list(&self, options: ListOptions) -> Result<TaskPage, Error> {
        let req = proto::ListTasksRequest {
            page_size: options.page_size,
            page_token: options.page_token,
            statuses: statuses_to_proto(&options.statuses),
            view: options.view as i32,
        };
        let resp = self
            .stub
            .clone()
            .list_tasks(self.request(req))
            .await?
            .into_inner();
        Ok(TaskPage {
            tasks: resp.tasks.into_iter().map(Task::from_proto).collect(),
            next_page_token: resp.next_page_token,
            resume_cursor: resp.resume_cursor,
        })
    }

    /// All the caller's tasks that `options` selects, newest first: a stream that reads page
    /// after page (of `options.page_size`, starting at `options.page_token`) until the server
    /// sends an empty `next_page_token`; a short page does not end it.
    pub fn list_all(&self, options: ListOptions) -> TaskStream {
        let client = self.clone();
        let first = Some(options.page_token.clone());
        let pages = stream::try_unfold(first, move |token| {
            let client = client.clone();
            let options = options.clone();
            async move {
                let Some(page_token) = token else {
                    return Ok::<_, Error>(None);
                };
                let page = client
                    .list(ListOptions {
                        page_token,
                        ..options
                    })
                    .await?;
                let next = Some(page.next_page_token).filter(|t| !t.is_empty());
                let tasks = stream::iter(page.tasks.into_iter().map(Ok::<Task, Error>));
                Ok(Some((tasks, next)))
            }
        });
        Box::pin(pages.try_flatten())
    }

    /// Moves the task to another status (a legal transition) and sets its status message.
    /// With `expected_version`, only if the stored version equals it.
    pub async fn update_status(
        &self,
        task_id: &str,
        status: TaskStatus,
        message: &str,
        expected_version: Option<u64>,
    ) -> Result<Task, Error> {
        self.update_status_with_input(task_id, status, message, Variables::new(), expected_version)
            .await
    }

    /// [`Client::update_status`] with input requests (only with
    /// [`TaskStatus::InputRequired`]): questions for the requester (e.g. an MCP elicitation)
    /// by a key unique over the task's lifetime, merged into [`Task::input_requests`]. A key
    /// already used by another request, or already answered, is `INVALID_ARGUMENT`; an
    /// identical re-send is fine. The requester answers with [`Client::provide_input`].
    pub async fn update_status_with_input(
        &self,
        task_id: &str,
        status: TaskStatus,
        message: &str,
        input_requests: Variables,
        expected_version: Option<u64>,
    ) -> Result<Task, Error> {
        let req = proto::UpdateTaskStatusRequest {
            task_id: task_id.to_owned(),
            status: status as i32,
            status_message: message.to_owned(),
            expected_version,
            fencing_token: self.fencing_token,
            input_requests: variables_to_proto(input_requests)?,
        };
        let resp = self
            .stub
            .clone()
            .update_task_status(self.request(req))
            .await?;
        task_of(resp.into_inner().task)
    }

    /// Merges variables into the task: each key is set, a `null` value deletes the key.
    /// With `expected_version`, only if the stored version equals it.
    pub async fn set_variables(
        &self,
        task_id: &str,
        variables: Variables,
        expected_version: Option<u64>,
    ) -> Result<Task, Error> {
        let req = proto::SetVariablesRequest {
            task_id: task_id.to_owned(),
            variables: variables_to_proto(variables)?,
            expected_version,
            fencing_token: self.fencing_token,
        };
        let resp = self.stub.clone().set_variables(self.request(req)).await?;
        task_of(resp.into_inner().task)
    }

    /// Sets one variable (`null` deletes it).
    pub async fn set_variable(
        &self,
        task_id: &str,
        key: &str,
        value: Value,
    ) -> Result<Task, Error> {
        let mut vars = Variables::new();
        vars.insert(key.to_owned(), value);
        self.set_variables(task_id, vars, None).await
    }

    /// The general compare-and-swap write: writes exactly `fields` of `values` if the stored
    /// version equals `expected_version` (`Variables` replaces the whole map). Fails with
    /// `ABORTED` / [`ErrorKind::VersionMismatch`](crate::ErrorKind::VersionMismatch) otherwise.
    pub async fn put_if_version(
        &self,
        task_id: &str,
        expected_version: u64,
        values: &Task,
        fields: &[TaskField],
    ) -> Result<Task, Error> {
        let req = proto::PutIfVersionRequest {
            task_id: task_id.to_owned(),
            expected_version,
            task: Some(values.to_proto()?),
            update_mask: Some(prost_types::FieldMask {
                paths: fields.iter().map(|f| f.path().to_owned()).collect(),
            }),
            fencing_token: self.fencing_token,
        };
        let resp = self.stub.clone().put_if_version(self.request(req)).await?;
        task_of(resp.into_inner().task)
    }

    /// Completes or fails the task in one atomic write (see [`Completion`]).
    pub async fn complete(&self, task_id: &str, completion: Completion) -> Result<Task, Error> {
        let req = proto::CompleteTaskRequest {
            task_id: task_id.to_owned(),
            status: completion.status as i32,
            status_message: completion.message,
            result: optional_value(completion.result, "result")?,
            error: completion
                .error
                .as_ref()
                .map(TaskError::to_proto)
                .transpose()?,
            variables: variables_to_proto(completion.variables)?,
            expected_version: completion.expected_version,
            fencing_token: self.fencing_token,
        };
        let resp = self.stub.clone().complete_task(self.request(req)).await?;
        task_of(resp.into_inner().task)
    }

    /// Fails the task with this error (shorthand for `complete(id, Completion::failed(error))`).
    pub async fn fail(&self, task_id: &str, error: TaskError) -> Result<Task, Error> {
        self.complete(task_id, Completion::failed(error)).await
    }

    /// Takes a lease on this task for `worker_id` (`lease`: `None` = the server's default) and
    /// returns the task with its [`lease`](Task::lease): pass its `fencing_token` on writes
    /// ([`Client::with_fencing_token`]) and renew it ([`Client::renew_lease`]) before it ends.
    /// Fails with [`ErrorKind::LeaseHeld`](crate::ErrorKind::LeaseHeld) while another worker
    /// holds it. [`Worker`](crate::Worker) does all this for you.
    pub async fn claim(
        &self,
        task_id: &str,
        worker_id: &str,
        lease: Option<Duration>,
    ) -> Result<Task, Error> {
        let req = proto::ClaimTaskRequest {
            task_id: task_id.to_owned(),
            worker_id: worker_id.to_owned(),
            lease_duration: lease.map(duration_to_proto),
            ..Default::default()
        };
        task_of(self.claim_call(req).await?)
    }

    /// Takes a lease on the oldest claimable task (working, created with a lease policy, no
    /// live lease; of `options.request_method` if set), waiting up to `options.wait` for one
    /// to appear. `None` when there is none.
    pub async fn claim_next(
        &self,
        worker_id: &str,
        options: ClaimOptions,
    ) -> Result<Option<Task>, Error> {
        let req = proto::ClaimTaskRequest {
            task_id: String::new(),
            worker_id: worker_id.to_owned(),
            lease_duration: options.lease.map(duration_to_proto),
            request_method: options.request_method,
            wait_timeout: options.wait.map(duration_to_proto),
        };
        Ok(self.claim_call(req).await?.map(Task::from_proto))
    }

    /// ClaimTask as is (for requests the two methods above do not express, such as a
    /// `task_id` together with a `wait_timeout`); a claim that waits gets the client's
    /// deadline on top of its wait.
    pub async fn claim_call(
        &self,
        req: proto::ClaimTaskRequest,
    ) -> Result<Option<proto::Task>, Error> {
        let wait = req.wait_timeout.map(duration_from_proto);
        let mut request = self.request(req);
        if let (Some(wait), Some(t)) = (wait, self.timeout) {
            request.set_timeout(wait + t);
        }
        Ok(self
            .stub
            .clone()
            .claim_task(request)
            .await?
            .into_inner()
            .task)
    }

    /// Extends a held lease from now (a heartbeat). Fails with
    /// [`ErrorKind::LeaseLost`](crate::ErrorKind::LeaseLost) when `fencing_token` is no longer
    /// the task's live lease: stop working on the task then.
    pub async fn renew_lease(
        &self,
        task_id: &str,
        fencing_token: u64,
        options: RenewOptions,
    ) -> Result<Task, Error> {
        let req = proto::RenewLeaseRequest {
            task_id: task_id.to_owned(),
            fencing_token,
            lease_duration: options.lease.map(duration_to_proto),
            status_message: options.status_message,
        };
        let resp = self.stub.clone().renew_lease(self.request(req)).await?;
        task_of(resp.into_inner().task)
    }

    /// Moves a non-terminal task to `cancelled`.
    pub async fn cancel(&self, task_id: &str, message: &str) -> Result<Task, Error> {
        let req = proto::CancelTaskRequest {
            task_id: task_id.to_owned(),
            status_message: message.to_owned(),
        };
        let resp = self.stub.clone().cancel_task(self.request(req)).await?;
        task_of(resp.into_inner().task)
    }

    /// Answers some of the task's outstanding input requests ([`Task::outstanding_input`]):
    /// answers to keys without an outstanding request (never asked, or already answered) are
    /// ignored, so each answer is recorded once. When none remains outstanding, an
    /// `input_required` task moves back to `working` in the same write.
    pub async fn provide_input(
        &self,
        task_id: &str,
        responses: Variables,
    ) -> Result<InputAccepted, Error> {
        let req = proto::ProvideInputRequest {
            task_id: task_id.to_owned(),
            input_responses: variables_to_proto(responses)?,
        };
        let resp = self
            .stub
            .clone()
            .provide_input(self.request(req))
            .await?
            .into_inner();
        Ok(InputAccepted {
            task: task_of(resp.task)?,
            accepted_keys: resp.accepted_keys,
        })
    }

    /// Asks the task's worker to stop: sets [`Task::cancel_requested`] (a task already asked,
    /// or terminal, is returned unchanged). The status stays until the worker, seeing the
    /// flag through its watch, cancels or finishes the task.
    pub async fn request_cancel(&self, task_id: &str) -> Result<Task, Error> {
        let req = proto::RequestCancelRequest {
            task_id: task_id.to_owned(),
        };
        let resp = self.stub.clone().request_cancel(self.request(req)).await?;
        task_of(resp.into_inner().task)
    }

    /// Removes the task, whatever its status.
    pub async fn delete(&self, task_id: &str) -> Result<(), Error> {
        let req = proto::DeleteTaskRequest {
            task_id: task_id.to_owned(),
        };
        self.stub.clone().delete_task(self.request(req)).await?;
        Ok(())
    }

    /// Waits until the task's status is one of `statuses` (empty = the terminal ones) or is
    /// terminal, or until `timeout` passes (`None` = no limit), and returns the task as it
    /// then is: look at its status to tell which. Long waits are made of several bounded
    /// server-side waits, so the client's default deadline does not cut them short.
    pub async fn wait(
        &self,
        task_id: &str,
        timeout: Option<Duration>,
        statuses: &[TaskStatus],
    ) -> Result<Task, Error> {
        let targets: Vec<TaskStatus> = if statuses.is_empty() {
            TaskStatus::TERMINAL.to_vec()
        } else {
            statuses.to_vec()
        };
        let end = timeout.map(|t| Instant::now() + t);
        let margin = self.timeout.unwrap_or(WAIT_MARGIN);
        loop {
            let chunk = end.map_or(WAIT_CHUNK, |e| {
                e.saturating_duration_since(Instant::now()).min(WAIT_CHUNK)
            });
            let mut req = Request::new(proto::WaitTaskRequest {
                task_id: task_id.to_owned(),
                timeout: Some(duration_to_proto(chunk)),
                statuses: statuses_to_proto(&targets),
            });
            req.set_timeout(chunk + margin);
            let task = task_of(self.stub.clone().wait_task(req).await?.into_inner().task)?;
            if targets.contains(&task.status) || task.is_terminal() {
                return Ok(task);
            }
            if end.is_some_and(|e| Instant::now() >= e) {
                return Ok(task);
            }
        }
    }

    /// The task's committed versions, in increasing order, as a stream: first the current
    /// version if it is newer than `after_version` (0 = always), then every later one; it ends
    /// after the terminal version. A dropped connection or a draining server (`UNAVAILABLE`)
    /// is survived by reopening the stream from the last version seen, with backoff
    /// ([`ClientOptions::watch_retry`]; intermediate versions may be coalesced, the terminal
    /// one never is). Yields a `NOT_FOUND` error (and ends) if the task is deleted or expires.
    /// The call is made when the stream is first polled; dropping the stream cancels it.
    pub fn watch(&self, task_id: &str, after_version: u64) -> TaskStream {
        crate::watch::watch(self.clone(), task_id.to_owned(), after_version)
    }

    /// Every committed change to any of the caller's tasks (in `options.statuses`; empty =
    /// all), each task in `options.view`: the task of every write, from now (or from
    /// `options.resume_cursor`; other kinds of event are skipped). Returns once the server has
    /// registered the watcher (so a write made after this returns is seen). It does not resume
    /// after a dropped connection: [`Client::events`] does.
    pub async fn watch_all(&self, options: WatchAllOptions) -> Result<TaskStream, Error> {
        let events = self.watch_all_events(options).await?;
        Ok(Box::pin(events.try_filter_map(|e| async move {
            Ok(match e.kind {
                EventKind::Write => e.task,
                _ => None,
            })
        })))
    }

    /// The raw feed (one WatchTasks call, `options` sent as they are): every message the
    /// server sends, `Progress` included, each with the cursor that resumes after it. Returns
    /// once the server has registered the watcher. Ends with the call's error (`UNAVAILABLE`
    /// on a dropped connection,
    /// [`ErrorKind::FeedCompacted`](crate::ErrorKind::FeedCompacted) for a cursor too old);
    /// [`Client::events`] handles both for you.
    pub async fn watch_all_events(&self, options: WatchAllOptions) -> Result<EventStream, Error> {
        let streaming = self
            .stub
            .clone()
            .watch_tasks(Request::new(watch_tasks_request(
                &options,
                options.all_events,
            )))
            .await?
            .into_inner();
        Ok(Box::pin(stream::unfold(
            Some(streaming),
            |state| async move {
                let mut streaming = state?;
                loop {
                    match streaming.message().await {
                        Ok(Some(msg)) => match TaskEvent::from_proto(msg) {
                            Some(event) => return Some((Ok(event), Some(streaming))),
                            None => continue, // a kind this client does not know
                        },
                        Ok(None) => return None,
                        Err(status) => return Some((Err(Error::from(status)), None)),
                    }
                }
            },
        )))
    }

    /// Every change to the caller's tasks (in `options.statuses`; empty = all) as a stream
    /// that survives anything: writes, deletions and expiries, each with the cursor that
    /// resumes after it, from `options.resume_cursor` (empty = from when the stream is first
    /// polled). A dropped connection or a draining server (`UNAVAILABLE`) reopens the feed from
    /// the last cursor, with backoff ([`ClientOptions::watch_retry`](crate::ClientOptions));
    /// a cursor the server no longer keeps
    /// ([`ErrorKind::FeedCompacted`](crate::ErrorKind::FeedCompacted)) becomes an
    /// [`EventKind::Reset`] event and one `Write` per task of a fresh listing, after which the
    /// feed continues from that listing's cursor. Other errors end it. Dropping it cancels it.
    pub fn events(&self, options: WatchAllOptions) -> EventStream {
        crate::feed::events(self.clone(), options)
    }

    /// Read-modify-write that never loses a concurrent update: reads the task, calls `f` with
    /// a copy of it, and writes back the writable fields `f` changed (`status`,
    /// `status_message`, `variables` — the whole map —, `result`, `error`, `ttl`,
    /// `poll_interval`) with PutIfVersion at the version read. If another writer got there
    /// first (`ABORTED`), the whole read-`f`-write is retried with jittered exponential backoff
    /// ([`ClientOptions::update_retry`]), so `f` may run several times and must have no side
    /// effects; when the attempts are used up, the last version-mismatch error is returned.
    /// If `f` changes nothing, nothing is written and the task as read is returned.
    pub async fn update<F>(&self, task_id: &str, mut f: F) -> Result<Task, Error>
    where
        F: FnMut(&mut Task),
    {
        self.try_update(task_id, |t| {
            f(t);
            Ok::<(), Error>(())
        })
        .await
    }

    /// Like [`Client::update`], but `f` may fail: its error stops the loop and is returned
    /// (client errors are converted with `E: From<Error>`).
    pub async fn try_update<F, E>(&self, task_id: &str, mut f: F) -> Result<Task, E>
    where
        F: FnMut(&mut Task) -> Result<(), E>,
        E: From<Error>,
    {
        let mut backoff = Backoff::new(self.update_retry);
        loop {
            let read = self.get(task_id).await?;
            let mut work = read.clone();
            f(&mut work)?;
            let fields = TaskField::changed(&read, &work);
            if fields.is_empty() {
                return Ok(read);
            }
            match self
                .put_if_version(task_id, read.version, &work, &fields)
                .await
            {
                Ok(task) => return Ok(task),
                Err(e) if e.is_version_mismatch() => match backoff.next_delay() {
                    Some(delay) => tokio::time::sleep(delay).await,
                    None => return Err(e.into()),
                },
                Err(e) => return Err(e.into()),
            }
        }
    }
}

pub(crate) fn task_of(task: Option<proto::Task>) -> Result<Task, Error> {
    task.map(Task::from_proto)
        .ok_or_else(|| Error::client(Code::Internal, "the server's response carries no task"))
}

pub(crate) fn watch_tasks_request(
    options: &WatchAllOptions,
    all_events: bool,
) -> proto::WatchTasksRequest {
    proto::WatchTasksRequest {
        statuses: statuses_to_proto(&options.statuses),
        view: options.view as i32,
        resume_cursor: options.resume_cursor.clone(),
        all_events,
    }
}

fn statuses_to_proto(statuses: &[TaskStatus]) -> Vec<i32> {
    statuses.iter().map(|s| *s as i32).collect()
}
