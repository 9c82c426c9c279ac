package dev.taskstate;

import com.google.protobuf.FieldMask;
import dev.taskstate.v1.PutIfVersionRequest;
import java.time.Duration;
import java.util.Map;

/**
 * The fields a compare-and-swap write ({@code putIfVersion}, {@code update}) sets: exactly those
 * given, nothing else. {@code variables} replaces the whole map; {@code ttl} renews the expiry.
 *
 * <pre>{@code
 * TaskUpdate.create().status(Status.INPUT_REQUIRED).statusMessage("need a file")
 * }</pre>
 */
public final class TaskUpdate {
  private final dev.taskstate.v1.Task.Builder task = dev.taskstate.v1.Task.newBuilder();
  private final FieldMask.Builder mask = FieldMask.newBuilder();

  /** An empty update (writing it is refused by the server: name at least one field). */
  public static TaskUpdate create() {
    return new TaskUpdate();
  }

  /** Sets the status. */
  public TaskUpdate status(Status s) {
    task.setStatus(s.toProto());
    return field("status");
  }

  /** Sets the status message ("" clears it). */
  public TaskUpdate statusMessage(String m) {
    task.setStatusMessage(m);
    return field("status_message");
  }

  /** Replaces the variables with {@code vars}. */
  public TaskUpdate variables(Map<String, ?> vars) {
    task.clearVariables().putAllVariables(Values.toValues(vars, "task.variables"));
    return field("variables");
  }

  /** Sets the result (any JSON value; null is a JSON null). */
  public TaskUpdate result(Object result) {
    task.setResult(Values.toValue(result, "task.result"));
    return field("result");
  }

  /** Sets the error (null clears it). */
  public TaskUpdate error(TaskError e) {
    if (e == null) {
      task.clearError();
    } else {
      task.setError(e.toProto("task.error"));
    }
    return field("error");
  }

  /** Sets the time to live, renewing the expiry to now + ttl (null removes it). */
  public TaskUpdate ttl(Duration ttl) {
    if (ttl == null) {
      task.clearTtl();
    } else {
      task.setTtl(Task.toProto(ttl));
    }
    return field("ttl");
  }

  /** Sets the suggested poll interval (null clears it). */
  public TaskUpdate pollInterval(Duration d) {
    if (d == null) {
      task.clearPollInterval();
    } else {
      task.setPollInterval(Task.toProto(d));
    }
    return field("poll_interval");
  }

  /** Whether no field is set. */
  public boolean isEmpty() {
    return mask.getPathsCount() == 0;
  }

  private TaskUpdate field(String path) {
    if (!mask.getPathsList().contains(path)) {
      mask.addPaths(path);
    }
    return this;
  }

  PutIfVersionRequest toRequest(String taskId, long expectedVersion, Long fencingToken) {
    PutIfVersionRequest.Builder b =
        PutIfVersionRequest.newBuilder()
            .setTaskId(taskId)
            .setExpectedVersion(expectedVersion)
            .setTask(task)
            .setUpdateMask(mask);
    if (fencingToken != null) {
      b.setFencingToken(fencingToken);
    }
    return b.build();
  }
}
