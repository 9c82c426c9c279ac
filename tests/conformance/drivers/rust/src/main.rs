//! The Rust driver of the conformance engine (the contract: tests/conformance/README.md, "The
//! driver protocol").
//!
//! One JSON request per stdin line becomes one call of the idiomatic client (`taskstate_client`),
//! answered by one JSON line on stdout. Every request runs as its own tokio task, so async steps,
//! parallel updates and open streams overlap. No matching happens here: the engine checks.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use serde_json::{json, Map, Value};
use taskstate_client::proto::{
    self, ClaimTaskRequest, CompleteTaskRequest, PutIfVersionRequest, WaitTaskRequest,
};
use taskstate_client::{
    ClaimOptions, Client, ClientOptions, Completion, Error, ErrorOrigin, EventKind, EventStream,
    LeasePolicy, ListOptions, NewTask, RenewOptions, Task, TaskError, TaskEvent, TaskField,
    TaskStatus, TaskView, TlsOptions, Variables, WatchAllOptions, Worker, WorkerOptions,
};
use tokio::sync::mpsc;

const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The args each op accepts; any other key is a `failure`.
const OPS: [(&str, &str); 20] = [
    (
        "create",
        "ttl_ms poll_interval_ms request_method variables request_id lease_policy max_attempts",
    ),
    ("get", "task_id"),
    ("list", "page_size page_token statuses view"),
    (
        "update_status",
        "task_id status message expected_version fencing_token input_requests",
    ),
    ("provide_input", "task_id input_responses"),
    ("request_cancel", "task_id"),
    (
        "set_variables",
        "task_id variables expected_version fencing_token",
    ),
    (
        "put_if_version",
        "task_id expected_version task update_mask fencing_token",
    ),
    (
        "complete",
        "task_id status message result error variables expected_version fencing_token",
    ),
    ("cancel", "task_id message"),
    ("delete", "task_id"),
    ("wait", "task_id timeout_ms statuses"),
    ("update", "task_id fn"),
    ("watch", "task_id after_version"),
    (
        "watch_all_open",
        "stream statuses view resume_cursor all_events",
    ),
    ("watch_all_next", "stream"),
    ("watch_all_close", "stream"),
    ("claim", "worker_id task_id lease_ms request_method wait_ms"),
    ("renew_lease", "task_id fencing_token lease_ms message"),
    (
        "worker_run",
        "worker_id request_method lease_ms wait_ms variables result",
    ),
];

/// Why a request got no `ok`: the client's error (an `error` answer when it carries a gRPC
/// status, a `failure` when the client refused on its own) or a driver-side problem.
enum Fail {
    Call(Error),
    Driver(String),
}

impl From<Error> for Fail {
    fn from(e: Error) -> Self {
        Fail::Call(e)
    }
}

impl From<tonic::Status> for Fail {
    fn from(s: tonic::Status) -> Self {
        Fail::Call(s.into())
    }
}

impl From<String> for Fail {
    fn from(s: String) -> Self {
        Fail::Driver(s)
    }
}

impl From<&str> for Fail {
    fn from(s: &str) -> Self {
        Fail::Driver(s.to_owned())
    }
}

type Reply = Result<Value, Fail>;

/// An open WatchTasks stream: a pump task moves its events into `rx`; `end` remembers how it
/// ended, so every later `next` answers the same.
struct Watcher {
    rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Value>>,
    end: Mutex<Option<Value>>,
    pump: tokio::task::AbortHandle,
}

/// A client's key: address, token (`None`: anonymous) and subject (`None`: none).
type ClientKey = (String, Option<String>, Option<String>);

/// What requests share: one client per (address, token, subject), the open WatchTasks streams
/// by name.
#[derive(Default)]
struct Driver {
    clients: Mutex<HashMap<ClientKey, Client>>,
    streams: Mutex<HashMap<String, Arc<Watcher>>>,
}

#[tokio::main]
async fn main() {
    emit(json!({"hello": "rust"}));
    let driver = Arc::new(Driver::default());
    let runtime = tokio::runtime::Handle::current();
    // stdin is read on a blocking thread (tokio's own stdin needs a tokio feature the client's
    // dependencies are not built with, so they would all compile again).
    let reader = tokio::task::spawn_blocking(move || {
        for line in std::io::stdin().lock().lines().map_while(Result::ok) {
            if !line.trim().is_empty() {
                runtime.spawn(serve(driver.clone(), line));
            }
        }
    });
    let _ = reader.await;
    std::process::exit(0); // abandons whatever still runs
}

async fn serve(driver: Arc<Driver>, line: String) {
    let request: Value = match serde_json::from_str(&line) {
        Ok(v) => v,
        Err(e) => return emit(json!({"id": null, "failure": format!("bad request line: {e}")})),
    };
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    // A panic still answers (as a failure) instead of leaving the engine waiting.
    let reply = match tokio::spawn(async move { driver.handle(&request).await }).await {
        Ok(reply) => reply,
        Err(e) => Err(format!("driver panic: {e}").into()),
    };
    emit(answer(id, reply));
}

/// The answer line: `ok`, `error` (the call got a gRPC status) or `failure`.
fn answer(id: Value, reply: Reply) -> Value {
    match reply {
        Ok(v) => json!({"id": id, "ok": v}),
        Err(Fail::Call(e)) if e.origin() != ErrorOrigin::Client => json!({"id": id, "error": {
            "code": e.code_name(), "reason": e.reason(), "message": e.message(), "metadata": e.metadata(),
        }}),
        Err(Fail::Call(e)) => json!({"id": id, "failure": format!("client-side error: {e}")}),
        Err(Fail::Driver(why)) => json!({"id": id, "failure": why}),
    }
}

/// Writes one whole line to stdout (the lock serialises concurrent answers).
fn emit(v: Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}").and_then(|()| out.flush());
}

impl Driver {
    async fn handle(&self, request: &Value) -> Reply {
        let op = request["op"].as_str().ok_or("request without an op")?;
        let a = Args::of(request.get("args"), "args")?;
        let (_, known) = OPS
            .iter()
            .find(|(name, _)| *name == op)
            .ok_or(format!("unknown op {op:?}"))?;
        if let Some(k) = a.0.keys().find(|k| !known.split(' ').any(|x| x == *k)) {
            return Err(format!("{op}: unknown arg {k:?}").into());
        }
        match op {
            "watch_all_next" => return self.watch_all_next(&a.string("stream")?).await,
            "watch_all_close" => {
                if let Some(w) = self.streams.lock().unwrap().remove(&a.string("stream")?) {
                    w.pump.abort();
                }
                return Ok(json!({}));
            }
            _ => {}
        }
        let c = self.client(&request["target"])?;
        let id = a.string("task_id")?;
        let expected = a.version("expected_version")?;
        let token = a.version("fencing_token")?;
        // The writes carry the token through the client's option for it.
        let w = match token {
            Some(t) => c.with_fencing_token(t),
            None => c.clone(),
        };
        let task = match op {
            "create" => {
                let mut new = NewTask::new()
                    .request_method(a.string("request_method")?)
                    .request_id(a.string("request_id")?)
                    .variables(a.vars("variables")?)
                    .lease_policy(a.lease_policy()?)
                    .max_attempts(a.uint("max_attempts")?);
                (new.ttl, new.poll_interval) = (a.ms("ttl_ms")?, a.ms("poll_interval_ms")?);
                c.create(new).await?
            }
            "get" => c.get(&id).await?,
            "list" => {
                let options = ListOptions::new()
                    .page_size(a.int("page_size")?)
                    .page_token(a.string("page_token")?)
                    .statuses(a.statuses("statuses")?)
                    .view(a.view()?);
                let page = c.list(options).await?;
                let tasks: Vec<Value> = page.tasks.iter().map(view).collect();
                return Ok(
                    json!({"tasks": tasks, "next_page_token": page.next_page_token,
                                 "resume_cursor": page.resume_cursor}),
                );
            }
            "update_status" => {
                let (status, message) = (a.status("status")?, a.string("message")?);
                let requests = a.vars("input_requests")?;
                w.update_status_with_input(
                    &id,
                    status.unwrap_or_default(),
                    &message,
                    requests,
                    expected,
                )
                .await?
            }
            "provide_input" => {
                let accepted = c.provide_input(&id, a.vars("input_responses")?).await?;
                return Ok(json!({"task": view(&accepted.task),
                                 "accepted_keys": accepted.accepted_keys}));
            }
            "request_cancel" => c.request_cancel(&id).await?,
            "set_variables" => w.set_variables(&id, a.vars("variables")?, expected).await?,
            "put_if_version" => {
                let (values, fields) = task_spec(Args::of(a.0.get("task"), "task")?)?;
                let expected = expected.unwrap_or_default();
                let Some(mask) = a.0.get("update_mask") else {
                    return Ok(view(
                        &w.put_if_version(&id, expected, &values, &fields).await?,
                    ));
                };
                // Fallback: exactly these paths (empty, unknown fields), through the stub.
                let paths = mask
                    .as_array()
                    .and_then(|m| m.iter().map(|p| p.as_str().map(String::from)).collect());
                let paths = paths.ok_or("update_mask must be an array of strings")?;
                let req = PutIfVersionRequest {
                    task_id: id,
                    expected_version: expected,
                    task: Some(values.to_proto()?),
                    update_mask: Some(prost_types::FieldMask { paths }),
                    fencing_token: token,
                };
                stub_task(
                    c.raw()
                        .put_if_version(deadline(req))
                        .await?
                        .into_inner()
                        .task,
                )?
            }
            "complete" => {
                let done = Completion {
                    status: a.status("status")?.unwrap_or(TaskStatus::Completed),
                    message: a.string("message")?,
                    result: a.0.get("result").cloned(),
                    error: a.0.get("error").map(task_error).transpose()?,
                    variables: a.vars("variables")?,
                    expected_version: expected,
                };
                match (done.status, &done.error) {
                    (TaskStatus::Completed, None) | (TaskStatus::Failed, Some(_)) => {
                        w.complete(&id, done).await?
                    }
                    _ => complete_by_stub(&c, id, done, token).await?,
                }
            }
            "cancel" => c.cancel(&id, &a.string("message")?).await?,
            "delete" => {
                c.delete(&id).await?;
                return Ok(json!({}));
            }
            "wait" => {
                let statuses = a.statuses("statuses")?;
                match a.ms("timeout_ms")? {
                    Some(timeout) => c.wait(&id, Some(timeout), &statuses).await?,
                    None => {
                        // Fallback: the client's wait cannot leave the timeout unset.
                        let statuses = statuses.iter().map(|s| *s as i32).collect();
                        let req = WaitTaskRequest {
                            task_id: id,
                            timeout: None,
                            statuses,
                        };
                        stub_task(c.raw().wait_task(deadline(req)).await?.into_inner().task)?
                    }
                }
            }
            "update" => {
                let f = Args::of(a.0.get("fn"), "fn")?;
                c.try_update(&id, |t| apply(&f, &mut t.variables)).await?
            }
            "watch" => {
                let mut stream = c.watch(&id, a.version("after_version")?.unwrap_or_default());
                let (mut tasks, mut end) = (Vec::new(), json!({"end": "OK"}));
                while let Some(item) = stream.next().await {
                    match item {
                        Ok(t) => tasks.push(view(&t)),
                        Err(e) => end = end_view(&e),
                    }
                }
                end["tasks"] = Value::Array(tasks);
                return Ok(end);
            }
            "watch_all_open" => {
                let options = WatchAllOptions::new()
                    .statuses(a.statuses("statuses")?)
                    .view(a.view()?)
                    .resume_cursor(a.string("resume_cursor")?)
                    .all_events(a.flag("all_events")?);
                // The raw feed, options as they are (the engine tests the server's resume).
                // Returns once the server has sent the headers, i.e. registered the watcher.
                let stream = c.watch_all_events(options).await?;
                return self.keep_stream(a.string("stream")?, stream);
            }
            "claim" => return claim(&c, &a).await,
            "renew_lease" => {
                let options = RenewOptions {
                    lease: a.ms("lease_ms")?,
                    status_message: a.optional_string("message")?,
                };
                let token = token.ok_or("renew_lease needs fencing_token")?;
                c.renew_lease(&a.need_string("task_id")?, token, options)
                    .await?
            }
            "worker_run" => return worker_run(&c, &a).await,
            _ => return Err(format!("op {op:?} has no handler").into()),
        };
        Ok(view(&task))
    }

    /// One client per (address, token): plaintext, the token or no authorization at all, 30 s
    /// per unary call; connected on first use, so a lookup never waits. With a subject, one
    /// `with_subject` clone of it per subject.
    fn client(&self, target: &Value) -> Result<Client, Fail> {
        let subject = match target.get("subject") {
            None => return self.base_client(target),
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                return Err(format!("target.subject must be a string, not {other}").into())
            }
        };
        let base = self.base_client(target)?;
        let key = (
            target["address"].as_str().unwrap_or_default().to_owned(),
            target["token"].as_str().map(String::from),
            Some(subject.clone()),
        );
        let mut clients = self.clients.lock().unwrap();
        if let Some(c) = clients.get(&key) {
            return Ok(c.clone());
        }
        let c = base.with_subject(&subject)?;
        clients.insert(key, c.clone());
        Ok(c)
    }

    fn base_client(&self, target: &Value) -> Result<Client, Fail> {
        let address = target["address"]
            .as_str()
            .ok_or("target.address must be a string")?;
        let token = match &target["token"] {
            Value::Null => None,
            Value::String(t) => Some(t.clone()),
            other => {
                return Err(format!("target.token must be a string or null, not {other}").into())
            }
        };
        let mut clients = self.clients.lock().unwrap();
        let key = (address.to_owned(), token.clone(), None);
        if let Some(c) = clients.get(&key) {
            return Ok(c.clone());
        }
        let options = ClientOptions {
            token,
            default_timeout: Some(CALL_TIMEOUT),
            tls: TlsOptions::plaintext(),
            ..ClientOptions::default()
        };
        let c = Client::connect_lazy(address, options)?;
        clients.insert(key, c.clone());
        Ok(c)
    }

    /// Keeps an open WatchTasks stream under `name`, read by a pump task until it ends or is closed.
    fn keep_stream(&self, name: String, mut stream: EventStream) -> Reply {
        let (tx, rx) = mpsc::unbounded_channel();
        let pump = tokio::spawn(async move {
            while let Some(item) = stream.next().await {
                let _ = tx.send(item.map_or_else(|e| end_view(&e), |e| event_view(&e)));
            }
            let _ = tx.send(json!({"end": "OK"}));
        });
        let watcher = Watcher {
            rx: rx.into(),
            end: Mutex::new(None),
            pump: pump.abort_handle(),
        };
        let mut streams = self.streams.lock().unwrap();
        if streams.contains_key(&name) {
            pump.abort();
            return Err(format!("stream {name:?} is already open").into());
        }
        streams.insert(name, Arc::new(watcher));
        Ok(json!({}))
    }

    async fn watch_all_next(&self, name: &str) -> Reply {
        let watcher = self.streams.lock().unwrap().get(name).cloned();
        let watcher = watcher.ok_or(format!("no open stream {name:?}"))?;
        let mut rx = watcher.rx.lock().await;
        let ended = watcher.end.lock().unwrap().clone();
        if let Some(end) = ended {
            return Ok(end);
        }
        // The pump gone without an end of its own: the stream was closed under this `next`.
        let event = rx
            .recv()
            .await
            .unwrap_or_else(|| json!({"end": "CANCELLED"}));
        if event.get("end").is_some() {
            *watcher.end.lock().unwrap() = Some(event.clone());
        }
        Ok(event)
    }
}

/// CompleteTask through the generated stub, for what the client's complete refuses to express
/// (another status, `completed` with an error, `failed` without one).
async fn complete_by_stub(
    c: &Client,
    task_id: String,
    done: Completion,
    fencing_token: Option<u64>,
) -> Result<Task, Fail> {
    let values = Task {
        result: done.result,
        error: done.error,
        variables: done.variables,
        ..Task::default()
    };
    let values = values.to_proto()?;
    let req = CompleteTaskRequest {
        task_id,
        status: done.status as i32,
        status_message: done.message,
        result: values.result,
        error: values.error,
        variables: values.variables,
        expected_version: done.expected_version,
        fencing_token,
    };
    stub_task(
        c.raw()
            .complete_task(deadline(req))
            .await?
            .into_inner()
            .task,
    )
}

/// `claim`: by id through the client's claim, the next one through its claim_next; a
/// task_id together with request_method or wait_ms (which the client's calls cannot express)
/// goes to the server as it is, through the stub.
async fn claim(c: &Client, a: &Args) -> Reply {
    let worker = a.need_string("worker_id")?;
    let (task_id, lease) = (a.string("task_id")?, a.ms("lease_ms")?);
    let (method, wait) = (a.optional_string("request_method")?, a.ms("wait_ms")?);
    let task = if task_id.is_empty() {
        let options = ClaimOptions {
            request_method: method,
            wait,
            lease,
        };
        c.claim_next(&worker, options).await?
    } else if method.is_none() && wait.is_none() {
        Some(c.claim(&task_id, &worker, lease).await?)
    } else {
        let duration = |d: Duration| prost_types::Duration {
            seconds: d.as_secs() as i64,
            nanos: d.subsec_nanos() as i32,
        };
        let req = ClaimTaskRequest {
            task_id,
            worker_id: worker,
            lease_duration: lease.map(duration),
            request_method: method,
            wait_timeout: wait.map(duration),
        };
        c.claim_call(req).await?.map(Task::from_proto)
    };
    Ok(task.map_or_else(|| json!({}), |t| json!({"task": view(&t)})))
}

/// `worker_run`: claim next through the worker helper, set the variables and complete through
/// the lease (both carry its token), then let the lease go.
async fn worker_run(c: &Client, a: &Args) -> Reply {
    let mut options = WorkerOptions::default().worker_id(a.need_string("worker_id")?);
    if let Some(lease) = a.ms("lease_ms")? {
        options = options.lease(lease);
    }
    let claim = ClaimOptions {
        request_method: a.optional_string("request_method")?,
        wait: a.ms("wait_ms")?,
        lease: None,
    };
    let variables = a.typed("variables", "an object", |v| v.as_object().cloned())?;
    let completion = match a.0.get("result") {
        Some(result) => Completion::completed(result.clone()),
        None => Completion::completed_empty(),
    };
    let Some(lease) = Worker::new(c.clone(), options).claim_next(claim).await? else {
        return Ok(json!({}));
    };
    let claimed = view(&lease.task());
    if let Some(vars) = variables {
        lease.set_variables(vars).await?;
    }
    let task = lease.complete(completion).await?;
    lease.close();
    Ok(json!({"claimed": claimed, "task": view(&task)}))
}

fn deadline<T>(msg: T) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    req.set_timeout(CALL_TIMEOUT);
    req
}

fn stub_task(task: Option<proto::Task>) -> Result<Task, Fail> {
    Ok(Task::from_proto(task.ok_or("the answer carries no task")?))
}

/// The `update` op's fn, applied to the variables read: `{"increment": key, "by": n}` (a
/// missing key counts as 0) or `{"merge": {...}}` (`null` deletes a key).
fn apply(f: &Args, vars: &mut Variables) -> Result<(), Fail> {
    let bad = || Fail::Driver(format!("update: bad fn {}", Value::Object(f.0.clone())));
    if f.0.contains_key("merge") {
        if f.0.len() != 1 {
            return Err(bad());
        }
        for (k, v) in f.vars("merge")? {
            match v {
                Value::Null => vars.remove(&k),
                v => vars.insert(k, v),
            };
        }
        return Ok(());
    }
    let (key, by) = (
        f.string("increment")?,
        f.0.get("by").cloned().unwrap_or(json!(1)),
    );
    if key.is_empty() || !by.is_number() || f.0.keys().any(|k| k != "increment" && k != "by") {
        return Err(bad());
    }
    let now = vars.get(&key).cloned().unwrap_or(json!(0));
    let sum = match (now.as_i64(), by.as_i64(), now.as_f64(), by.as_f64()) {
        (Some(x), Some(y), ..) if x.checked_add(y).is_some() => json!(x + y),
        (.., Some(x), Some(y)) => json!(x + y),
        _ => return Err(format!("update: {key} is not a number: {now}").into()),
    };
    vars.insert(key, sum);
    Ok(())
}

/// put_if_version's `task`: the values, and the fields it names (the mask's paths).
fn task_spec(t: Args) -> Result<(Task, Vec<TaskField>), Fail> {
    let mut task = Task::default();
    let mut fields = Vec::new();
    for key in t.0.keys() {
        fields.push(match key.as_str() {
            "status" => {
                task.status = t.status("status")?.unwrap_or_default();
                TaskField::Status
            }
            "status_message" => {
                task.status_message = t.string("status_message")?;
                TaskField::StatusMessage
            }
            "variables" => {
                task.variables = t.vars("variables")?;
                TaskField::Variables
            }
            "result" => {
                task.result = t.0.get("result").cloned();
                TaskField::Result
            }
            "error" => {
                task.error =
                    t.0.get("error")
                        .filter(|e| !e.is_null())
                        .map(task_error)
                        .transpose()?;
                TaskField::Error
            }
            "ttl_ms" => {
                task.ttl = t.ms("ttl_ms")?;
                TaskField::Ttl
            }
            "poll_interval_ms" => {
                task.poll_interval = t.ms("poll_interval_ms")?;
                TaskField::PollInterval
            }
            other => return Err(format!("put_if_version: unknown task key {other:?}").into()),
        });
    }
    Ok((task, fields))
}

/// `{"code": int, "message": string, "data": JSON}`; data optional.
fn task_error(v: &Value) -> Result<TaskError, Fail> {
    let e = Args::of(Some(v), "error")?;
    if let Some(k) =
        e.0.keys()
            .find(|k| !["code", "message", "data"].contains(&k.as_str()))
    {
        return Err(format!("error: unknown key {k:?}").into());
    }
    Ok(TaskError {
        code: e.int("code")?,
        message: e.string("message")?,
        data: e.0.get("data").cloned(),
    })
}

/// The protocol's task view: proto field names, optional fields absent when unset.
fn view(t: &Task) -> Value {
    let mut v = json!({
        "task_id": t.task_id,
        "status": t.status.as_str(),
        "status_message": t.status_message,
        "request_method": t.request_method,
        "version": t.version,
        "variables": t.variables,
    });
    let error = t.error.as_ref().map(|e| match &e.data {
        Some(data) => json!({"code": e.code, "message": e.message, "data": data}),
        None => json!({"code": e.code, "message": e.message}),
    });
    let ms = |d: Duration| json!(d.as_millis() as u64);
    let unix_ms = |t: SystemTime| match t.duration_since(UNIX_EPOCH) {
        Ok(d) => json!(d.as_millis() as i64),
        Err(e) => json!(-(e.duration().as_millis() as i64)),
    };
    let optional = [
        ("result", t.result.clone()),
        ("error", error),
        ("ttl_ms", t.ttl.map(ms)),
        ("poll_interval_ms", t.poll_interval.map(ms)),
        ("create_time_ms", t.create_time.map(unix_ms)),
        ("update_time_ms", t.update_time.map(unix_ms)),
        ("expire_time_ms", t.expire_time.map(unix_ms)),
    ];
    for (key, value) in optional {
        if let Some(value) = value {
            v[key] = value;
        }
    }
    if let Some(l) = &t.lease {
        v["lease"] = json!({
            "worker_id": l.worker_id,
            "fencing_token": l.fencing_token,
            "expire_time_ms": l.expire_time.map_or(json!(0), unix_ms),
            "duration_ms": l.duration.map_or(json!(0), ms),
        });
    }
    match t.lease_policy {
        LeasePolicy::Fail => v["lease_policy"] = json!("fail"),
        LeasePolicy::Release => v["lease_policy"] = json!("release"),
        LeasePolicy::Unspecified => {}
    }
    v["max_attempts"] = json!(t.max_attempts);
    v["attempt"] = json!(t.attempt);
    v["subject"] = json!(t.subject);
    v["input_requests"] = json!(t.input_requests);
    v["input_responses"] = json!(t.input_responses);
    v["cancel_requested"] = json!(t.cancel_requested);
    v
}

/// A WatchTasks message: kind, task_id, version, resume_cursor, and the task of a write.
fn event_view(e: &TaskEvent) -> Value {
    let kind = match e.kind {
        EventKind::Write => "write",
        EventKind::Deleted => "deleted",
        EventKind::Expired => "expired",
        EventKind::Progress => "progress",
        _ => "reset", // client-side only: never in the raw feed
    };
    let mut v = json!({"kind": kind, "task_id": e.task_id, "version": e.version,
                       "resume_cursor": e.resume_cursor});
    if let (EventKind::Write, Some(t)) = (e.kind, &e.task) {
        v["task"] = view(t);
    }
    v
}

/// How a stream ended on an error: its code and, if any, its reason.
fn end_view(e: &Error) -> Value {
    match e.reason() {
        Some(r) => json!({"end": e.code_name(), "end_reason": r}),
        None => json!({"end": e.code_name()}),
    }
}

/// Typed reads of a JSON object (args, `task`, `fn`, `error`). An absent key is the proto
/// default (or `None`), so nothing absent is sent.
struct Args(Map<String, Value>);

impl Args {
    fn of(v: Option<&Value>, what: &str) -> Result<Args, Fail> {
        match v {
            None => Ok(Args(Map::new())),
            Some(Value::Object(m)) => Ok(Args(m.clone())),
            Some(other) => Err(format!("{what} must be an object, not {other}").into()),
        }
    }

    fn typed<T>(
        &self,
        key: &str,
        what: &str,
        f: impl Fn(&Value) -> Option<T>,
    ) -> Result<Option<T>, Fail> {
        let Some(v) = self.0.get(key) else {
            return Ok(None);
        };
        f(v).map(Some)
            .ok_or_else(|| format!("{key} must be {what}, not {v}").into())
    }

    fn string(&self, key: &str) -> Result<String, Fail> {
        Ok(self
            .typed(key, "a string", |v| v.as_str().map(String::from))?
            .unwrap_or_default())
    }

    fn int(&self, key: &str) -> Result<i32, Fail> {
        let int = |v: &Value| v.as_i64().and_then(|n| i32::try_from(n).ok());
        Ok(self
            .typed(key, "a 32-bit integer", int)?
            .unwrap_or_default())
    }

    fn version(&self, key: &str) -> Result<Option<u64>, Fail> {
        self.typed(key, "a non-negative integer", Value::as_u64)
    }

    fn uint(&self, key: &str) -> Result<u32, Fail> {
        let uint = |v: &Value| v.as_u64().and_then(|n| u32::try_from(n).ok());
        Ok(self
            .typed(key, "a 32-bit unsigned integer", uint)?
            .unwrap_or_default())
    }

    fn flag(&self, key: &str) -> Result<bool, Fail> {
        Ok(self
            .typed(key, "a boolean", Value::as_bool)?
            .unwrap_or_default())
    }

    /// A string that is sent only when present (`""` included).
    fn optional_string(&self, key: &str) -> Result<Option<String>, Fail> {
        self.typed(key, "a string", |v| v.as_str().map(String::from))
    }

    fn need_string(&self, key: &str) -> Result<String, Fail> {
        self.optional_string(key)?
            .ok_or_else(|| format!("{key} is required").into())
    }

    /// `"fail"` or `"release"`; absent: unspecified (not sent).
    fn lease_policy(&self) -> Result<LeasePolicy, Fail> {
        let policy = |v: &Value| match v.as_str()? {
            "fail" => Some(LeasePolicy::Fail),
            "release" => Some(LeasePolicy::Release),
            _ => None,
        };
        Ok(self
            .typed("lease_policy", "\"fail\" or \"release\"", policy)?
            .unwrap_or(LeasePolicy::Unspecified))
    }

    /// A `*_ms` duration; `null` (in put_if_version's `task`) unsets the field.
    fn ms(&self, key: &str) -> Result<Option<Duration>, Fail> {
        let ms = |v: &Value| {
            if v.is_null() {
                Some(None)
            } else {
                v.as_u64().map(|n| Some(Duration::from_millis(n)))
            }
        };
        Ok(self.typed(key, "milliseconds", ms)?.flatten())
    }

    fn vars(&self, key: &str) -> Result<Variables, Fail> {
        Ok(self
            .typed(key, "an object", |v| v.as_object().cloned())?
            .unwrap_or_default())
    }

    fn status(&self, key: &str) -> Result<Option<TaskStatus>, Fail> {
        self.typed(key, "a status", |v| v.as_str()?.parse().ok())
    }

    fn statuses(&self, key: &str) -> Result<Vec<TaskStatus>, Fail> {
        let all = |v: &Value| {
            v.as_array()?
                .iter()
                .map(|s| s.as_str()?.parse().ok())
                .collect()
        };
        Ok(self
            .typed(key, "an array of statuses", all)?
            .unwrap_or_default())
    }

    /// Absent: the zero value, which is not sent (the server's default view).
    fn view(&self) -> Result<TaskView, Fail> {
        let view = |v: &Value| match v.as_str()? {
            "basic" => Some(TaskView::Basic),
            "full" => Some(TaskView::Full),
            _ => None,
        };
        Ok(self
            .typed("view", "\"basic\" or \"full\"", view)?
            .unwrap_or(TaskView::Unspecified))
    }
}

#[cfg(test)]
mod tests;
