//! Conformance runner for the Rust client: implements the runner contract of
//! `tests/conformance/README.md` with `taskstate_client`.
//!
//! ```text
//! TASKSTATE_ADDRESS=... TASKSTATE_QUOTA_ADDRESS=... TASKSTATE_TOKEN_ALICE=... \
//! TASKSTATE_TOKEN_BOB=... TASKSTATE_VECTORS_DIR=tests/conformance/vectors \
//!     cargo run --quiet --manifest-path clients/rust/Cargo.toml --example conformance [NAME ...]
//! ```
//!
//! With arguments, only the named scenarios run (file name or name without `.json`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use serde_json::{json, Map, Value};
use taskstate_client::proto;
use taskstate_client::{
    json_to_value, Client, ClientOptions, Completion, Error, ErrorOrigin, ListOptions, NewTask,
    Task, TaskError, TaskField, TaskStatus, TaskStream, Variables, WatchAllOptions,
};
use tokio::task::JoinHandle;

const STEP_TIMEOUT: Duration = Duration::from_secs(10); // await, watch_all_collect
const CALL_TIMEOUT: Duration = Duration::from_secs(30); // every unary call
/// Safety net for synchronous steps (a watch that never ends would hang the run).
const OP_TIMEOUT: Duration = Duration::from_secs(120);
const UNKNOWN_TOKEN: &str = "conformance-unknown-token";
const MAX_PAGES: usize = 1000;

const OWNERS: [&str; 4] = ["alice", "bob", "nobody", "anonymous"];
const STATUSES: [&str; 5] = [
    "working",
    "input_required",
    "completed",
    "failed",
    "cancelled",
];
const STEP_KEYS: [&str; 7] = ["op", "as", "args", "expect", "save", "async", "comment"];
const SCENARIO_KEYS: [&str; 4] = ["name", "description", "server", "steps"];
const TASK_FIELDS: [&str; 7] = [
    "status",
    "status_message",
    "variables",
    "result",
    "error",
    "ttl",
    "poll_interval",
];
const NO_ASYNC: [&str; 3] = ["await", "watch_all_start", "watch_all_collect"];
const MATCHERS: [&str; 15] = [
    "$exists",
    "$eq",
    "$ne",
    "$gt",
    "$gte",
    "$lt",
    "$lte",
    "$len",
    "$contains",
    "$not_contains",
    "$subsequence",
    "$increasing",
    "$unique",
    "$each",
    "$regex",
];

/// op -> (required args, optional args)
fn op_args(op: &str) -> Option<(&'static [&'static str], &'static [&'static str])> {
    Some(match op {
        "create" => (
            &[],
            &[
                "ttl",
                "poll_interval",
                "request_method",
                "variables",
                "request_id",
            ],
        ),
        "get" => (&["task_id"], &[]),
        "list" => (&[], &["page_size", "page_token", "statuses"]),
        "list_all" => (&[], &["page_size", "statuses"]),
        "update_status" => (&["task_id", "status"], &["message", "expected_version"]),
        "set_variables" => (&["task_id", "variables"], &["expected_version"]),
        "put_if_version" => (&["task_id", "expected_version", "task"], &["update_mask"]),
        "complete" => (
            &["task_id"],
            &[
                "status",
                "message",
                "result",
                "error",
                "variables",
                "expected_version",
            ],
        ),
        "cancel" => (&["task_id"], &["message"]),
        "delete" => (&["task_id"], &[]),
        "wait" => (&["task_id", "timeout"], &["statuses"]),
        "update" => (&["task_id", "fn"], &["parallel"]),
        "watch" => (&["task_id"], &["after_version"]),
        "watch_all_start" => (&["handle"], &["statuses"]),
        "watch_all_collect" => (&["handle", "task_ids", "until"], &[]),
        "await" => (&["handle"], &[]),
        _ => return None,
    })
}

/// A scenario failure (a mismatch, a malformed vector, a client-side error, a timeout).
type Fail = String;

/// The outcome of a call: the result view, or the error view of a server error.
#[derive(Clone, Debug)]
enum Outcome {
    Ok(Value),
    Err(Value),
}

impl Outcome {
    fn value(&self) -> &Value {
        match self {
            Outcome::Ok(v) | Outcome::Err(v) => v,
        }
    }
}

// -------------------------------------------------------------------------------------------
// Static validation
// -------------------------------------------------------------------------------------------

fn validate_scenario(doc: &Value, file_stem: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(obj) = doc.as_object() else {
        return vec!["scenario is not a JSON object".into()];
    };
    let unknown: Vec<_> = obj
        .keys()
        .filter(|k| !SCENARIO_KEYS.contains(&k.as_str()))
        .collect();
    if !unknown.is_empty() {
        problems.push(format!("unknown scenario keys {unknown:?}"));
    }
    match obj.get("name").and_then(Value::as_str) {
        Some(n) if !n.is_empty() => {
            if n != file_stem {
                problems.push(format!(
                    "name {n:?} differs from the file name {file_stem:?}"
                ));
            }
        }
        _ => problems.push("missing name".into()),
    }
    if !obj.get("description").is_some_and(Value::is_string) {
        problems.push("missing description".into());
    }
    if let Some(s) = obj.get("server") {
        if s != "main" && s != "quota" {
            problems.push("server must be main or quota".into());
        }
    }
    let Some(steps) = obj
        .get("steps")
        .and_then(Value::as_array)
        .filter(|s| !s.is_empty())
    else {
        problems.push("steps must be a non-empty list".into());
        return problems;
    };
    let mut handles = HashSet::new();
    for (i, step) in steps.iter().enumerate() {
        problems.extend(
            validate_step(step, &mut handles)
                .into_iter()
                .map(|p| format!("step {i}: {p}")),
        );
    }
    problems
}

fn validate_step(step: &Value, handles: &mut HashSet<String>) -> Vec<String> {
    let Some(step) = step.as_object() else {
        return vec!["not an object".into()];
    };
    let mut problems = Vec::new();
    let unknown: Vec<_> = step
        .keys()
        .filter(|k| !STEP_KEYS.contains(&k.as_str()))
        .collect();
    if !unknown.is_empty() {
        problems.push(format!("unknown step keys {unknown:?}"));
    }
    let op = step.get("op").and_then(Value::as_str).unwrap_or("");
    let Some((required, optional)) = op_args(op) else {
        problems.push(format!("unknown op {:?}", step.get("op")));
        return problems;
    };
    if let Some(owner) = step.get("as") {
        if !owner.as_str().is_some_and(|o| OWNERS.contains(&o)) {
            problems.push(format!("as must be one of {OWNERS:?}"));
        }
    }
    let empty = Map::new();
    let args = match step.get("args") {
        None => &empty,
        Some(Value::Object(a)) => a,
        Some(_) => {
            problems.push("args must be an object".into());
            return problems;
        }
    };
    let missing: Vec<_> = required
        .iter()
        .filter(|k| !args.contains_key(**k))
        .collect();
    if !missing.is_empty() {
        problems.push(format!("{op}: missing args {missing:?}"));
    }
    let extra: Vec<_> = args
        .keys()
        .filter(|k| !required.contains(&k.as_str()) && !optional.contains(&k.as_str()))
        .collect();
    if !extra.is_empty() {
        problems.push(format!("{op}: unknown args {extra:?}"));
    }
    if let Some(h) = step.get("async") {
        if NO_ASYNC.contains(&op) {
            problems.push(format!("{op} cannot be async"));
        }
        if step.contains_key("expect") || step.contains_key("save") {
            problems.push("an async step takes no expect/save (put them on the await step)".into());
        }
        handles.insert(text_of(h));
    }
    if op == "watch_all_start" {
        handles.insert(args.get("handle").map(text_of).unwrap_or_default());
    }
    if op == "await" || op == "watch_all_collect" {
        let h = args.get("handle").map(text_of).unwrap_or_default();
        if !handles.contains(&h) {
            problems.push(format!("handle {h:?} was never started"));
        }
    }
    if op == "put_if_version" {
        if let Some(task) = args.get("task").and_then(Value::as_object) {
            let extra: Vec<_> = task
                .keys()
                .filter(|k| !TASK_FIELDS.contains(&k.as_str()))
                .collect();
            if !extra.is_empty() {
                problems.push(format!("put_if_version: unknown task fields {extra:?}"));
            }
        }
    }
    if op == "update" {
        if let Some(f) = args.get("fn").and_then(Value::as_object) {
            let mut keys: Vec<&str> = f.keys().map(String::as_str).collect();
            keys.sort_unstable();
            if !matches!(
                keys.as_slice(),
                ["increment"] | ["by", "increment"] | ["merge"]
            ) {
                problems.push(format!("update: bad fn {f:?}"));
            }
        }
    }
    if let Some(expect) = step.get("expect") {
        let kinds: Vec<&str> = expect
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        if kinds != ["ok"] && kinds != ["error"] {
            problems.push(r#"expect must be {"ok": {...}} or {"error": {...}}"#.into());
        } else if let Some(ok) = expect.get("ok") {
            match ok.as_object() {
                None => problems.push("expect.ok must be an object of path -> matcher".into()),
                Some(m) => {
                    for (path, matcher) in m {
                        problems.extend(
                            validate_matcher(matcher)
                                .into_iter()
                                .map(|p| format!("expect.ok[{path:?}]: {p}")),
                        );
                    }
                }
            }
        } else {
            let err = &expect["error"];
            match err.as_object() {
                Some(e) if e.get("code").is_some_and(Value::is_string) => {
                    let extra: Vec<_> = e
                        .keys()
                        .filter(|k| {
                            !["code", "reason", "message", "metadata"].contains(&k.as_str())
                        })
                        .collect();
                    if !extra.is_empty() {
                        problems.push(format!("expect.error: unknown keys {extra:?}"));
                    }
                }
                _ => problems.push("expect.error needs a code".into()),
            }
        }
    }
    if let Some(save) = step.get("save") {
        if !save
            .as_object()
            .is_some_and(|m| m.values().all(Value::is_string))
        {
            problems.push("save must be an object of name -> path".into());
        }
    }
    problems
}

fn is_matcher(m: &Value) -> bool {
    m.as_object()
        .is_some_and(|o| !o.is_empty() && o.keys().all(|k| k.starts_with('$')))
}

fn validate_matcher(m: &Value) -> Vec<String> {
    if !is_matcher(m) {
        return Vec::new();
    }
    let obj = m.as_object().unwrap();
    let mut problems: Vec<String> = obj
        .keys()
        .filter(|k| !MATCHERS.contains(&k.as_str()))
        .map(|k| format!("unknown matcher {k}"))
        .collect();
    if let Some(each) = obj.get("$each") {
        problems.extend(validate_matcher(each));
    }
    problems
}

// -------------------------------------------------------------------------------------------
// Values: durations, substitution, task and error views
// -------------------------------------------------------------------------------------------

fn parse_duration(v: &Value) -> Result<Duration, Fail> {
    let bad = || format!("bad duration {v} (use e.g. 500ms, 90s, 5m, 1h)");
    let s = v.as_str().ok_or_else(bad)?;
    let split = s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (digits, unit) = s.split_at(split);
    if digits.is_empty() {
        return Err(bad());
    }
    let n: u64 = digits.parse().map_err(|_| bad())?;
    Ok(match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        _ => return Err(bad()),
    })
}

fn parse_status(v: &Value) -> Result<TaskStatus, Fail> {
    match v.as_str() {
        Some(s) if STATUSES.contains(&s) => s.parse::<TaskStatus>().map_err(|e| e.to_string()),
        _ => Err(format!("unknown status {v}")),
    }
}

fn parse_statuses(v: Option<&Value>) -> Result<Vec<TaskStatus>, Fail> {
    match v {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items.iter().map(parse_status).collect(),
        Some(other) => Err(format!("statuses must be an array, got {other}")),
    }
}

/// The text of a value inside a longer string: a string as is, a whole number in decimal.
fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 && !n.is_i64() && !n.is_u64() => {
                format!("{}", f as i64)
            }
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

fn lookup<'a>(saved: &'a HashMap<String, Value>, name: &str) -> Result<&'a Value, Fail> {
    saved
        .get(name)
        .ok_or_else(|| format!("unknown reference ${{{name}}}"))
}

fn substitute(v: &Value, saved: &HashMap<String, Value>, generators: bool) -> Result<Value, Fail> {
    Ok(match v {
        Value::String(s) => {
            if let Some(name) = s.strip_prefix("${").and_then(|r| r.strip_suffix('}')) {
                if !name.contains('}') && !name.is_empty() {
                    return Ok(lookup(saved, name)?.clone());
                }
            }
            let mut out = String::new();
            let mut rest = s.as_str();
            while let Some(start) = rest.find("${") {
                let Some(len) = rest[start + 2..].find('}') else {
                    break;
                };
                let name = &rest[start + 2..start + 2 + len];
                if name.is_empty() {
                    out.push_str(&rest[..start + 3]);
                    rest = &rest[start + 3..];
                    continue;
                }
                out.push_str(&rest[..start]);
                out.push_str(&text_of(lookup(saved, name)?));
                rest = &rest[start + 3 + len..];
            }
            out.push_str(rest);
            Value::String(out)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|x| substitute(x, saved, generators))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => {
            if generators && map.len() == 1 && map.contains_key("$repeat") {
                let spec = &map["$repeat"];
                return match (
                    spec.get(0).and_then(Value::as_str),
                    spec.get(1).and_then(Value::as_u64),
                ) {
                    (Some(s), Some(n)) if spec.as_array().is_some_and(|a| a.len() == 2) => {
                        Ok(Value::String(s.repeat(n as usize)))
                    }
                    _ => Err(format!("bad $repeat {spec}")),
                };
            }
            let mut out = Map::new();
            for (k, x) in map {
                out.insert(k.clone(), substitute(x, saved, generators)?);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}

fn unix_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

fn task_view(t: &Task) -> Value {
    let mut v = Map::new();
    v.insert("task_id".into(), json!(t.task_id));
    v.insert("status".into(), json!(t.status.as_str()));
    v.insert("status_message".into(), json!(t.status_message));
    v.insert("request_method".into(), json!(t.request_method));
    v.insert("version".into(), json!(t.version));
    v.insert("variables".into(), Value::Object(t.variables.clone()));
    if let Some(ct) = t.create_time {
        v.insert("create_time_ms".into(), json!(unix_ms(ct)));
    }
    if let Some(ut) = t.update_time {
        v.insert("update_time_ms".into(), json!(unix_ms(ut)));
    }
    if let Some(r) = &t.result {
        v.insert("result".into(), r.clone());
    }
    if let Some(e) = &t.error {
        let mut err = Map::new();
        err.insert("code".into(), json!(e.code));
        err.insert("message".into(), json!(e.message));
        if let Some(d) = &e.data {
            err.insert("data".into(), d.clone());
        }
        v.insert("error".into(), Value::Object(err));
    }
    if let Some(ttl) = t.ttl {
        v.insert("ttl_ms".into(), json!(ttl.as_millis() as u64));
    }
    if let Some(p) = t.poll_interval {
        v.insert("poll_interval_ms".into(), json!(p.as_millis() as u64));
    }
    if let Some(e) = t.expire_time {
        v.insert("expire_time_ms".into(), json!(unix_ms(e)));
    }
    Value::Object(v)
}

fn error_view(e: &Error) -> Value {
    let metadata: BTreeMap<&String, &String> = e.metadata().iter().collect();
    json!({
        "code": e.code_name(),
        "reason": e.reason(),
        "message": e.message(),
        "metadata": metadata,
    })
}

/// A call's result as an outcome: a server error is an error outcome; an error the client
/// raised itself (or the transport) is a scenario failure.
fn outcome<T>(r: Result<T, Error>, view: impl FnOnce(T) -> Value) -> Result<Outcome, Fail> {
    match r {
        Ok(x) => Ok(Outcome::Ok(view(x))),
        Err(e) if e.origin() == ErrorOrigin::Server => Ok(Outcome::Err(error_view(&e))),
        Err(e) => Err(format!("client-side error (no server answer): {e}")),
    }
}

fn task_outcome(r: Result<Task, Error>) -> Result<Outcome, Fail> {
    outcome(r, |t| task_view(&t))
}

// -------------------------------------------------------------------------------------------
// Matching
// -------------------------------------------------------------------------------------------

fn deep_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| deep_eq(v, w)))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| deep_eq(v, w))
        }
        _ => a == b,
    }
}

fn resolve_path<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    if path.is_empty() {
        return Some(value);
    }
    let mut cur = value;
    for seg in path.split('.') {
        cur = match cur {
            Value::Object(m) => m.get(seg)?,
            Value::Array(items) => {
                let idx: i64 = seg.parse().ok()?;
                let len = items.len() as i64;
                let i = if idx < 0 { len + idx } else { idx };
                if i < 0 || i >= len {
                    return None;
                }
                &items[i as usize]
            }
            _ => return None,
        };
    }
    Some(cur)
}

fn show(v: Option<&Value>) -> String {
    match v {
        None => "<absent>".into(),
        Some(v) => {
            let text = v.to_string();
            if text.len() <= 600 {
                text
            } else {
                let mut cut = 600;
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                format!("{}...", &text[..cut])
            }
        }
    }
}

fn mismatch(actual: Option<&Value>, matcher: &Value) -> Result<Option<String>, Fail> {
    if !is_matcher(matcher) {
        return Ok(match actual {
            Some(a) if deep_eq(a, matcher) => None,
            _ => Some(format!(
                "got {}, want {}",
                show(actual),
                show(Some(matcher))
            )),
        });
    }
    for (op, arg) in matcher.as_object().unwrap() {
        if let Some(why) = check(op, arg, actual)? {
            return Ok(Some(format!("{op}: {why} (got {})", show(actual))));
        }
    }
    Ok(None)
}

fn check(op: &str, arg: &Value, actual: Option<&Value>) -> Result<Option<String>, Fail> {
    if op == "$exists" {
        let want = arg
            .as_bool()
            .ok_or_else(|| format!("$exists takes a boolean, got {arg}"))?;
        return Ok(match (actual.is_some(), want) {
            (true, true) | (false, false) => None,
            (false, true) => Some("absent".into()),
            (true, false) => Some("present".into()),
        });
    }
    let Some(actual) = actual else {
        return Ok(Some("absent".into()));
    };
    let fail = |s: String| Ok(Some(s));
    match op {
        "$eq" => {
            return if deep_eq(actual, arg) {
                Ok(None)
            } else {
                fail(format!("not equal to {arg}"))
            }
        }
        "$ne" => {
            return if deep_eq(actual, arg) {
                fail(format!("equal to {arg}"))
            } else {
                Ok(None)
            }
        }
        "$gt" | "$gte" | "$lt" | "$lte" => {
            let (Some(a), Some(b)) = (actual.as_f64(), arg.as_f64()) else {
                return fail(format!("not numbers (want {arg})"));
            };
            let ok = match op {
                "$gt" => a > b,
                "$gte" => a >= b,
                "$lt" => a < b,
                _ => a <= b,
            };
            return if ok {
                Ok(None)
            } else {
                fail(format!("want {op} {arg}"))
            };
        }
        "$len" => {
            let len = match actual {
                Value::Array(a) => a.len(),
                Value::Object(o) => o.len(),
                Value::String(s) => s.chars().count(),
                _ => return fail("has no length".into()),
            };
            let want = arg
                .as_u64()
                .ok_or_else(|| format!("$len takes an integer, got {arg}"))?;
            return if len as u64 == want {
                Ok(None)
            } else {
                fail(format!("length {len}, want {want}"))
            };
        }
        "$regex" => {
            let pattern = arg
                .as_str()
                .ok_or_else(|| format!("$regex takes a string, got {arg}"))?;
            let re =
                regex::Regex::new(pattern).map_err(|e| format!("bad $regex {pattern:?}: {e}"))?;
            return match actual.as_str() {
                None => fail("not a string".into()),
                Some(s) if re.is_match(s) => Ok(None),
                Some(_) => fail(format!("does not match {pattern:?}")),
            };
        }
        _ => {}
    }
    let Some(items) = actual.as_array() else {
        return fail("not an array".into());
    };
    match op {
        "$contains" => {
            if items.iter().any(|x| deep_eq(x, arg)) {
                Ok(None)
            } else {
                fail(format!("lacks {arg}"))
            }
        }
        "$not_contains" => {
            if items.iter().any(|x| deep_eq(x, arg)) {
                fail(format!("has {arg}"))
            } else {
                Ok(None)
            }
        }
        "$subsequence" => {
            let wants = arg
                .as_array()
                .ok_or_else(|| format!("$subsequence takes an array, got {arg}"))?;
            let mut it = items.iter();
            for want in wants {
                if !it.any(|x| deep_eq(x, want)) {
                    return fail(format!("{want} missing or out of order in {arg}"));
                }
            }
            Ok(None)
        }
        "$increasing" => {
            let nums: Option<Vec<f64>> = items.iter().map(Value::as_f64).collect();
            let Some(nums) = nums else {
                return fail("not all numbers".into());
            };
            let increasing = nums.windows(2).all(|w| w[0] < w[1]);
            if increasing == arg.as_bool().unwrap_or(false) {
                Ok(None)
            } else {
                fail("not strictly increasing".into())
            }
        }
        "$unique" => {
            let dupes: Vec<&Value> = items
                .iter()
                .enumerate()
                .filter(|(i, x)| items[..*i].iter().any(|y| deep_eq(x, y)))
                .map(|(_, x)| x)
                .collect();
            if dupes.is_empty() || !arg.as_bool().unwrap_or(false) {
                Ok(None)
            } else {
                fail(format!("duplicates {dupes:?}"))
            }
        }
        "$each" => {
            for (i, x) in items.iter().enumerate() {
                if let Some(why) = mismatch(Some(x), arg)? {
                    return fail(format!("element {i}: {why}"));
                }
            }
            Ok(None)
        }
        _ => Err(format!("unknown matcher {op}")),
    }
}

fn check_expect(out: &Outcome, expect: Option<&Value>) -> Result<(), Fail> {
    let want_error = expect.and_then(|e| e.get("error"));
    let Some(want) = want_error else {
        let Outcome::Ok(value) = out else {
            return Err(format!("want success, got error {}", out.value()));
        };
        if let Some(ok) = expect.and_then(|e| e.get("ok")).and_then(Value::as_object) {
            for (path, matcher) in ok {
                if let Some(why) = mismatch(resolve_path(value, path), matcher)? {
                    let p = if path.is_empty() { "<outcome>" } else { path };
                    return Err(format!("{p}: {why}"));
                }
            }
        }
        return Ok(());
    };
    let Outcome::Err(got) = out else {
        return Err(format!(
            "want error {want}, got success {}",
            show(Some(out.value()))
        ));
    };
    if got["code"] != want["code"] {
        return Err(format!("want code {}, got error {got}", want["code"]));
    }
    if let Some(reason) = want.get("reason") {
        if &got["reason"] != reason {
            return Err(format!("want reason {reason}, got error {got}"));
        }
    }
    if let Some(message) = want.get("message") {
        if &got["message"] != message {
            return Err(format!("want message {message}, got {}", got["message"]));
        }
    }
    if let Some(meta) = want.get("metadata").and_then(Value::as_object) {
        for (k, v) in meta {
            if got["metadata"].get(k).and_then(Value::as_str) != Some(text_of(v).as_str()) {
                return Err(format!(
                    "want metadata {k}={:?}, got metadata {}",
                    text_of(v),
                    got["metadata"]
                ));
            }
        }
    }
    Ok(())
}

// -------------------------------------------------------------------------------------------
// Execution
// -------------------------------------------------------------------------------------------

struct Env {
    address: String,
    quota_address: String,
    token_alice: String,
    token_bob: String,
    vectors_dir: PathBuf,
}

impl Env {
    fn from_environ() -> Result<Env, String> {
        let names = [
            "TASKSTATE_ADDRESS",
            "TASKSTATE_QUOTA_ADDRESS",
            "TASKSTATE_TOKEN_ALICE",
            "TASKSTATE_TOKEN_BOB",
            "TASKSTATE_VECTORS_DIR",
        ];
        let missing: Vec<_> = names
            .iter()
            .filter(|n| std::env::var(n).map_or(true, |v| v.is_empty()))
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "conformance runner: missing environment variables {missing:?}"
            ));
        }
        let var = |n: &str| std::env::var(n).unwrap();
        Ok(Env {
            address: var("TASKSTATE_ADDRESS"),
            quota_address: var("TASKSTATE_QUOTA_ADDRESS"),
            token_alice: var("TASKSTATE_TOKEN_ALICE"),
            token_bob: var("TASKSTATE_TOKEN_BOB"),
            vectors_dir: PathBuf::from(var("TASKSTATE_VECTORS_DIR")),
        })
    }

    fn token(&self, owner: &str) -> Option<String> {
        match owner {
            "alice" => Some(self.token_alice.clone()),
            "bob" => Some(self.token_bob.clone()),
            "nobody" => Some(UNKNOWN_TOKEN.to_owned()),
            _ => None, // anonymous: no authorization metadata at all
        }
    }
}

struct ScenarioRun<'e> {
    env: &'e Env,
    address: String,
    saved: HashMap<String, Value>,
    clients: HashMap<String, Client>,
    background: HashMap<String, JoinHandle<Result<Outcome, Fail>>>,
    watches: HashMap<String, TaskStream>,
}

impl ScenarioRun<'_> {
    fn client(&mut self, owner: &str) -> Result<Client, Fail> {
        if let Some(c) = self.clients.get(owner) {
            return Ok(c.clone());
        }
        let options = ClientOptions {
            token: self.env.token(owner),
            default_timeout: Some(CALL_TIMEOUT),
            ..ClientOptions::default()
        };
        let c =
            Client::connect_lazy(&self.address, options).map_err(|e| format!("connect: {e}"))?;
        self.clients.insert(owner.to_owned(), c.clone());
        Ok(c)
    }

    async fn run_step(&mut self, step: &Value) -> Result<(), Fail> {
        let op = step["op"].as_str().unwrap_or_default().to_owned();
        let owner = step
            .get("as")
            .and_then(Value::as_str)
            .unwrap_or("alice")
            .to_owned();
        let args = substitute(step.get("args").unwrap_or(&json!({})), &self.saved, true)?;
        if let Some(handle) = step.get("async") {
            let handle = text_of(handle);
            if self.background.contains_key(&handle) {
                return Err(format!("handle {handle:?} already used"));
            }
            let client = self.client(&owner)?;
            let task = tokio::spawn(async move { call(&client, &op, &args).await });
            self.background.insert(handle, task);
            return Ok(());
        }
        let out = match op.as_str() {
            "watch_all_start" => self.watch_all_start(&owner, &args).await?,
            "watch_all_collect" => self.watch_all_collect(&args).await?,
            "await" => self.await_op(&args).await?,
            _ => {
                let client = self.client(&owner)?;
                tokio::time::timeout(OP_TIMEOUT, call(&client, &op, &args))
                    .await
                    .map_err(|_| format!("timeout: {op} still running after {OP_TIMEOUT:?}"))??
            }
        };
        let expect = match step.get("expect") {
            Some(e) => Some(substitute(e, &self.saved, false)?),
            None => None,
        };
        check_expect(&out, expect.as_ref())?;
        if let Some(save) = step.get("save").and_then(Value::as_object) {
            for (name, path) in save {
                let path = path.as_str().unwrap_or_default();
                let value = resolve_path(out.value(), path).ok_or_else(|| {
                    format!(
                        "save {name}: path {path:?} is absent in {}",
                        show(Some(out.value()))
                    )
                })?;
                self.saved.insert(name.clone(), value.clone());
            }
        }
        Ok(())
    }

    async fn watch_all_start(&mut self, owner: &str, a: &Value) -> Result<Outcome, Fail> {
        let handle = text_of(&a["handle"]);
        if self.watches.contains_key(&handle) {
            return Err(format!("handle {handle:?} already used"));
        }
        let statuses = parse_statuses(a.get("statuses"))?;
        let client = self.client(owner)?;
        // watch_all returns once the server has sent the response headers.
        let options = WatchAllOptions::new().statuses(statuses);
        let started = tokio::time::timeout(STEP_TIMEOUT, client.watch_all(options))
            .await
            .map_err(|_| "timeout: WatchTasks sent no headers".to_owned())?;
        match started {
            Ok(stream) => {
                self.watches.insert(handle, stream);
                Ok(Outcome::Ok(json!({})))
            }
            Err(e) => outcome(Err::<(), _>(e), |_| Value::Null),
        }
    }

    async fn watch_all_collect(&mut self, a: &Value) -> Result<Outcome, Fail> {
        let handle = text_of(&a["handle"]);
        // Closed (dropped) when this returns, whatever happens.
        let mut stream = self
            .watches
            .remove(&handle)
            .ok_or_else(|| format!("no watch_all stream {handle:?}"))?;
        let wanted: HashSet<String> = a["task_ids"]
            .as_array()
            .ok_or("task_ids must be an array")?
            .iter()
            .map(text_of)
            .collect();
        let until = a["until"]
            .as_object()
            .ok_or("until must be an object")?
            .clone();
        let mut events = Vec::new();
        let collect = async {
            loop {
                match stream.next().await {
                    None => return Err(format!("stream ended before an event matching {until:?}")),
                    Some(Err(e)) => return Err(format!("stream failed: {e}")),
                    Some(Ok(task)) => {
                        if !wanted.contains(&task.task_id) {
                            continue;
                        }
                        let event = json!({
                            "task_id": task.task_id,
                            "version": task.version,
                            "status": task.status.as_str(),
                        });
                        let matched = until
                            .iter()
                            .all(|(k, v)| event.get(k).is_some_and(|x| deep_eq(x, v)));
                        events.push(event);
                        if matched {
                            return Ok(());
                        }
                    }
                }
            }
        };
        match tokio::time::timeout(STEP_TIMEOUT, collect).await {
            Ok(Ok(())) => Ok(Outcome::Ok(json!({ "events": events }))),
            Ok(Err(why)) => Err(why),
            Err(_) => Err(format!(
                "timeout: no event matching {until:?} in {events:?}"
            )),
        }
    }

    async fn await_op(&mut self, a: &Value) -> Result<Outcome, Fail> {
        let handle = text_of(&a["handle"]);
        let task = self
            .background
            .get_mut(&handle)
            .ok_or_else(|| format!("no async op {handle:?}"))?;
        let out = tokio::time::timeout(STEP_TIMEOUT, task)
            .await
            .map_err(|_| format!("timeout: async op {handle:?} still running"))?
            .map_err(|e| format!("async op {handle:?} panicked: {e}"))?;
        self.background.remove(&handle);
        out
    }

    fn close(&mut self) {
        for (_, task) in self.background.drain() {
            task.abort();
        }
        self.watches.clear();
        self.clients.clear();
    }
}

/// Runs one op (everything but the watch_all ops and await) with the idiomatic client.
async fn call(c: &Client, op: &str, a: &Value) -> Result<Outcome, Fail> {
    let id = || {
        a["task_id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| "task_id must be a string".to_owned())
    };
    let expected = || -> Result<Option<u64>, Fail> {
        match a.get("expected_version") {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| format!("bad expected_version {v}")),
        }
    };
    match op {
        "create" => {
            let mut new = NewTask::new();
            if let Some(v) = a.get("ttl") {
                new = new.ttl(parse_duration(v)?);
            }
            if let Some(v) = a.get("poll_interval") {
                new = new.poll_interval(parse_duration(v)?);
            }
            if let Some(v) = a.get("request_method") {
                new = new.request_method(v.as_str().ok_or("request_method must be a string")?);
            }
            if let Some(v) = a.get("variables") {
                new = new.variables(object(v, "variables")?);
            }
            if let Some(v) = a.get("request_id") {
                new = new.request_id(v.as_str().ok_or("request_id must be a string")?);
            }
            task_outcome(c.create(new).await)
        }
        "get" => task_outcome(c.get(&id()?).await),
        "list" => {
            let options = ListOptions {
                page_size: int_arg(a, "page_size")?,
                page_token: a.get("page_token").map_or(Ok(String::new()), |v| {
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or("page_token must be a string")
                })?,
                statuses: parse_statuses(a.get("statuses"))?,
                ..ListOptions::default()
            };
            outcome(c.list(options).await, |page| {
                let tasks: Vec<Value> = page.tasks.iter().map(task_view).collect();
                let ids: Vec<&str> = page.tasks.iter().map(|t| t.task_id.as_str()).collect();
                json!({"tasks": tasks, "task_ids": ids, "next_page_token": page.next_page_token})
            })
        }
        "list_all" => {
            let page_size = int_arg(a, "page_size")?;
            let statuses = parse_statuses(a.get("statuses"))?;
            let (mut ids, mut sts, mut lens) = (Vec::new(), Vec::new(), Vec::new());
            let mut token = String::new();
            for _ in 0..MAX_PAGES {
                let options = ListOptions {
                    page_size,
                    page_token: token,
                    statuses: statuses.clone(),
                    ..ListOptions::default()
                };
                let page = match c.list(options).await {
                    Ok(p) => p,
                    Err(e) => return outcome(Err::<(), _>(e), |_| Value::Null),
                };
                ids.extend(page.tasks.iter().map(|t| json!(t.task_id)));
                sts.extend(page.tasks.iter().map(|t| json!(t.status.as_str())));
                lens.push(json!(page.tasks.len()));
                token = page.next_page_token;
                if token.is_empty() {
                    return Ok(Outcome::Ok(
                        json!({"task_ids": ids, "statuses": sts, "page_lens": lens}),
                    ));
                }
            }
            Err(format!(
                "list_all: still a next_page_token after {MAX_PAGES} pages"
            ))
        }
        "update_status" => {
            let status = parse_status(&a["status"])?;
            let message = str_arg(a, "message")?;
            task_outcome(c.update_status(&id()?, status, &message, expected()?).await)
        }
        "set_variables" => {
            let vars = object(&a["variables"], "variables")?;
            task_outcome(c.set_variables(&id()?, vars, expected()?).await)
        }
        "put_if_version" => {
            let expected_version = a["expected_version"]
                .as_u64()
                .ok_or("bad expected_version")?;
            let spec = a["task"].as_object().ok_or("task must be an object")?;
            if let Some(mask) = a.get("update_mask") {
                return raw_put_if_version(c, &id()?, expected_version, spec, mask).await;
            }
            let mut values = Task::default();
            let mut fields = Vec::new();
            for (key, v) in spec {
                match key.as_str() {
                    "status" => {
                        values.status = parse_status(v)?;
                        fields.push(TaskField::Status);
                    }
                    "status_message" => {
                        values.status_message = v
                            .as_str()
                            .ok_or("status_message must be a string")?
                            .to_owned();
                        fields.push(TaskField::StatusMessage);
                    }
                    "variables" => {
                        values.variables = object(v, "variables")?;
                        fields.push(TaskField::Variables);
                    }
                    "result" => {
                        values.result = Some(v.clone());
                        fields.push(TaskField::Result);
                    }
                    "error" => {
                        values.error = Some(task_error(v)?);
                        fields.push(TaskField::Error);
                    }
                    "ttl" => {
                        values.ttl = Some(parse_duration(v)?);
                        fields.push(TaskField::Ttl);
                    }
                    "poll_interval" => {
                        values.poll_interval = Some(parse_duration(v)?);
                        fields.push(TaskField::PollInterval);
                    }
                    other => return Err(format!("put_if_version: unknown task field {other}")),
                }
            }
            task_outcome(
                c.put_if_version(&id()?, expected_version, &values, &fields)
                    .await,
            )
        }
        "complete" => {
            let status = a
                .get("status")
                .map_or(Ok(TaskStatus::Completed), parse_status)?;
            let has_error = a.get("error").is_some();
            let mut completion = match (status, has_error) {
                (TaskStatus::Completed, false) => Completion::completed_empty(),
                (TaskStatus::Failed, true) => Completion::failed(task_error(&a["error"])?),
                _ => return raw_complete(c, &id()?, status, a).await,
            };
            completion.message = str_arg(a, "message")?;
            if let Some(r) = a.get("result") {
                completion = completion.result(r.clone());
            }
            if let Some(v) = a.get("variables") {
                completion = completion.variables(object(v, "variables")?);
            }
            completion.expected_version = expected()?;
            task_outcome(c.complete(&id()?, completion).await)
        }
        "cancel" => task_outcome(c.cancel(&id()?, &str_arg(a, "message")?).await),
        "delete" => outcome(c.delete(&id()?).await, |()| json!({})),
        "wait" => {
            let timeout = parse_duration(&a["timeout"])?;
            let statuses = parse_statuses(a.get("statuses"))?;
            task_outcome(c.wait(&id()?, Some(timeout), &statuses).await)
        }
        "update" => {
            let task_id = id()?;
            let parallel = a
                .get("parallel")
                .map_or(Some(1), Value::as_u64)
                .ok_or("bad parallel")?
                .max(1);
            let f = UpdateFn::parse(&a["fn"])?;
            let mut handles = Vec::new();
            for _ in 0..parallel {
                let (c, f, task_id) = (c.clone(), f.clone(), task_id.clone());
                handles.push(tokio::spawn(async move {
                    c.try_update(&task_id, |t: &mut Task| f.apply(&mut t.variables))
                        .await
                }));
            }
            let mut best: Option<Task> = None;
            let mut first_error = None;
            for h in handles {
                match h.await.map_err(|e| format!("update panicked: {e}"))? {
                    Ok(t) => {
                        if best.as_ref().is_none_or(|b| t.version > b.version) {
                            best = Some(t);
                        }
                    }
                    Err(UpdateError::Fn(why)) => return Err(why),
                    Err(UpdateError::Client(e)) => {
                        first_error.get_or_insert(e);
                    }
                }
            }
            match first_error {
                Some(e) => task_outcome(Err(e)),
                None => task_outcome(Ok(best.expect("at least one update"))),
            }
        }
        "watch" => {
            let after = a
                .get("after_version")
                .map_or(Some(0), Value::as_u64)
                .ok_or("bad after_version")?;
            let mut stream = c.watch(&id()?, after);
            let mut tasks = Vec::new();
            let mut out = Map::new();
            out.insert("end".into(), json!("OK"));
            while let Some(item) = stream.next().await {
                match item {
                    Ok(t) => tasks.push(task_view(&t)),
                    Err(e) if e.origin() == ErrorOrigin::Server => {
                        out.insert("end".into(), json!(e.code_name()));
                        if let Some(r) = e.reason() {
                            out.insert("end_reason".into(), json!(r));
                        }
                    }
                    Err(e) => return Err(format!("watch: client-side error: {e}")),
                }
            }
            out.insert(
                "versions".into(),
                tasks.iter().map(|t| t["version"].clone()).collect(),
            );
            out.insert(
                "statuses".into(),
                tasks.iter().map(|t| t["status"].clone()).collect(),
            );
            out.insert("tasks".into(), Value::Array(tasks));
            Ok(Outcome::Ok(Value::Object(out)))
        }
        other => Err(format!("unknown op {other:?}")),
    }
}

fn object(v: &Value, what: &str) -> Result<Variables, Fail> {
    v.as_object()
        .cloned()
        .ok_or_else(|| format!("{what} must be an object"))
}

fn str_arg(a: &Value, key: &str) -> Result<String, Fail> {
    match a.get(key) {
        None => Ok(String::new()),
        Some(v) => v
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("{key} must be a string")),
    }
}

fn int_arg(a: &Value, key: &str) -> Result<i32, Fail> {
    match a.get(key) {
        None => Ok(0),
        Some(v) => v
            .as_i64()
            .and_then(|n| i32::try_from(n).ok())
            .ok_or_else(|| format!("bad {key} {v}")),
    }
}

fn task_error(v: &Value) -> Result<TaskError, Fail> {
    let o = v.as_object().ok_or("error must be an object")?;
    let code = o
        .get("code")
        .map_or(Some(0), Value::as_i64)
        .ok_or("error.code must be an integer")?;
    let message = o
        .get("message")
        .map_or(Some(""), Value::as_str)
        .ok_or("error.message must be a string")?;
    Ok(TaskError {
        code: i32::try_from(code).map_err(|_| "error.code out of range")?,
        message: message.to_owned(),
        data: o.get("data").cloned(),
    })
}

#[derive(Clone)]
enum UpdateFn {
    Increment(String, f64),
    Merge(Map<String, Value>),
}

enum UpdateError {
    Client(Error),
    Fn(Fail),
}

impl From<Error> for UpdateError {
    fn from(e: Error) -> Self {
        UpdateError::Client(e)
    }
}

impl UpdateFn {
    fn parse(spec: &Value) -> Result<UpdateFn, Fail> {
        if let Some(key) = spec.get("increment") {
            let key = key.as_str().ok_or("increment takes a key")?.to_owned();
            let by = spec
                .get("by")
                .map_or(Some(1.0), Value::as_f64)
                .ok_or("by must be a number")?;
            return Ok(UpdateFn::Increment(key, by));
        }
        match spec.get("merge").and_then(Value::as_object) {
            Some(m) => Ok(UpdateFn::Merge(m.clone())),
            None => Err(format!("bad update fn {spec}")),
        }
    }

    fn apply(&self, vars: &mut Variables) -> Result<(), UpdateError> {
        match self {
            UpdateFn::Increment(key, by) => {
                let current = match vars.get(key) {
                    None => 0.0,
                    Some(v) => v
                        .as_f64()
                        .ok_or_else(|| UpdateError::Fn(format!("{key} is not a number: {v}")))?,
                };
                let sum = current + by;
                let value = if sum.fract() == 0.0 && sum.abs() < 9.0e15 {
                    json!(sum as i64)
                } else {
                    json!(sum)
                };
                vars.insert(key.clone(), value);
            }
            UpdateFn::Merge(m) => {
                for (k, v) in m {
                    if v.is_null() {
                        vars.remove(k);
                    } else {
                        vars.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        Ok(())
    }
}

// -- generated-stub fallback (README section 4) ---------------------------------------------

fn raw_request<T>(msg: T) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    req.set_timeout(CALL_TIMEOUT);
    req
}

fn pb_value(v: Value) -> Result<prost_types::Value, Fail> {
    json_to_value(v).map_err(|e| format!("a value the client refuses: {e}"))
}

fn pb_error(v: &Value) -> Result<proto::TaskError, Fail> {
    let e = task_error(v)?;
    Ok(proto::TaskError {
        code: e.code,
        message: e.message,
        data: e.data.map(pb_value).transpose()?,
    })
}

fn pb_variables(v: Option<&Value>) -> Result<HashMap<String, prost_types::Value>, Fail> {
    match v {
        None => Ok(HashMap::new()),
        Some(v) => object(v, "variables")?
            .into_iter()
            .map(|(k, x)| Ok((k, pb_value(x)?)))
            .collect(),
    }
}

fn pb_duration(v: &Value) -> Result<prost_types::Duration, Fail> {
    let d = parse_duration(v)?;
    Ok(prost_types::Duration {
        seconds: d.as_secs() as i64,
        nanos: d.subsec_nanos() as i32,
    })
}

async fn raw_put_if_version(
    c: &Client,
    task_id: &str,
    expected_version: u64,
    spec: &Map<String, Value>,
    mask: &Value,
) -> Result<Outcome, Fail> {
    let paths: Vec<String> = mask
        .as_array()
        .ok_or("update_mask must be an array")?
        .iter()
        .map(|p| {
            p.as_str()
                .map(str::to_owned)
                .ok_or("update_mask entries must be strings")
        })
        .collect::<Result<_, _>>()?;
    let mut task = proto::Task::default();
    if let Some(s) = spec.get("status") {
        task.status = parse_status(s)? as i32;
    }
    if let Some(s) = spec.get("status_message") {
        task.status_message = s
            .as_str()
            .ok_or("status_message must be a string")?
            .to_owned();
    }
    task.variables = pb_variables(spec.get("variables"))?;
    task.result = spec.get("result").cloned().map(pb_value).transpose()?;
    task.error = spec.get("error").map(pb_error).transpose()?;
    task.ttl = spec.get("ttl").map(pb_duration).transpose()?;
    task.poll_interval = spec.get("poll_interval").map(pb_duration).transpose()?;
    let req = proto::PutIfVersionRequest {
        task_id: task_id.to_owned(),
        expected_version,
        task: Some(task),
        update_mask: Some(prost_types::FieldMask { paths }),
    };
    let r = c
        .raw()
        .put_if_version(raw_request(req))
        .await
        .map_err(Error::from);
    raw_task_outcome(r.map(|resp| resp.into_inner().task))
}

async fn raw_complete(
    c: &Client,
    task_id: &str,
    status: TaskStatus,
    a: &Value,
) -> Result<Outcome, Fail> {
    let expected_version = match a.get("expected_version") {
        None => None,
        Some(v) => Some(v.as_u64().ok_or("bad expected_version")?),
    };
    let req = proto::CompleteTaskRequest {
        task_id: task_id.to_owned(),
        status: status as i32,
        status_message: str_arg(a, "message")?,
        result: a.get("result").cloned().map(pb_value).transpose()?,
        error: a.get("error").map(pb_error).transpose()?,
        variables: pb_variables(a.get("variables"))?,
        expected_version,
    };
    let r = c
        .raw()
        .complete_task(raw_request(req))
        .await
        .map_err(Error::from);
    raw_task_outcome(r.map(|resp| resp.into_inner().task))
}

fn raw_task_outcome(r: Result<Option<proto::Task>, Error>) -> Result<Outcome, Fail> {
    match r {
        Ok(Some(t)) => Ok(Outcome::Ok(task_view(&Task::from_proto(t)))),
        Ok(None) => Err("the response carries no task".into()),
        Err(e) => outcome(Err::<(), _>(e), |_| Value::Null),
    }
}

// -------------------------------------------------------------------------------------------
// Main
// -------------------------------------------------------------------------------------------

fn unique_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    format!("{:016x}", h.finish())
}

async fn run_scenario(env: &Env, doc: &Value) -> Result<(), Fail> {
    let address = if doc.get("server").and_then(Value::as_str) == Some("quota") {
        env.quota_address.clone()
    } else {
        env.address.clone()
    };
    let mut run = ScenarioRun {
        env,
        address,
        saved: HashMap::new(),
        clients: HashMap::new(),
        background: HashMap::new(),
        watches: HashMap::new(),
    };
    run.saved.insert("$unique".into(), json!(unique_token()));
    let mut result = Ok(());
    for (i, step) in doc["steps"].as_array().into_iter().flatten().enumerate() {
        if let Err(why) = run.run_step(step).await {
            result = Err(format!(
                "step {i} ({}): {why}",
                step["op"].as_str().unwrap_or("?")
            ));
            break;
        }
    }
    run.close();
    result
}

fn scenario_files(dir: &Path, selected: &[String]) -> Result<Vec<PathBuf>, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter(|p| {
            selected.is_empty()
                || selected.iter().any(|s| {
                    p.file_name().is_some_and(|n| n == s.as_str())
                        || p.file_stem().is_some_and(|n| n == s.as_str())
                })
        })
        .collect();
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(files)
}

#[tokio::main]
async fn main() {
    let env = match Env::from_environ() {
        Ok(env) => env,
        Err(why) => {
            eprintln!("{why}");
            std::process::exit(2);
        }
    };
    let selected: Vec<String> = std::env::args().skip(1).collect();
    let files = match scenario_files(&env.vectors_dir, &selected) {
        Ok(f) => f,
        Err(why) => {
            eprintln!("{why}");
            std::process::exit(2);
        }
    };
    let (mut passed, mut failed) = (0, 0);
    for path in files {
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut name = stem.clone();
        let result = async {
            let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read: {e}"))?;
            let doc: Value =
                serde_json::from_str(&text).map_err(|e| format!("invalid JSON: {e}"))?;
            if let Some(n) = doc.get("name").and_then(Value::as_str) {
                name = n.to_owned();
            }
            let problems = validate_scenario(&doc, &stem);
            if !problems.is_empty() {
                return Err(format!("malformed vector: {}", problems.join("; ")));
            }
            run_scenario(&env, &doc).await
        }
        .await;
        match result {
            Ok(()) => {
                passed += 1;
                println!("PASS {name}");
            }
            Err(why) => {
                failed += 1;
                println!(
                    "FAIL {name}: {}",
                    why.split_whitespace().collect::<Vec<_>>().join(" ")
                );
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    std::process::exit(if failed == 0 && passed > 0 { 0 } else { 1 });
}
