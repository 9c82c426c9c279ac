package dev.taskstate;

import com.google.protobuf.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

/**
 * One version of a task, in Java types (immutable). JSON values are plain Java objects (see {@link
 * Values}); times are {@link Instant}s and durations {@link Duration}s, null when unset.
 */
public final class Task {
  private final dev.taskstate.v1.Task proto;
  private final Map<String, Object> variables;
  private final Object result;
  private final TaskError error;
  private final Map<String, Object> inputRequests;
  private final Map<String, Object> inputResponses;

  private Task(dev.taskstate.v1.Task proto) {
    this.proto = proto;
    this.variables = Values.fromValues(proto.getVariablesMap());
    this.inputRequests = Values.fromValues(proto.getInputRequestsMap());
    this.inputResponses = Values.fromValues(proto.getInputResponsesMap());
    this.result = proto.hasResult() ? Values.fromValue(proto.getResult()) : null;
    this.error = proto.hasError() ? TaskError.fromProto(proto.getError()) : null;
  }

  /** Converts the generated message. */
  public static Task fromProto(dev.taskstate.v1.Task proto) {
    return new Task(proto);
  }

  /** The generated message this task was read from. */
  public dev.taskstate.v1.Task toProto() {
    return proto;
  }

  /** The server-generated id (a UUIDv7). */
  public String id() {
    return proto.getTaskId();
  }

  /** The status. */
  public Status status() {
    return Status.fromProto(proto.getStatus());
  }

  /** Whether the task is completed, failed or cancelled (and so frozen). */
  public boolean isTerminal() {
    return status().isTerminal();
  }

  /** Free text describing the status ("" when none). */
  public String statusMessage() {
    return proto.getStatusMessage();
  }

  /** What started the task, e.g. {@code tools/call} ("" when none). */
  public String requestMethod() {
    return proto.getRequestMethod();
  }

  /** 1 at creation, +1 on every committed write. */
  public long version() {
    return proto.getVersion();
  }

  /** The shared variables (unmodifiable; empty with {@link View#BASIC}). */
  public Map<String, Object> variables() {
    return variables;
  }

  /** Whether a result is set (it may be a JSON null). */
  public boolean hasResult() {
    return proto.hasResult();
  }

  /** The result, or null when unset or JSON null (see {@link #hasResult()}). */
  public Object result() {
    return result;
  }

  /** Why the task failed, or null. */
  public TaskError error() {
    return error;
  }

  /** When the task was created. */
  public Instant createTime() {
    return instant(proto.getCreateTime());
  }

  /** When the last committed write happened. */
  public Instant updateTime() {
    return instant(proto.getUpdateTime());
  }

  /** The time to live, or null when the task never expires. */
  public Duration ttl() {
    return proto.hasTtl() ? duration(proto.getTtl()) : null;
  }

  /** When the task stops existing, or null when it never expires. */
  public Instant expireTime() {
    return proto.hasExpireTime() ? instant(proto.getExpireTime()) : null;
  }

  /** The suggested interval between polls, or null when unset. */
  public Duration pollInterval() {
    return proto.hasPollInterval() ? duration(proto.getPollInterval()) : null;
  }

  /** The lease a worker holds on the task, or null while nobody holds one. */
  public TaskLease lease() {
    return proto.hasLease() ? TaskLease.fromProto(proto.getLease()) : null;
  }

  /** What happens when a lease ends without renewal, or null when the task has no policy. */
  public LeasePolicy leasePolicy() {
    return LeasePolicy.fromProto(proto.getLeasePolicy());
  }

  /** The most attempts {@link LeasePolicy#RELEASE} allows; 0 with any other policy. */
  public int maxAttempts() {
    return proto.getMaxAttempts();
  }

  /** 1 at creation, +1 each time an expired lease released the task. */
  public int attempt() {
    return proto.getAttempt();
  }

  /** The end user the task belongs to ({@code withSubject} at its creation); "" when none. */
  public String subject() {
    return proto.getSubject();
  }

  /**
   * Requests the worker needs answered, by a key unique over the task's lifetime (unmodifiable;
   * empty with {@link View#BASIC}). See {@link #outstandingInput()}.
   */
  public Map<String, Object> inputRequests() {
    return inputRequests;
  }

  /** The answers given with {@code provideInput}, by the key of their request (unmodifiable). */
  public Map<String, Object> inputResponses() {
    return inputResponses;
  }

  /** The input requests still without a response (unmodifiable, in key order). */
  public Map<String, Object> outstandingInput() {
    Map<String, Object> out = new TreeMap<>();
    inputRequests.forEach(
        (k, v) -> {
          if (!inputResponses.containsKey(k)) {
            out.put(k, v);
          }
        });
    return Collections.unmodifiableMap(out);
  }

  /** Whether the requester asked the worker to stop ({@code requestCancel}). */
  public boolean cancelRequested() {
    return proto.getCancelRequested();
  }

  static Instant instant(Timestamp t) {
    return Instant.ofEpochSecond(t.getSeconds(), t.getNanos());
  }

  static Duration duration(com.google.protobuf.Duration d) {
    return Duration.ofSeconds(d.getSeconds(), d.getNanos());
  }

  static com.google.protobuf.Duration toProto(Duration d) {
    return com.google.protobuf.Duration.newBuilder()
        .setSeconds(d.getSeconds())
        .setNanos(d.getNano())
        .build();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Task t && t.proto.equals(proto);
  }

  @Override
  public int hashCode() {
    return proto.hashCode();
  }

  @Override
  public String toString() {
    return "Task{id=" + id() + ", status=" + status() + ", version=" + version()
        + ", variables=" + variables + (hasResult() ? ", result=" + result : "")
        + (error != null ? ", error=" + error : "")
        + (proto.hasLease() ? ", lease=" + lease() : "") + "}";
  }
}
