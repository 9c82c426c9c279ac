package dev.taskstate;

import dev.taskstate.v1.CompleteTaskRequest;
import dev.taskstate.v1.TaskStatus;
import java.util.Map;

/**
 * A terminal write of {@code complete}: {@link #completed()} (with an optional result) or {@link
 * #failed(TaskError)}, plus an optional status message, variables merged in the same write and an
 * expected version and a fencing token.
 */
public final class Completion {
  private final CompleteTaskRequest.Builder req = CompleteTaskRequest.newBuilder();

  private Completion(TaskStatus status) {
    req.setStatus(status);
  }

  /** Completes the task. */
  public static Completion completed() {
    return new Completion(TaskStatus.TASK_STATUS_COMPLETED);
  }

  /** Fails the task with {@code error}. */
  public static Completion failed(TaskError error) {
    Completion c = new Completion(TaskStatus.TASK_STATUS_FAILED);
    c.req.setError(error.toProto("error"));
    return c;
  }

  /** The outcome (any JSON value; null is a JSON null). */
  public Completion result(Object result) {
    req.setResult(Values.toValue(result, "result"));
    return this;
  }

  /** The final status message. */
  public Completion message(String m) {
    req.setStatusMessage(m);
    return this;
  }

  /** Variables merged in the same write (a null value deletes the key). */
  public Completion variables(Map<String, ?> vars) {
    req.putAllVariables(Values.toValues(vars, "variables"));
    return this;
  }

  /** The write happens only if the stored version is this one. */
  public Completion expectedVersion(long v) {
    req.setExpectedVersion(v);
    return this;
  }

  /** The write happens only while the lease of this fencing token is the task's live lease. */
  public Completion fencingToken(long token) {
    req.setFencingToken(token);
    return this;
  }

  /** A copy of this completion with the fencing token {@code token}. */
  Completion fenced(long token) {
    Completion c = new Completion(req.getStatus());
    c.req.mergeFrom(req.build()).setFencingToken(token);
    return c;
  }

  CompleteTaskRequest toRequest(String taskId) {
    return req.clone().setTaskId(taskId).build();
  }
}
