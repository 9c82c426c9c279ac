package dev.taskstate;

import java.util.Objects;

/**
 * The JSON-RPC shaped error of a failed task: a code, a message and optional structured data (a
 * plain Java JSON value; {@link #hasData()} tells an absent data from a JSON null).
 */
public final class TaskError {
  private final int code;
  private final String message;
  private final Object data;
  private final boolean hasData;

  private TaskError(int code, String message, Object data, boolean hasData) {
    this.code = code;
    this.message = Objects.requireNonNull(message, "message");
    this.data = data;
    this.hasData = hasData;
  }

  /** An error without data. */
  public static TaskError of(int code, String message) {
    return new TaskError(code, message, null, false);
  }

  /** An error with data (any JSON value; null is a JSON null). */
  public static TaskError of(int code, String message, Object data) {
    return new TaskError(code, message, data, true);
  }

  /** The application-defined error code. */
  public int code() {
    return code;
  }

  /** The human-readable message. */
  public String message() {
    return message;
  }

  /** The structured detail, or null when absent (see {@link #hasData()}). */
  public Object data() {
    return data;
  }

  /** Whether data was given (it may still be a JSON null). */
  public boolean hasData() {
    return hasData;
  }

  dev.taskstate.v1.TaskError toProto(String path) {
    dev.taskstate.v1.TaskError.Builder b =
        dev.taskstate.v1.TaskError.newBuilder().setCode(code).setMessage(message);
    if (hasData) {
      b.setData(Values.toValue(data, path + ".data"));
    }
    return b.build();
  }

  static TaskError fromProto(dev.taskstate.v1.TaskError e) {
    return e.hasData()
        ? of(e.getCode(), e.getMessage(), Values.fromValue(e.getData()))
        : of(e.getCode(), e.getMessage());
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TaskError t
        && t.code == code
        && t.message.equals(message)
        && t.hasData == hasData
        && Objects.equals(t.data, data);
  }

  @Override
  public int hashCode() {
    return Objects.hash(code, message, data, hasData);
  }

  @Override
  public String toString() {
    return "TaskError{code=" + code + ", message=" + message + (hasData ? ", data=" + data : "")
        + "}";
  }
}
