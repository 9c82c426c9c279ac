//! The Rust driver of the conformance engine (the contract: `tests/conformance/drivers/README.md`).
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
use taskstate_client::proto::{CompleteTaskRequest, PutIfVersionRequest, WaitTaskRequest};
use taskstate_client::{
    Client, ClientOptions, Completion, Error, ErrorOrigin, ListOptions, Task, TaskError, TaskField,
    TaskStatus, TaskView, Variables, WatchAllOptions,
};
use tokio::sync::mpsc;

const CALL_TIMEOUT: Duration = Duration::from_secs(30);

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

/// The args each op accepts; any other key is a `failure`.
const OPS: &[(&str, &[&str])] = &[
    (
        "create",
        &[
            "ttl_ms",
            "poll_interval_ms",
            "request_method",
            "variables",
            "request_id",
        ],
    ),
    ("get", &["task_id"]),
    ("list", &["page_size", "page_token", "statuses", "view"]),
    (
        "update_status",
        &["task_id", "status", "message", "expected_version"],
    ),
    (
        "set_variables",
        &["task_id", "variables", "expected_version"],
    ),
    (
        "put_if_version",
        &["task_id", "expected_version", "task", "update_mask"],
    ),
    (
        "complete",
        &[
            "task_id",
            "status",
            "message",
            "result",
            "error",
            "variables",
            "expected_version",
        ],
    ),
    ("cancel", &["task_id", "message"]),
    ("delete", &["task_id"]),
    ("wait", &["task_id", "timeout_ms", "statuses"]),
    ("update", &["task_id", "fn"]),
    ("watch", &["task_id", "after_version"]),
    ("watch_all_open", &["stream", "statuses", "view"]),
    ("watch_all_next", &["stream"]),
    ("watch_all_close", &["stream"]),
];

/// An open WatchTasks stream: a pump task moves its events into `rx`; `end` remembers how it
/// ended, so every later `next` answers the same.
struct Watcher {
    rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Value>>,
    end: Mutex<Option<Value>>,
    pump: tokio::task::AbortHandle,
}

/// What requests share: one client per (address, token), the open WatchTasks streams by name.
#[derive(Default)]
struct Driver {
    clients: Mutex<HashMap<(String, Option<String>), Client>>,
    streams: Mutex<HashMap<String, Arc<Watcher>>>,
}

#[tokio::main]
async fn main() {
    emit(json!({"hello": "rust"}));
    let driver = Arc::new(Driver::default());
    let runtime = tokio::runtime::Handle::current();
    // stdin is read on a blocking thread (tokio's own stdin needs a feature the client's
    // dependencies are not built with); each line becomes a task on the runtime.
    let reader = tokio::task::spawn_blocking(move || {
        for line in std::io::stdin().lock().lines().map_while(Result::ok) {
            if !line.trim().is_empty() {
                runtime.spawn(serve(driver.clone(), line));
            }
        }
    });
    let _ = reader.await;
    std::process::exit(0);
}

async fn serve(driver: Arc<Driver>, line: String) {
    let request: Value = match serde_json::from_str(&line) {
        Ok(v) => v,
        Err(e) => return emit(json!({"id": null, "failure": format!("bad request line: {e}")})),
    };
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    // A panic in a handler still answers (as a failure) instead of leaving the engine waiting.
    let reply = tokio::spawn(async move { driver.handle(&request).await })
        .await
        .unwrap_or_else(|e| Err(Fail::Driver(format!("driver panic: {e}"))));
    emit(answer(id, reply));
}

/// Writes one whole line to stdout (the lock serialises concurrent answers).
fn emit(v: Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}").and_then(|()| out.flush());
}

fn answer(id: Value, reply: Reply) -> Value {
    match reply {
        Ok(v) => json!({"id": id, "ok": v}),
        Err(Fail::Call(e)) if e.origin() != ErrorOrigin::Client => {
            json!({"id": id, "error": error_view(&e)})
        }
        Err(Fail::Call(e)) => {
            json!({"id": id, "failure": format!("client error without a server status: {e}")})
        }
        Err(Fail::Driver(why)) => json!({"id": id, "failure": why}),
    }
}

impl Driver {
    async fn handle(&self, request: &Value) -> Reply {
        let op = request["op"].as_str().ok_or("request without an op")?;
        let empty = Map::new();
        let a = Args(match request.get("args") {
            None => &empty,
            Some(v) => v.as_object().ok_or("args must be an object")?,
        });
        let (_, known) = OPS
            .iter()
            .find(|(name, _)| *name == op)
            .ok_or(format!("unknown op {op:?}"))?;
        if let Some(k) = a.0.keys().find(|k| !known.contains(&k.as_str())) {
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
        match op {
            "create" => {
                let mut new = taskstate_client::NewTask::new()
                    .request_method(a.string("request_method")?)
                    .request_id(a.string("request_id")?)
                    .variables(a.vars("variables")?);
                new.ttl = a.ms("ttl_ms")?;
                new.poll_interval = a.ms("poll_interval_ms")?;
                Ok(view(&c.create(new).await?))
            }
            "get" => Ok(view(&c.get(&id).await?)),
            "list" => {
                let options = ListOptions::new()
                    .page_size(a.int("page_size")?.unwrap_or(0))
                    .page_token(a.string("page_token")?)
                    .statuses(a.statuses("statuses")?)
                    .view(a.view()?);
                let page = c.list(options).await?;
                let tasks: Vec<Value> = page.tasks.iter().map(view).collect();
                Ok(json!({"tasks": tasks, "next_page_token": page.next_page_token}))
            }
            "update_status" => {
                let status = a.status("status")?.unwrap_or(TaskStatus::Unspecified);
                let (message, expected) = (a.string("message")?, a.version("expected_version")?);
                Ok(view(
                    &c.update_status(&id, status, &message, expected).await?,
                ))
            }
            "set_variables" => {
                let expected = a.version("expected_version")?;
                Ok(view(
                    &c.set_variables(&id, a.vars("variables")?, expected).await?,
                ))
            }
            "put_if_version" => {
                let expected = a.version("expected_version")?.unwrap_or(0);
                let (values, fields) = task_spec(a.0.get("task"))?;
                let Some(mask) = a.0.get("update_mask") else {
                    return Ok(view(
                        &c.put_if_version(&id, expected, &values, &fields).await?,
                    ));
                };
                // Fallback: exactly the given paths (empty, unknown fields), through the stub.
                let paths = mask
                    .as_array()
                    .and_then(|m| m.iter().map(|p| p.as_str().map(str::to_owned)).collect());
                let paths: Vec<String> = paths.ok_or("update_mask must be an array of strings")?;
                let req = PutIfVersionRequest {
                    task_id: id,
                    expected_version: expected,
                    task: Some(values.to_proto()?),
                    update_mask: Some(prost_types::FieldMask { paths }),
                };
                let resp = c
                    .raw()
                    .put_if_version(deadline(req))
                    .await
                    .map_err(Error::from)?;
                Ok(view(&Task::from_proto(
                    resp.into_inner().task.ok_or("no task in the answer")?,
                )))
            }
            "complete" => {
                let status = a.status("status")?.unwrap_or(TaskStatus::Completed);
                let error = a.0.get("error").map(task_error).transpose()?;
                let completion = Completion {
                    status,
                    message: a.string("message")?,
                    result: a.0.get("result").cloned(),
                    error,
                    variables: a.vars("variables")?,
                    expected_version: a.version("expected_version")?,
                };
                match (status, &completion.error) {
                    (TaskStatus::Completed, None) | (TaskStatus::Failed, Some(_)) => {
                        Ok(view(&c.complete(&id, completion).await?))
                    }
                    _ => complete_by_stub(&c, id, completion).await,
                }
            }
            "cancel" => Ok(view(&c.cancel(&id, &a.string("message")?).await?)),
            "delete" => {
                c.delete(&id).await?;
                Ok(json!({}))
            }
            "wait" => {
                let statuses = a.statuses("statuses")?;
                if let Some(timeout) = a.ms("timeout_ms")? {
                    return Ok(view(&c.wait(&id, Some(timeout), &statuses).await?));
                }
                // Fallback: the client's wait has no "server default timeout", the stub leaves it unset.
                let statuses = statuses.iter().map(|s| *s as i32).collect();
                let req = WaitTaskRequest {
                    task_id: id,
                    timeout: None,
                    statuses,
                };
                let resp = c
                    .raw()
                    .wait_task(deadline(req))
                    .await
                    .map_err(Error::from)?;
                Ok(view(&Task::from_proto(
                    resp.into_inner().task.ok_or("no task in the answer")?,
                )))
            }
            "update" => {
                let f =
                    a.0.get("fn")
                        .and_then(Value::as_object)
                        .ok_or("update: fn must be an object")?;
                Ok(view(
                    &c.try_update(&id, |t| apply(f, &mut t.variables)).await?,
                ))
            }
            "watch" => {
                let mut stream = c.watch(&id, a.version("after_version")?.unwrap_or(0));
                let mut tasks = Vec::new();
                let mut end = json!({"end": "OK"});
                while let Some(item) = stream.next().await {
                    match item {
                        Ok(t) => tasks.push(view(&t)),
                        Err(e) => end = end_view(&e),
                    }
                }
                end["tasks"] = Value::Array(tasks);
                Ok(end)
            }
            "watch_all_open" => {
                let name = a.string("stream")?;
                let options = WatchAllOptions::new()
                    .statuses(a.statuses("statuses")?)
                    .view(a.view()?);
                // Returns once the server has sent the headers, i.e. registered the watcher.
                let mut stream = c.watch_all(options).await?;
                let (tx, rx) = mpsc::unbounded_channel();
                let pump = tokio::spawn(async move {
                    while let Some(item) = stream.next().await {
                        let event = match item {
                            Ok(t) => json!({"task": view(&t)}),
                            Err(e) => end_view(&e),
                        };
                        if tx.send(event).is_err() {
                            return;
                        }
                    }
                    let _ = tx.send(json!({"end": "OK"}));
                });
                let watcher = Watcher {
                    rx: tokio::sync::Mutex::new(rx),
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
            _ => Err(format!("op {op:?} has no handler").into()),
        }
    }

    /// One client per (address, token): plaintext, the token or no authorization at all, 30 s
    /// per unary call. Connected lazily, so a lookup never waits.
    fn client(&self, target: &Value) -> Result<Client, Fail> {
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
        let key = (address.to_owned(), token.clone());
        if let Some(c) = clients.get(&key) {
            return Ok(c.clone());
        }
        let options = ClientOptions {
            token,
            default_timeout: Some(CALL_TIMEOUT),
            tls: taskstate_client::TlsOptions::plaintext(),
            ..ClientOptions::default()
        };
        let c = Client::connect_lazy(address, options)?;
        clients.insert(key, c.clone());
        Ok(c)
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
async fn complete_by_stub(c: &Client, task_id: String, done: Completion) -> Reply {
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
    };
    let resp = c
        .raw()
        .complete_task(deadline(req))
        .await
        .map_err(Error::from)?;
    Ok(view(&Task::from_proto(
        resp.into_inner().task.ok_or("no task in the answer")?,
    )))
}

fn deadline<T>(msg: T) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    req.set_timeout(CALL_TIMEOUT);
    req
}

/// The `update` op's fn, applied to the variables read: `{"increment": key, "by": n}` or
/// `{"merge": {...}}` (`null` deletes a key).
fn apply(f: &Map<String, Value>, vars: &mut Variables) -> Result<(), Fail> {
    if let Some(Value::Object(m)) = f.get("merge").filter(|_| f.len() == 1) {
        for (k, v) in m {
            match v {
                Value::Null => vars.remove(k),
                v => vars.insert(k.clone(), v.clone()),
            };
        }
        return Ok(());
    }
    let key = f.get("increment").and_then(Value::as_str);
    let by = f.get("by").cloned().unwrap_or(json!(1));
    let (Some(key), true, true) = (
        key,
        by.is_number(),
        f.keys().all(|k| k == "increment" || k == "by"),
    ) else {
        return Err(format!("update: bad fn {}", Value::Object(f.clone())).into());
    };
    let now = vars.get(key).cloned().unwrap_or(json!(0));
    let sum = match (now.as_i64(), by.as_i64()) {
        (Some(x), Some(y)) if x.checked_add(y).is_some() => json!(x + y),
        _ => match (now.as_f64(), by.as_f64()) {
            (Some(x), Some(y)) => json!(x + y),
            _ => return Err(format!("update: {key} is not a number: {now}").into()),
        },
    };
    vars.insert(key.to_owned(), sum);
    Ok(())
}

/// The `task` of put_if_version: the values, and the fields it names (the mask's paths).
fn task_spec(spec: Option<&Value>) -> Result<(Task, Vec<TaskField>), Fail> {
    let empty = Map::new();
    let spec = match spec {
        None => &empty,
        Some(v) => v
            .as_object()
            .ok_or("put_if_version: task must be an object")?,
    };
    let a = Args(spec);
    let mut t = Task::default();
    let mut fields = Vec::new();
    for key in spec.keys() {
        fields.push(match key.as_str() {
            "status" => {
                t.status = a.status("status")?.unwrap_or(TaskStatus::Unspecified);
                TaskField::Status
            }
            "status_message" => {
                t.status_message = a.string("status_message")?;
                TaskField::StatusMessage
            }
            "variables" => {
                t.variables = a.vars("variables")?;
                TaskField::Variables
            }
            "result" => {
                t.result = spec.get("result").cloned();
                TaskField::Result
            }
            "error" => {
                t.error = spec
                    .get("error")
                    .filter(|e| !e.is_null())
                    .map(task_error)
                    .transpose()?;
                TaskField::Error
            }
            "ttl_ms" => {
                t.ttl = a.ms("ttl_ms")?;
                TaskField::Ttl
            }
            "poll_interval_ms" => {
                t.poll_interval = a.ms("poll_interval_ms")?;
                TaskField::PollInterval
            }
            other => return Err(format!("put_if_version: unknown task key {other:?}").into()),
        });
    }
    Ok((t, fields))
}

fn task_error(v: &Value) -> Result<TaskError, Fail> {
    let bad = || Fail::Driver(format!("error must be {{code, message, data?}}, not {v}"));
    let o = v.as_object().ok_or_else(bad)?;
    if o.keys()
        .any(|k| !["code", "message", "data"].contains(&k.as_str()))
    {
        return Err(bad());
    }
    let code = o
        .get("code")
        .map_or(Some(0), Value::as_i64)
        .and_then(|c| i32::try_from(c).ok());
    let message = o.get("message").map_or(Some(""), Value::as_str);
    let (Some(code), Some(message)) = (code, message) else {
        return Err(bad());
    };
    Ok(TaskError {
        code,
        message: message.to_owned(),
        data: o.get("data").cloned(),
    })
}

/// The canonical task view of the protocol (optional fields absent when unset).
fn view(t: &Task) -> Value {
    let mut v = json!({
        "task_id": t.task_id,
        "status": t.status.as_str(),
        "status_message": t.status_message,
        "request_method": t.request_method,
        "version": t.version,
        "variables": t.variables,
    });
    let mut put = |k: &str, x: Option<Value>| {
        if let Some(x) = x {
            v[k] = x;
        }
    };
    put("result", t.result.clone());
    put(
        "error",
        t.error.as_ref().map(|e| {
            let mut err = json!({"code": e.code, "message": e.message});
            if let Some(d) = &e.data {
                err["data"] = d.clone();
            }
            err
        }),
    );
    put("ttl_ms", t.ttl.map(|d| json!(d.as_millis() as u64)));
    put(
        "poll_interval_ms",
        t.poll_interval.map(|d| json!(d.as_millis() as u64)),
    );
    put("create_time_ms", t.create_time.map(unix_ms));
    put("update_time_ms", t.update_time.map(unix_ms));
    put("expire_time_ms", t.expire_time.map(unix_ms));
    v
}

fn unix_ms(t: SystemTime) -> Value {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => json!(d.as_millis() as i64),
        Err(e) => json!(-(e.duration().as_millis() as i64)),
    }
}

fn error_view(e: &Error) -> Value {
    json!({"code": e.code_name(), "reason": e.reason(), "message": e.message(), "metadata": e.metadata()})
}

/// How a stream ended on an error: its code and, if any, its reason.
fn end_view(e: &Error) -> Value {
    match e.reason() {
        Some(r) => json!({"end": e.code_name(), "end_reason": r}),
        None => json!({"end": e.code_name()}),
    }
}

/// Typed access to a request's args (or a put_if_version `task`); absent keys give defaults.
struct Args<'a>(&'a Map<String, Value>);

impl Args<'_> {
    fn typed<T>(
        &self,
        key: &str,
        what: &str,
        f: impl Fn(&Value) -> Option<T>,
    ) -> Result<Option<T>, Fail> {
        match self.0.get(key) {
            None => Ok(None),
            Some(v) => f(v)
                .map(Some)
                .ok_or_else(|| Fail::Driver(format!("{key} must be {what}, not {v}"))),
        }
    }

    fn string(&self, key: &str) -> Result<String, Fail> {
        Ok(self
            .typed(key, "a string", |v| v.as_str().map(str::to_owned))?
            .unwrap_or_default())
    }

    fn int(&self, key: &str) -> Result<Option<i32>, Fail> {
        self.typed(key, "a 32-bit integer", |v| {
            v.as_i64().and_then(|n| i32::try_from(n).ok())
        })
    }

    fn version(&self, key: &str) -> Result<Option<u64>, Fail> {
        self.typed(key, "a non-negative integer", Value::as_u64)
    }

    /// `*_ms` durations; `null` (put_if_version's `task`) unsets the field.
    fn ms(&self, key: &str) -> Result<Option<Duration>, Fail> {
        let d = self.typed(key, "milliseconds", |v| match v {
            Value::Null => Some(None),
            v => v.as_u64().map(|ms| Some(Duration::from_millis(ms))),
        })?;
        Ok(d.flatten())
    }

    fn vars(&self, key: &str) -> Result<Variables, Fail> {
        Ok(self
            .typed(key, "an object", |v| v.as_object().cloned())?
            .unwrap_or_default())
    }

    fn status(&self, key: &str) -> Result<Option<TaskStatus>, Fail> {
        self.typed(key, "a status", |v| v.as_str().and_then(|s| s.parse().ok()))
    }

    fn statuses(&self, key: &str) -> Result<Vec<TaskStatus>, Fail> {
        let parse = |v: &Value| {
            v.as_array()?
                .iter()
                .map(|s| s.as_str()?.parse().ok())
                .collect()
        };
        Ok(self
            .typed(key, "an array of statuses", parse)?
            .unwrap_or_default())
    }

    fn view(&self) -> Result<TaskView, Fail> {
        let parse = |v: &Value| match v.as_str()? {
            "basic" => Some(TaskView::Basic),
            "full" => Some(TaskView::Full),
            _ => None,
        };
        // Absent: the zero value, i.e. not sent (the server's default).
        Ok(self
            .typed("view", "\"basic\" or \"full\"", parse)?
            .unwrap_or(TaskView::Unspecified))
    }
}
