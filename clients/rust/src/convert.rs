//! Conversions between the generated protobuf types and the friendly ones.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prost_types::value::Kind;
use prost_types::{ListValue, NullValue, Struct};
use serde_json::{Map, Number, Value};

use crate::proto;
use crate::types::{Task, TaskError, Variables};

/// Largest integer a double holds exactly (2^53).
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_992.0;

/// Converts JSON to a `google.protobuf.Value`.
///
/// Numbers become doubles (the only number type of `google.protobuf.Value`), so integers
/// beyond 2^53 lose precision.
pub fn json_to_value(v: Value) -> prost_types::Value {
    let kind = match v {
        Value::Null => Kind::NullValue(NullValue::NullValue as i32),
        Value::Bool(b) => Kind::BoolValue(b),
        Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => Kind::StringValue(s),
        Value::Array(items) => Kind::ListValue(ListValue {
            values: items.into_iter().map(json_to_value).collect(),
        }),
        Value::Object(map) => Kind::StructValue(Struct {
            fields: map
                .into_iter()
                .map(|(k, v)| (k, json_to_value(v)))
                .collect(),
        }),
    };
    prost_types::Value { kind: Some(kind) }
}

/// Converts a `google.protobuf.Value` to JSON.
///
/// Whole numbers within ±2^53 become JSON integers (so `as_i64()` works on counters); other
/// numbers stay floats; NaN and infinities (not representable in JSON) become `null`, as does a
/// `Value` with no kind set.
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
    if f.is_finite() && f.fract() == 0.0 && f.abs() <= MAX_SAFE_INTEGER {
        // Exact: |f| <= 2^53 fits an i64 without rounding.
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

pub(crate) fn variables_to_proto(vars: Variables) -> HashMap<String, prost_types::Value> {
    vars.into_iter()
        .map(|(k, v)| (k, json_to_value(v)))
        .collect()
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

    pub(crate) fn to_proto(&self) -> proto::TaskError {
        proto::TaskError {
            code: self.code,
            message: self.message.clone(),
            data: self.data.clone().map(json_to_value),
        }
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
        }
    }

    /// Converts the friendly type back into the generated `Task` message.
    pub fn to_proto(&self) -> proto::Task {
        proto::Task {
            task_id: self.task_id.clone(),
            status: self.status as i32,
            status_message: self.status_message.clone(),
            request_method: self.request_method.clone(),
            create_time: self.create_time.map(time_to_proto),
            update_time: self.update_time.map(time_to_proto),
            ttl: self.ttl.map(duration_to_proto),
            expire_time: self.expire_time.map(time_to_proto),
            poll_interval: self.poll_interval.map(duration_to_proto),
            variables: variables_to_proto(self.variables.clone()),
            result: self.result.clone().map(json_to_value),
            error: self.error.as_ref().map(TaskError::to_proto),
            version: self.version,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_round_trip() {
        let v = json!({"a": [1, 2.5, "x", null, true], "b": {"c": -3}, "big": 1e300});
        assert_eq!(value_to_json(json_to_value(v.clone())), v);
        assert!(value_to_json(json_to_value(json!(7))).as_i64() == Some(7));
        assert_eq!(
            value_to_json(prost_types::Value { kind: None }),
            Value::Null
        );
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
