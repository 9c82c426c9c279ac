//! Conversions between the generated protobuf types and the friendly ones.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prost_types::value::Kind;
use prost_types::{ListValue, NullValue, Struct};
use serde_json::{Map, Number, Value};

use tonic::Code;

use crate::error::Error;
use crate::proto;
use crate::types::{EventKind, Task, TaskError, TaskEvent, TaskLease, Variables};

/// The largest integer a `google.protobuf.Value` number (an IEEE double) carries exactly,
/// 2^53-1 (JavaScript's `Number.MAX_SAFE_INTEGER`); integers beyond ±this are refused.
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// The reason of the client's error for a number a `google.protobuf.Value` cannot carry: the
/// name of [`proto::ErrorReason::ValueNotRepresentable`] (a constant, which
/// the generated `as_str_name` is not; a test keeps the two equal).
pub const VALUE_NOT_REPRESENTABLE: &str = "VALUE_NOT_REPRESENTABLE";

/// Where a value sits in a request (`variables.count`, `result.items[2]`), kept as a chain of
/// borrowed segments so a path is only rendered when a value is refused.
pub(crate) enum Path<'a> {
    /// A top-level name such as `variables`, `result` or `error.data`.
    Root(&'a str),
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl Path<'_> {
    fn render(&self, out: &mut String) {
        match self {
            Path::Root(name) => out.push_str(name),
            Path::Key(parent, key) => {
                parent.render(out);
                let plain = !key.is_empty()
                    && key
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                if plain {
                    out.push('.');
                    out.push_str(key);
                } else {
                    // Keys with dots, spaces or brackets are quoted so the path stays unambiguous.
                    out.push('[');
                    out.push_str(&Value::from(*key).to_string());
                    out.push(']');
                }
            }
            Path::Index(parent, i) => {
                parent.render(out);
                out.push_str(&format!("[{i}]"));
            }
        }
    }

    fn refuse(&self, what: &str) -> Error {
        let mut path = String::new();
        self.render(&mut path);
        let description = format!(
            "{what}: a JSON number here is an IEEE double, which holds integers exactly only \
             within ±(2^53-1) = ±{MAX_SAFE_INTEGER} and has no NaN or Infinity in JSON; \
             send such a value as a string"
        );
        Error::client(Code::InvalidArgument, format!("{path}: {description}"))
            .with_reason(proto::ErrorReason::ValueNotRepresentable)
            .with_field_violation(&path, &description)
    }
}

/// Converts JSON to a `google.protobuf.Value`.
///
/// Numbers become doubles (the only number type of `google.protobuf.Value`). An integer outside
/// ±(2^53-1) ([`MAX_SAFE_INTEGER`]), which a double would silently turn into another number, is
/// refused, as is a number that is not finite: the error has code `INVALID_ARGUMENT`, reason
/// [`VALUE_NOT_REPRESENTABLE`] and the path of the value (here rooted at `value`).
pub fn json_to_value(v: Value) -> Result<prost_types::Value, Error> {
    json_to_value_at(v, &Path::Root("value"))
}

pub(crate) fn json_to_value_at(v: Value, path: &Path<'_>) -> Result<prost_types::Value, Error> {
    let kind = match v {
        Value::Null => Kind::NullValue(NullValue::NullValue as i32),
        Value::Bool(b) => Kind::BoolValue(b),
        Value::Number(n) => Kind::NumberValue(number_to_double(&n, path)?),
        Value::String(s) => Kind::StringValue(s),
        Value::Array(items) => {
            let mut values = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                values.push(json_to_value_at(item, &Path::Index(path, i))?);
            }
            Kind::ListValue(ListValue { values })
        }
        Value::Object(map) => Kind::StructValue(Struct {
            fields: map_to_proto(map, path)?,
        }),
    };
    Ok(prost_types::Value { kind: Some(kind) })
}

fn map_to_proto<M>(map: Map<String, Value>, path: &Path<'_>) -> Result<M, Error>
where
    M: Default + Extend<(String, prost_types::Value)>,
{
    let mut fields = M::default();
    for (k, v) in map {
        let value = json_to_value_at(v, &Path::Key(path, &k))?;
        fields.extend([(k, value)]);
    }
    Ok(fields)
}

/// The double a JSON number becomes, if it is exactly that number.
fn number_to_double(n: &Number, path: &Path<'_>) -> Result<f64, Error> {
    const SAFE: u64 = MAX_SAFE_INTEGER as u64;
    if let Some(i) = n.as_i64() {
        if i.unsigned_abs() <= SAFE {
            return Ok(i as f64);
        }
        return Err(path.refuse(&format!("the integer {i} is out of range")));
    }
    if let Some(u) = n.as_u64() {
        // Only values above i64::MAX get here.
        return Err(path.refuse(&format!("the integer {u} is out of range")));
    }
    // A float (finite by construction without serde_json's `arbitrary_precision`); with that
    // feature a huge integer or an overflowing literal such as 1e400 lands here as non-float.
    match n.as_f64() {
        Some(f) if n.is_f64() => finite_double(f, path),
        _ => Err(path.refuse(&format!("the number {n} is not representable"))),
    }
}

/// Refuses NaN and ±Infinity, which JSON cannot express.
pub(crate) fn finite_double(f: f64, path: &Path<'_>) -> Result<f64, Error> {
    if f.is_finite() {
        Ok(f)
    } else {
        Err(path.refuse(&format!("{f} is not a finite number")))
    }
}

/// Converts a `google.protobuf.Value` to JSON.
///
/// Integral doubles within ±(2^53-1) become JSON integers (so `as_i64()` works on counters);
/// other numbers stay floats; NaN and infinities (not representable in JSON) become `null`, as
/// does a `Value` with no kind set.
pub fn value_to_json(v: prost_types::Value) -> Value {
    match v.kind {
        None | Some(Kind::NullValue(_)) => Value::Null,
        Some(Kind::BoolValue(b)) => Value::Bool(b),
        Some(Kind::NumberValue(f)) => number_to_json(f),
        Some(Kind::StringValue(s)) => Value::String(s),
        Some(Kind::ListValue(l)) => Value::Array(l.values.into_iter().map(value_to_json).collect()),
        Some(Kind::StructValue(s)) => Value::Object(struct_to_map(s.fields)),
    }
}

fn number_to_json(f: f64) -> Value {
    if f.is_finite() && f.fract() == 0.0 && f.abs() <= MAX_SAFE_INTEGER as f64 {
        // Exact: |f| <= 2^53-1 fits an i64 without rounding.
        Value::Number(Number::from(f as i64))
    } else {
        Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}

fn struct_to_map(fields: BTreeMap<String, prost_types::Value>) -> Map<String, Value> {
    fields
        .into_iter()
        .map(|(k, v)| (k, value_to_json(v)))
        .collect()
}

pub(crate) fn variables_to_proto(
    vars: Variables,
) -> Result<HashMap<String, prost_types::Value>, Error> {
    map_to_proto(vars, &Path::Root("variables"))
}

pub(crate) fn variables_from_proto(vars: HashMap<String, prost_types::Value>) -> Variables {
    // serde_json's Map keeps keys sorted (BTreeMap), so the order is deterministic.
    vars.into_iter()
        .map(|(k, v)| (k, value_to_json(v)))
        .collect()
}

pub(crate) fn duration_to_proto(d: Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        nanos: d.subsec_nanos() as i32,
    }
}

pub(crate) fn duration_from_proto(d: prost_types::Duration) -> Duration {
    if d.seconds < 0 || d.nanos < 0 {
        return Duration::ZERO;
    }
    Duration::new(d.seconds as u64, d.nanos as u32)
}

pub(crate) fn time_from_proto(t: prost_types::Timestamp) -> SystemTime {
    let nanos = Duration::from_nanos(u64::try_from(t.nanos.max(0)).unwrap_or(0));
    if t.seconds >= 0 {
        UNIX_EPOCH + Duration::from_secs(t.seconds as u64) + nanos
    } else {
        UNIX_EPOCH - Duration::from_secs(t.seconds.unsigned_abs()) + nanos
    }
}

pub(crate) fn time_to_proto(t: SystemTime) -> prost_types::Timestamp {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => prost_types::Timestamp {
            seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            nanos: d.subsec_nanos() as i32,
        },
        Err(e) => {
            let d = e.duration();
            let mut seconds = -i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            let mut nanos = d.subsec_nanos() as i32;
            if nanos > 0 {
                seconds -= 1;
                nanos = 1_000_000_000 - nanos;
            }
            prost_types::Timestamp { seconds, nanos }
        }
    }
}

pub(crate) fn status_from_i32(v: i32) -> proto::TaskStatus {
    proto::TaskStatus::try_from(v).unwrap_or(proto::TaskStatus::Unspecified)
}

impl TaskError {
    pub(crate) fn from_proto(e: proto::TaskError) -> Self {
        TaskError {
            code: e.code,
            message: e.message,
            data: e.data.map(value_to_json),
        }
    }

    pub(crate) fn to_proto(&self) -> Result<proto::TaskError, Error> {
        Ok(proto::TaskError {
            code: self.code,
            message: self.message.clone(),
            data: optional_value(self.data.clone(), "error.data")?,
        })
    }
}

impl Task {
    /// Converts a generated `Task` message into the friendly type.
    pub fn from_proto(t: proto::Task) -> Self {
        Task {
            status: status_from_i32(t.status),
            task_id: t.task_id,
            status_message: t.status_message,
            request_method: t.request_method,
            create_time: t.create_time.map(time_from_proto),
            update_time: t.update_time.map(time_from_proto),
            ttl: t.ttl.map(duration_from_proto),
            expire_time: t.expire_time.map(time_from_proto),
            poll_interval: t.poll_interval.map(duration_from_proto),
            variables: variables_from_proto(t.variables),
            result: t.result.map(value_to_json),
            error: t.error.map(TaskError::from_proto),
            version: t.version,
            lease: t.lease.map(|l| TaskLease {
                worker_id: l.worker_id,
                fencing_token: l.fencing_token,
                expire_time: l.expire_time.map(time_from_proto),
                duration: l.duration.map(duration_from_proto),
            }),
            lease_policy: proto::LeasePolicy::try_from(t.lease_policy).unwrap_or_default(),
            max_attempts: t.max_attempts,
            attempt: t.attempt,
            subject: t.subject,
            input_requests: variables_from_proto(t.input_requests),
            input_responses: variables_from_proto(t.input_responses),
            cancel_requested: t.cancel_requested,
        }
    }

    /// Converts the friendly type back into the generated `Task` message. Fails (code
    /// `INVALID_ARGUMENT`, reason [`VALUE_NOT_REPRESENTABLE`]) on a number a
    /// `google.protobuf.Value` cannot carry exactly (see [`json_to_value`]).
    pub fn to_proto(&self) -> Result<proto::Task, Error> {
        Ok(proto::Task {
            task_id: self.task_id.clone(),
            status: self.status as i32,
            status_message: self.status_message.clone(),
            request_method: self.request_method.clone(),
            create_time: self.create_time.map(time_to_proto),
            update_time: self.update_time.map(time_to_proto),
            ttl: self.ttl.map(duration_to_proto),
            expire_time: self.expire_time.map(time_to_proto),
            poll_interval: self.poll_interval.map(duration_to_proto),
            variables: variables_to_proto(self.variables.clone())?,
            result: optional_value(self.result.clone(), "result")?,
            error: self.error.as_ref().map(TaskError::to_proto).transpose()?,
            version: self.version,
            // The lease fields are the server's: no write sets them from a Task.
            ..Default::default()
        })
    }
}

impl TaskEvent {
    /// Converts a WatchTasks message; `None` for a kind this client does not know. A message
    /// without a kind but with a task (a server before the feed) is a write.
    pub fn from_proto(msg: proto::WatchTasksResponse) -> Option<Self> {
        let task = msg.task.map(Task::from_proto);
        let kind = match proto::WatchEventKind::try_from(msg.kind) {
            Ok(proto::WatchEventKind::Write) => EventKind::Write,
            Ok(proto::WatchEventKind::Unspecified) if task.is_some() => EventKind::Write,
            Ok(proto::WatchEventKind::Deleted) => EventKind::Deleted,
            Ok(proto::WatchEventKind::Expired) => EventKind::Expired,
            Ok(proto::WatchEventKind::Progress) => EventKind::Progress,
            _ => return None,
        };
        let (task_id, version) = match &task {
            Some(t) if msg.task_id.is_empty() => (t.task_id.clone(), t.version),
            Some(t) => (msg.task_id, t.version),
            None => (msg.task_id, msg.version),
        };
        Some(TaskEvent {
            kind,
            task_id,
            version,
            resume_cursor: msg.resume_cursor,
            task,
        })
    }
}

/// Converts an optional JSON value found at `root` (`result`, `error.data`).
pub(crate) fn optional_value(
    v: Option<Value>,
    root: &str,
) -> Result<Option<prost_types::Value>, Error> {
    v.map(|v| json_to_value_at(v, &Path::Root(root)))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn round_trip(v: Value) -> Value {
        value_to_json(json_to_value(v).unwrap())
    }

    fn refused(v: Value) -> Error {
        variables_to_proto(json!({ "count": v }).as_object().unwrap().clone()).unwrap_err()
    }

    #[test]
    fn json_round_trip() {
        let v = json!({"a": [1, 2.5, "x", null, true], "b": {"c": -3}, "big": 1e300});
        assert_eq!(round_trip(v.clone()), v);
        assert!(round_trip(json!(7)).as_i64() == Some(7));
        assert_eq!(
            value_to_json(prost_types::Value { kind: None }),
            Value::Null
        );
    }

    #[test]
    fn safe_integers_pass_and_come_back_as_integers() {
        for n in [MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER, 0, -1] {
            let back = round_trip(json!(n));
            assert_eq!(back.as_i64(), Some(n), "{n}");
            assert!(back.is_i64() || back.is_u64(), "{n} came back as {back:?}");
        }
        // Integral doubles in range come back as integers; past 2^53-1 they stay doubles.
        assert_eq!(round_trip(json!(42.0)), json!(42));
        assert_eq!(round_trip(json!(-0.0)), json!(0));
        let two53 = value_to_json(prost_types::Value {
            kind: Some(Kind::NumberValue(9_007_199_254_740_992.0)),
        });
        assert!(two53.is_f64(), "{two53:?}");
        // Floats of any magnitude are doubles already: nothing to refuse.
        assert_eq!(round_trip(json!(1e300)), json!(1e300));
        assert_eq!(
            round_trip(json!(9_007_199_254_740_993.0)),
            json!(9_007_199_254_740_992.0)
        );
    }

    #[test]
    fn unsafe_integers_are_refused_with_their_path() {
        for n in [
            json!(MAX_SAFE_INTEGER + 1),
            json!(MAX_SAFE_INTEGER + 2),
            json!(-MAX_SAFE_INTEGER - 1),
            json!(i64::MAX),
            json!(i64::MIN),
            json!(u64::MAX),
        ] {
            let e = refused(n.clone());
            assert_eq!(e.code(), Code::InvalidArgument, "{n}");
            assert_eq!(e.reason(), Some(VALUE_NOT_REPRESENTABLE), "{n}");
            assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument);
            assert_eq!(e.origin(), crate::ErrorOrigin::Client);
            assert_eq!(e.field_violations()[0].field, "variables.count", "{n}");
            assert!(
                e.message().starts_with("variables.count: the integer "),
                "{e}"
            );
            assert!(e.message().contains("2^53-1"), "{e}");
        }
    }

    #[test]
    fn paths_name_nested_values() {
        let v = json!({"items": [1, 2, {"deep": i64::MAX}]});
        let e = optional_value(Some(v), "result").unwrap_err();
        assert_eq!(e.field_violations()[0].field, "result.items[2].deep");
        assert_eq!(e.metadata()["path"], "result.items[2].deep");
        let v = json!({"a.b": [u64::MAX]});
        let e = optional_value(Some(v), "error.data").unwrap_err();
        assert_eq!(e.field_violations()[0].field, r#"error.data["a.b"][0]"#);
        let e = json_to_value(json!([0, 9_007_199_254_740_993_u64])).unwrap_err();
        assert_eq!(e.field_violations()[0].field, "value[1]");
    }

    #[test]
    fn non_finite_numbers_are_refused() {
        // serde_json::Value cannot hold them (json!(f64::NAN) is null); a double that reaches
        // the conversion another way is refused the same.
        for f in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let e = finite_double(f, &Path::Root("variables.ratio")).unwrap_err();
            assert_eq!(e.reason(), Some(VALUE_NOT_REPRESENTABLE));
            assert_eq!(e.field_violations()[0].field, "variables.ratio");
        }
        assert_eq!(finite_double(0.5, &Path::Root("x")).unwrap(), 0.5);
    }

    #[test]
    fn task_to_proto_checks_every_json_field() {
        let mut t = Task {
            result: Some(json!({"n": i64::MAX})),
            ..Task::default()
        };
        assert_eq!(
            t.to_proto().unwrap_err().field_violations()[0].field,
            "result.n"
        );
        t.result = None;
        t.error = Some(TaskError::new(1, "x").with_data(json!([u64::MAX])));
        assert_eq!(
            t.to_proto().unwrap_err().field_violations()[0].field,
            "error.data[0]"
        );
    }

    #[test]
    fn watch_messages_become_events() {
        use proto::{WatchEventKind, WatchTasksResponse};
        let task = proto::Task {
            task_id: "t".into(),
            version: 4,
            lease_policy: proto::LeasePolicy::Release as i32,
            lease: Some(proto::Lease {
                worker_id: "w".into(),
                fencing_token: 2,
                expire_time: None,
                duration: Some(duration_to_proto(Duration::from_secs(3))),
            }),
            ..Default::default()
        };
        let write = TaskEvent::from_proto(WatchTasksResponse {
            task: Some(task.clone()),
            kind: WatchEventKind::Write as i32,
            task_id: String::new(),
            resume_cursor: "c1".into(),
            version: 0,
        })
        .unwrap();
        assert_eq!(
            (write.kind, write.task_id.as_str(), write.version),
            (EventKind::Write, "t", 4)
        );
        let t = write.task.unwrap();
        assert_eq!(t.lease_policy, proto::LeasePolicy::Release);
        let lease = t.lease.unwrap();
        assert_eq!(
            (lease.fencing_token, lease.duration),
            (2, Some(Duration::from_secs(3)))
        );
        // A server before the feed sends writes without a kind.
        let legacy = WatchTasksResponse {
            task: Some(task),
            ..Default::default()
        };
        assert_eq!(
            TaskEvent::from_proto(legacy).unwrap().kind,
            EventKind::Write
        );
        let deleted = TaskEvent::from_proto(WatchTasksResponse {
            kind: WatchEventKind::Deleted as i32,
            task_id: "t".into(),
            version: 5,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            (deleted.kind, deleted.version, deleted.task.is_none()),
            (EventKind::Deleted, 5, true)
        );
        let unknown = WatchTasksResponse {
            kind: 99,
            ..Default::default()
        };
        assert!(TaskEvent::from_proto(unknown).is_none());
    }

    #[test]
    fn time_round_trip() {
        for t in [
            prost_types::Timestamp {
                seconds: 1_700_000_000,
                nanos: 123_000_000,
            },
            prost_types::Timestamp {
                seconds: -5,
                nanos: 250_000_000,
            },
        ] {
            assert_eq!(time_to_proto(time_from_proto(t)), t);
        }
    }
}
