package dev.taskstate.conformance;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.protobuf.FieldMask;
import dev.taskstate.ClaimOptions;
import dev.taskstate.Completion;
import dev.taskstate.CreateOptions;
import dev.taskstate.EventStream;
import dev.taskstate.InputAccepted;
import dev.taskstate.Lease;
import dev.taskstate.ListOptions;
import dev.taskstate.Task;
import dev.taskstate.TaskError;
import dev.taskstate.TaskPage;
import dev.taskstate.TaskStateClient;
import dev.taskstate.TaskStateException;
import dev.taskstate.TaskUpdate;
import dev.taskstate.TaskWatch;
import dev.taskstate.Values;
import dev.taskstate.WatchOptions;
import dev.taskstate.WorkerOptions;
import dev.taskstate.WriteOptions;
import dev.taskstate.conformance.Json.Args;
import dev.taskstate.conformance.Json.Failure;
import dev.taskstate.v1.ClaimTaskRequest;
import dev.taskstate.v1.CompleteTaskRequest;
import dev.taskstate.v1.PutIfVersionRequest;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;
import java.io.BufferedReader;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * The Java conformance driver (tests/conformance/README.md, the driver protocol): reads one JSON
 * request per line, serves each on its own thread through the Java client, and writes one JSON
 * line per answer. No matching, no substitution: the Python engine does all of that.
 */
public final class Driver {
  private static final Gson GSON = new GsonBuilder().serializeNulls().disableHtmlEscaping().create();
  private static final Duration DEADLINE = Duration.ofSeconds(30);

  private final PrintStream out;
  private final Map<String, TaskStateClient> clients = new ConcurrentHashMap<>();
  private final Map<String, EventStream> streams = new ConcurrentHashMap<>();

  private Driver(PrintStream out) {
    this.out = out;
  }

  public static void main(String[] args) throws IOException {
    PrintStream stdout =
        new PrintStream(new FileOutputStream(FileDescriptor.out), false, StandardCharsets.UTF_8);
    System.setOut(System.err); // only answers go to stdout
    Driver d = new Driver(stdout);
    JsonObject hello = new JsonObject();
    hello.addProperty("hello", "java");
    d.send(hello);
    BufferedReader in =
        new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    for (String line = in.readLine(); line != null; line = in.readLine()) {
      if (!line.isBlank()) {
        String request = line;
        Thread t = new Thread(() -> d.serve(request), "request");
        t.setDaemon(true);
        t.start();
      }
    }
    System.exit(0); // stdin closed: abandon whatever still runs
  }

  private void send(JsonObject answer) {
    String line = GSON.toJson(answer);
    synchronized (out) {
      out.print(line + "\n");
      out.flush();
    }
  }

  private void serve(String line) {
    JsonObject req;
    try {
      req = JsonParser.parseString(line).getAsJsonObject();
    } catch (RuntimeException e) {
      System.err.println("java driver: unreadable request " + line + ": " + e);
      return;
    }
    JsonObject answer = new JsonObject();
    answer.add("id", req.get("id"));
    try {
      answer.add("ok", dispatch(req));
    } catch (TaskStateException e) {
      if (e.getCause() instanceof StatusRuntimeException
          || e.getCause() instanceof StatusException) {
        answer.add("error", errorView(e));
      } else {
        answer.addProperty("failure", "the client refused the request: " + e.getMessage());
      }
    } catch (RuntimeException e) {
      answer.addProperty("failure", e instanceof Failure ? e.getMessage() : e.toString());
    }
    send(answer);
  }

  private static JsonObject errorView(TaskStateException e) {
    JsonObject o = new JsonObject();
    o.addProperty("code", e.code().name());
    o.addProperty("reason", e.reason());
    o.addProperty("message", e.statusMessage());
    o.add("metadata", GSON.toJsonTree(e.metadata()));
    return o;
  }

  /** One client per (address, token); with a subject, one withSubject view of it per subject. */
  private TaskStateClient client(JsonObject target) {
    String address = target.get("address").getAsString();
    JsonElement tok = target.get("token");
    String token = tok == null || tok.isJsonNull() ? null : tok.getAsString();
    String key = address + "\n" + token;
    TaskStateClient base =
        clients.computeIfAbsent(
            key,
            k ->
                TaskStateClient.builder()
                    .address(address)
                    .tls(false)
                    .token(token)
                    .defaultTimeout(DEADLINE)
                    .build());
    if (!target.has("subject")) {
      return base;
    }
    String subject = target.get("subject").getAsString();
    return clients.computeIfAbsent(key + "\n" + subject, k -> base.withSubject(subject));
  }

  private JsonElement dispatch(JsonObject req) {
    String op = req.get("op").getAsString();
    JsonObject raw = req.has("args") ? req.getAsJsonObject("args") : new JsonObject();
    if (op.startsWith("watch_all_") && !op.equals("watch_all_open")) {
      return watchAll(op, new Args(raw, op, Set.of("stream")).str("stream"));
    }
    TaskStateClient c = client(req.getAsJsonObject("target"));
    switch (op) {
      case "create": {
        Args a = new Args(raw, op, Set.of("ttl_ms", "poll_interval_ms", "request_method", "variables", "request_id",
            "lease_policy", "max_attempts"));
        CreateOptions o = new CreateOptions();
        if (a.has("ttl_ms")) o.ttl(a.millis("ttl_ms"));
        if (a.has("poll_interval_ms")) o.pollInterval(a.millis("poll_interval_ms"));
        if (a.has("request_method")) o.requestMethod(a.str("request_method"));
        if (a.has("variables")) o.variables(a.map("variables"));
        if (a.has("request_id")) o.requestId(a.str("request_id"));
        if (a.has("lease_policy")) o.leasePolicy(a.leasePolicy("lease_policy"));
        if (a.has("max_attempts")) o.maxAttempts((int) a.lng("max_attempts"));
        return Json.view(c.create(o));
      }
      case "get":
        return Json.view(c.get(new Args(raw, op, Set.of("task_id")).str("task_id")));
      case "list": {
        Args a = new Args(raw, op, Set.of("page_size", "page_token", "statuses", "view"));
        ListOptions o = new ListOptions().statuses(a.statuses("statuses"));
        if (a.has("page_size")) o.pageSize((int) a.lng("page_size"));
        if (a.has("page_token")) o.pageToken(a.str("page_token"));
        if (a.has("view")) o.view(a.view("view"));
        TaskPage page = c.list(o);
        JsonObject r = new JsonObject();
        JsonArray tasks = new JsonArray();
        page.tasks().forEach(t -> tasks.add(Json.view(t)));
        r.add("tasks", tasks);
        r.addProperty("next_page_token", page.nextPageToken());
        r.addProperty("resume_cursor", page.resumeCursor());
        return r;
      }
      case "update_status": {
        Args a = new Args(raw, op,
            Set.of("task_id", "status", "message", "expected_version", "fencing_token", "input_requests"));
        String msg = a.has("message") ? a.str("message") : "";
        Map<String, Object> requests = a.has("input_requests") ? a.map("input_requests") : null;
        return Json.view(
            c.updateStatus(a.str("task_id"), Json.status(a.str("status")), msg, requests, a.writeOptions()));
      }
      case "provide_input": {
        Args a = new Args(raw, op, Set.of("task_id", "input_responses"));
        InputAccepted accepted = c.provideInput(a.str("task_id"), a.map("input_responses"));
        JsonObject r = new JsonObject();
        r.add("task", Json.view(accepted.task()));
        JsonArray keys = new JsonArray();
        accepted.acceptedKeys().forEach(keys::add);
        r.add("accepted_keys", keys);
        return r;
      }
      case "request_cancel":
        return Json.view(c.requestCancel(new Args(raw, op, Set.of("task_id")).str("task_id")));
      case "set_variables": {
        Args a = new Args(raw, op, Set.of("task_id", "variables", "expected_version", "fencing_token"));
        return Json.view(c.setVariables(a.str("task_id"), a.map("variables"), a.writeOptions()));
      }
      case "put_if_version":
        return putIfVersion(c, new Args(raw, op, Set.of("task_id", "expected_version", "task", "update_mask", "fencing_token")));
      case "complete":
        return complete(c, new Args(raw, op, Set.of("task_id", "status", "message", "result", "error", "variables", "expected_version", "fencing_token")));
      case "cancel": {
        Args a = new Args(raw, op, Set.of("task_id", "message"));
        return Json.view(c.cancel(a.str("task_id"), a.has("message") ? a.str("message") : ""));
      }
      case "delete":
        c.delete(new Args(raw, op, Set.of("task_id")).str("task_id"));
        return new JsonObject();
      case "wait": {
        Args a = new Args(raw, op, Set.of("task_id", "timeout_ms", "statuses"));
        Duration timeout = a.has("timeout_ms") ? a.millis("timeout_ms") : null;
        return Json.view(c.waitFor(a.str("task_id"), timeout, a.statuses("statuses")));
      }
      case "update": {
        Args a = new Args(raw, op, Set.of("task_id", "fn"));
        return Json.view(c.update(a.str("task_id"), updateFn(a.sub("fn", Set.of("increment", "by", "merge")))));
      }
      case "watch":
        return watch(c, new Args(raw, op, Set.of("task_id", "after_version")));
      case "watch_all_open": {
        Args a = new Args(raw, op, Set.of("stream", "statuses", "view", "resume_cursor", "all_events"));
        WatchOptions o = new WatchOptions().statuses(a.statuses("statuses"));
        if (a.has("view")) o.view(a.view("view"));
        if (a.has("resume_cursor")) o.resumeCursor(a.str("resume_cursor"));
        if (a.has("all_events")) o.allEvents(a.bool("all_events"));
        EventStream s = c.watchEvents(o);
        EventStream old = streams.put(a.str("stream"), s);
        if (old != null) old.close();
        return new JsonObject();
      }
      case "claim":
        return claim(c, new Args(raw, op, Set.of("worker_id", "task_id", "lease_ms", "request_method", "wait_ms")));
      case "renew_lease": {
        Args a = new Args(raw, op, Set.of("task_id", "fencing_token", "lease_ms", "message"));
        String msg = a.has("message") ? a.str("message") : null;
        return Json.view(c.renewLease(a.str("task_id"), a.lng("fencing_token"), a.optMillis("lease_ms"), msg));
      }
      case "worker_run":
        return workerRun(c, new Args(raw, op,
            Set.of("worker_id", "request_method", "lease_ms", "wait_ms", "variables", "result")));
      default:
        throw new Failure("unknown op '" + op + "'");
    }
  }

  /** The `fn` of `update`: increment a number variable, or merge keys (null deletes). */
  private static Function<Task, TaskUpdate> updateFn(Args fn) {
    if (fn.has("increment") == fn.has("merge")) {
      throw new Failure("fn: want exactly one of increment, merge");
    }
    if (fn.has("merge")) {
      Map<String, Object> merge = fn.map("merge");
      return t -> {
        Map<String, Object> vars = new LinkedHashMap<>(t.variables());
        merge.forEach((k, v) -> { if (v == null) vars.remove(k); else vars.put(k, v); });
        return TaskUpdate.create().variables(vars);
      };
    }
    String key = fn.str("increment");
    Object by = fn.has("by") ? fn.value("by") : 1L;
    if (!(by instanceof Number)) throw new Failure("fn.by: want a number");
    return t -> {
      Map<String, Object> vars = new LinkedHashMap<>(t.variables());
      Object cur = vars.getOrDefault(key, 0L);
      if (!(cur instanceof Number n)) throw new Failure("variable " + key + " is not a number");
      boolean integers = n instanceof Long && by instanceof Long;
      vars.put(key, integers ? (Long) n + (Long) by : n.doubleValue() + ((Number) by).doubleValue());
      return TaskUpdate.create().variables(vars);
    };
  }

  private static final Set<String> TASK_FIELDS =
      Set.of("status", "status_message", "variables", "result", "error", "ttl_ms", "poll_interval_ms");

  private static JsonElement putIfVersion(TaskStateClient c, Args a) {
    String id = a.str("task_id");
    long expected = a.lng("expected_version");
    Args t = a.sub("task", TASK_FIELDS);
    if (!a.has("update_mask")) {
      TaskUpdate u = TaskUpdate.create();
      if (t.has("status")) u.status(Json.status(t.str("status")));
      if (t.has("status_message")) u.statusMessage(t.str("status_message"));
      if (t.has("variables")) u.variables(t.map("variables"));
      if (t.has("result")) u.result(t.value("result"));
      if (t.has("error")) u.error(t.value("error") == null ? null : t.taskError("error"));
      if (t.has("ttl_ms")) u.ttl(t.millis("ttl_ms"));
      if (t.has("poll_interval_ms")) u.pollInterval(t.millis("poll_interval_ms"));
      WriteOptions w = new WriteOptions();
      if (a.has("fencing_token")) w.fencingToken(a.lng("fencing_token"));
      return Json.view(c.putIfVersion(id, expected, u, w));
    }
    // An explicit mask (may be empty or name unknown fields): the generated stub.
    dev.taskstate.v1.Task.Builder task = dev.taskstate.v1.Task.newBuilder();
    if (t.has("status")) task.setStatus(Json.status(t.str("status")).toProto());
    if (t.has("status_message")) task.setStatusMessage(t.str("status_message"));
    if (t.has("variables")) task.putAllVariables(Values.toValues(t.map("variables"), "task.variables"));
    if (t.has("result")) task.setResult(Values.toValue(t.value("result"), "task.result"));
    if (t.has("error") && t.value("error") != null) task.setError(errorProto(t.taskError("error")));
    if (t.has("ttl_ms")) task.setTtl(duration(t.millis("ttl_ms")));
    if (t.has("poll_interval_ms")) task.setPollInterval(duration(t.millis("poll_interval_ms")));
    FieldMask.Builder mask = FieldMask.newBuilder();
    a.o().getAsJsonArray("update_mask").forEach(p -> mask.addPaths(p.getAsString()));
    PutIfVersionRequest.Builder b = PutIfVersionRequest.newBuilder()
        .setTaskId(id).setExpectedVersion(expected).setTask(task).setUpdateMask(mask);
    if (a.has("fencing_token")) b.setFencingToken(a.lng("fencing_token"));
    PutIfVersionRequest req = b.build();
    return Json.view(Task.fromProto(stub(c, s -> s.putIfVersion(req).getTask())));
  }

  private static JsonElement complete(TaskStateClient c, Args a) {
    String id = a.str("task_id");
    String status = a.has("status") ? a.str("status") : "completed";
    // completed without an error, failed with one: the client's complete (Completion.failed = fail).
    if (status.equals("completed") && !a.has("error") || status.equals("failed") && a.has("error")) {
      Completion done = a.has("error") ? Completion.failed(a.taskError("error")) : Completion.completed();
      if (a.has("result")) done.result(a.value("result"));
      if (a.has("message")) done.message(a.str("message"));
      if (a.has("variables")) done.variables(a.map("variables"));
      if (a.has("expected_version")) done.expectedVersion(a.lng("expected_version"));
      if (a.has("fencing_token")) done.fencingToken(a.lng("fencing_token"));
      return Json.view(c.complete(id, done));
    }
    // A combination the client cannot express on purpose: the generated stub.
    CompleteTaskRequest.Builder b = CompleteTaskRequest.newBuilder()
        .setTaskId(id).setStatus(Json.status(status).toProto());
    if (a.has("message")) b.setStatusMessage(a.str("message"));
    if (a.has("result")) b.setResult(Values.toValue(a.value("result"), "result"));
    if (a.has("error")) b.setError(errorProto(a.taskError("error")));
    if (a.has("variables")) b.putAllVariables(Values.toValues(a.map("variables"), "variables"));
    if (a.has("expected_version")) b.setExpectedVersion(a.lng("expected_version"));
    if (a.has("fencing_token")) b.setFencingToken(a.lng("fencing_token"));
    return Json.view(Task.fromProto(stub(c, s -> s.completeTask(b.build()).getTask())));
  }

  /** By id through the plain claim; without one through claimNext (the options it takes). */
  private static JsonElement claim(TaskStateClient c, Args a) {
    String worker = a.str("worker_id");
    Duration lease = a.optMillis("lease_ms");
    if (a.has("task_id") && !a.has("request_method") && !a.has("wait_ms")) {
      JsonObject r = new JsonObject();
      r.add("task", Json.view(c.claim(a.str("task_id"), worker, lease)));
      return r;
    }
    if (a.has("task_id")) {
      ClaimTaskRequest.Builder b = ClaimTaskRequest.newBuilder()
          .setTaskId(a.str("task_id")).setWorkerId(worker);
      if (lease != null) b.setLeaseDuration(duration(lease));
      if (a.has("request_method")) b.setRequestMethod(a.str("request_method"));
      if (a.has("wait_ms")) b.setWaitTimeout(duration(a.millis("wait_ms")));
      dev.taskstate.v1.ClaimTaskResponse resp = stub(c, s -> s.claimTask(b.build()));
      return claimed(resp.hasTask() ? Optional.of(Task.fromProto(resp.getTask())) : Optional.empty());
    }
    ClaimOptions.Builder o = ClaimOptions.builder().lease(lease).waitUpTo(a.optMillis("wait_ms"));
    if (a.has("request_method")) o.requestMethod(a.str("request_method"));
    return claimed(c.claimNext(worker, o.build()));
  }

  private static JsonObject claimed(Optional<Task> t) {
    JsonObject r = new JsonObject();
    t.ifPresent(task -> r.add("task", Json.view(task)));
    return r;
  }

  /** Claim next through the worker helper, set the variables and complete through the lease. */
  private static JsonElement workerRun(TaskStateClient c, Args a) {
    WorkerOptions.Builder wo = WorkerOptions.builder().workerId(a.str("worker_id"));
    if (a.has("lease_ms")) wo.lease(a.millis("lease_ms"));
    ClaimOptions.Builder o = ClaimOptions.builder().waitUpTo(a.optMillis("wait_ms"));
    if (a.has("request_method")) o.requestMethod(a.str("request_method"));
    Map<String, Object> variables = a.has("variables") ? a.map("variables") : null;
    Completion done = Completion.completed();
    if (a.has("result")) done.result(a.value("result"));
    Optional<Lease> claimed = c.worker(wo.build()).claimNext(o.build());
    JsonObject r = new JsonObject();
    if (claimed.isEmpty()) {
      return r;
    }
    try (Lease lease = claimed.get()) {
      r.add("claimed", Json.view(lease.task()));
      if (variables != null) lease.setVariables(variables);
      r.add("task", Json.view(lease.complete(done)));
    }
    return r;
  }

  private static dev.taskstate.v1.TaskError errorProto(TaskError e) {
    dev.taskstate.v1.TaskError.Builder b =
        dev.taskstate.v1.TaskError.newBuilder().setCode(e.code()).setMessage(e.message());
    if (e.hasData()) b.setData(Values.toValue(e.data(), "error.data"));
    return b.build();
  }

  private static com.google.protobuf.Duration duration(Duration d) {
    return com.google.protobuf.Duration.newBuilder().setSeconds(d.getSeconds()).setNanos(d.getNano()).build();
  }

  /** One call of the generated stub, with the client's token and the 30 s deadline. */
  private static <T> T stub(
      TaskStateClient c, Function<dev.taskstate.v1.TaskServiceGrpc.TaskServiceBlockingStub, T> call) {
    try {
      return call.apply(c.stub().withDeadlineAfter(DEADLINE.toMillis(), TimeUnit.MILLISECONDS));
    } catch (StatusRuntimeException e) {
      throw TaskStateException.from(e);
    }
  }

  private static JsonElement watch(TaskStateClient c, Args a) {
    JsonObject r = new JsonObject();
    JsonArray tasks = new JsonArray();
    r.add("tasks", tasks);
    r.addProperty("end", "OK");
    long after = a.has("after_version") ? a.lng("after_version") : 0;
    try (TaskWatch w = c.watch(a.str("task_id"), after)) {
      w.forEach(t -> tasks.add(Json.view(t)));
    } catch (TaskStateException e) {
      end(r, e);
    }
    return r;
  }

  private static void end(JsonObject r, TaskStateException e) {
    r.addProperty("end", e.code().name());
    if (e.reason() != null) r.addProperty("end_reason", e.reason());
  }

  private JsonElement watchAll(String op, String name) {
    EventStream s = streams.get(name);
    if (op.equals("watch_all_close")) {
      if (s != null) {
        streams.remove(name, s);
        s.close();
      }
      return new JsonObject();
    }
    if (!op.equals("watch_all_next")) throw new Failure("unknown op '" + op + "'");
    if (s == null) throw new Failure("watch_all_next: unknown stream '" + name + "'");
    JsonObject r = new JsonObject();
    synchronized (s) {
      try {
        if (s.hasNext()) {
          return Json.event(s.next());
        }
        r.addProperty("end", "OK");
      } catch (TaskStateException e) {
        if (streams.get(name) == s) {
          end(r, e);
        } else {
          r.addProperty("end", "OK"); // closed by watch_all_close while reading
        }
      }
    }
    return r;
  }
}
