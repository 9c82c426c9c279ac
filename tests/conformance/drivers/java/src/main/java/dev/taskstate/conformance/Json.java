package dev.taskstate.conformance;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import dev.taskstate.LeasePolicy;
import dev.taskstate.Status;
import dev.taskstate.Task;
import dev.taskstate.TaskError;
import dev.taskstate.TaskEvent;
import dev.taskstate.TaskLease;
import dev.taskstate.View;
import dev.taskstate.WriteOptions;
import java.math.BigDecimal;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** JSON on both sides of the driver: request args in, task views out. */
final class Json {
  private Json() {}

  /** A request the driver cannot serve (unknown op or arg, wrong type): a `failure` answer. */
  static final class Failure extends RuntimeException {
    private static final long serialVersionUID = 1L;

    Failure(String message) {
      super(message);
    }
  }

  /** The args of one request, refusing keys the op does not know. */
  record Args(JsonObject o) {
    Args(JsonObject o, String op, Set<String> known) {
      this(o);
      for (String k : o.keySet()) {
        if (!known.contains(k)) {
          throw new Failure(op + ": unknown arg '" + k + "'");
        }
      }
    }

    boolean has(String k) {
      return o.has(k);
    }

    String str(String k) {
      JsonElement e = o.get(k);
      if (e == null || !e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
        throw new Failure("arg '" + k + "': want a string");
      }
      return e.getAsString();
    }

    long lng(String k) {
      JsonElement e = o.get(k);
      if (e == null || !e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
        throw new Failure("arg '" + k + "': want an integer");
      }
      return e.getAsLong();
    }

    boolean bool(String k) {
      JsonElement e = o.get(k);
      if (e == null || !e.isJsonPrimitive() || !e.getAsJsonPrimitive().isBoolean()) {
        throw new Failure("arg '" + k + "': want a boolean");
      }
      return e.getAsBoolean();
    }

    Duration millis(String k) {
      return Duration.ofMillis(lng(k));
    }

    Object value(String k) {
      return java(o.get(k));
    }

    @SuppressWarnings("unchecked")
    Map<String, Object> map(String k) {
      if (!(value(k) instanceof Map<?, ?> m)) {
        throw new Failure("arg '" + k + "': want an object");
      }
      return (Map<String, Object>) m;
    }

    Args sub(String k, Set<String> known) {
      JsonElement e = o.get(k);
      if (e == null || !e.isJsonObject()) {
        throw new Failure("arg '" + k + "': want an object");
      }
      return new Args(e.getAsJsonObject(), k, known);
    }

    Status[] statuses(String k) {
      if (!has(k)) {
        return new Status[0];
      }
      List<Status> out = new ArrayList<>();
      for (JsonElement e : o.getAsJsonArray(k)) {
        out.add(status(e.getAsString()));
      }
      return out.toArray(new Status[0]);
    }

    View view(String k) {
      if (!has(k)) {
        return null;
      }
      return switch (str(k)) {
        case "basic" -> View.BASIC;
        case "full" -> View.FULL;
        default -> throw new Failure("arg '" + k + "': want basic or full");
      };
    }

    LeasePolicy leasePolicy(String k) {
      return switch (str(k)) {
        case "fail" -> LeasePolicy.FAIL;
        case "release" -> LeasePolicy.RELEASE;
        default -> throw new Failure("arg '" + k + "': want fail or release");
      };
    }

    /** The optional expected_version and fencing_token args as the client's write options. */
    WriteOptions writeOptions() {
      WriteOptions w = new WriteOptions();
      if (has("expected_version")) w.expectedVersion(lng("expected_version"));
      if (has("fencing_token")) w.fencingToken(lng("fencing_token"));
      return w;
    }

    /** An optional duration arg in milliseconds, or null. */
    Duration optMillis(String k) {
      return has(k) ? millis(k) : null;
    }

    TaskError taskError(String k) {
      Args e = sub(k, Set.of("code", "message", "data"));
      int code = (int) e.lng("code");
      String message = e.has("message") ? e.str("message") : "";
      return e.has("data") ? TaskError.of(code, message, e.value("data")) : TaskError.of(code, message);
    }
  }

  static Status status(String s) {
    try {
      return Status.parse(s);
    } catch (IllegalArgumentException e) {
      throw new Failure(e.getMessage());
    }
  }

  /** JSON to a plain Java value: integers as Long (BigDecimal beyond), others as Double. */
  static Object java(JsonElement e) {
    if (e == null || e.isJsonNull()) {
      return null;
    }
    if (e.isJsonObject()) {
      Map<String, Object> m = new LinkedHashMap<>();
      e.getAsJsonObject().entrySet().forEach(en -> m.put(en.getKey(), java(en.getValue())));
      return m;
    }
    if (e.isJsonArray()) {
      List<Object> l = new ArrayList<>();
      e.getAsJsonArray().forEach(x -> l.add(java(x)));
      return l;
    }
    JsonPrimitive p = e.getAsJsonPrimitive();
    if (p.isBoolean()) {
      return p.getAsBoolean();
    }
    if (p.isString()) {
      return p.getAsString();
    }
    BigDecimal n = p.getAsBigDecimal();
    if (n.signum() == 0 || n.stripTrailingZeros().scale() <= 0) {
      try {
        return n.longValueExact();
      } catch (ArithmeticException tooBig) {
        return n; // the client refuses it (not representable)
      }
    }
    return n.doubleValue();
  }

  /** A plain Java value (as the client returns it) to JSON. */
  static JsonElement json(Object v) {
    if (v == null) {
      return JsonNull.INSTANCE;
    }
    if (v instanceof Map<?, ?> m) {
      JsonObject o = new JsonObject();
      m.forEach((k, x) -> o.add((String) k, json(x)));
      return o;
    }
    if (v instanceof List<?> l) {
      JsonArray a = new JsonArray();
      l.forEach(x -> a.add(json(x)));
      return a;
    }
    if (v instanceof Boolean b) {
      return new JsonPrimitive(b);
    }
    if (v instanceof Number n) {
      return new JsonPrimitive(n);
    }
    return new JsonPrimitive(v.toString());
  }

  /** The canonical task view of the protocol. */
  static JsonObject view(Task t) {
    JsonObject o = new JsonObject();
    o.addProperty("task_id", t.id());
    o.addProperty("status", t.status().toString());
    o.addProperty("status_message", t.statusMessage());
    o.addProperty("request_method", t.requestMethod());
    o.addProperty("version", t.version());
    o.add("variables", json(t.variables()));
    if (t.hasResult()) {
      o.add("result", json(t.result()));
    }
    if (t.error() != null) {
      JsonObject e = new JsonObject();
      e.addProperty("code", t.error().code());
      e.addProperty("message", t.error().message());
      if (t.error().hasData()) {
        e.add("data", json(t.error().data()));
      }
      o.add("error", e);
    }
    if (t.ttl() != null) {
      o.addProperty("ttl_ms", t.ttl().toMillis());
    }
    if (t.pollInterval() != null) {
      o.addProperty("poll_interval_ms", t.pollInterval().toMillis());
    }
    o.addProperty("create_time_ms", t.createTime().toEpochMilli());
    o.addProperty("update_time_ms", t.updateTime().toEpochMilli());
    if (t.expireTime() != null) {
      o.addProperty("expire_time_ms", t.expireTime().toEpochMilli());
    }
    TaskLease l = t.lease();
    if (l != null) {
      JsonObject lease = new JsonObject();
      lease.addProperty("worker_id", l.workerId());
      lease.addProperty("fencing_token", l.fencingToken());
      lease.addProperty("expire_time_ms", l.expireTime().toEpochMilli());
      lease.addProperty("duration_ms", l.duration().toMillis());
      o.add("lease", lease);
    }
    if (t.leasePolicy() != null) {
      o.addProperty("lease_policy", t.leasePolicy().toString());
    }
    o.addProperty("max_attempts", t.maxAttempts());
    o.addProperty("attempt", t.attempt());
    o.addProperty("subject", t.subject());
    o.add("input_requests", json(t.inputRequests()));
    o.add("input_responses", json(t.inputResponses()));
    o.addProperty("cancel_requested", t.cancelRequested());
    return o;
  }

  /** The event answer of watch_all_next: the task only with a write. */
  static JsonObject event(TaskEvent e) {
    JsonObject o = new JsonObject();
    o.addProperty("kind", e.kind().toString());
    o.addProperty("task_id", e.taskId());
    o.addProperty("version", e.version());
    o.addProperty("resume_cursor", e.resumeCursor());
    if (e.kind() == TaskEvent.Kind.WRITE) {
      o.add("task", view(e.task()));
    }
    return o;
  }
}
