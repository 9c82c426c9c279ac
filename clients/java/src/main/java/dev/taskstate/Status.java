package dev.taskstate;

import dev.taskstate.v1.TaskStatus;
import java.util.Locale;

/**
 * The lifecycle status of a task. Its string form is the lower-case name every taskstate surface
 * uses ({@code working}, {@code input_required}, {@code completed}, {@code failed}, {@code
 * cancelled}), never the generated enum's {@code TASK_STATUS_...} name.
 */
public enum Status {
  /** The work is in progress. */
  WORKING(TaskStatus.TASK_STATUS_WORKING),
  /** The work waits for input from the requester. */
  INPUT_REQUIRED(TaskStatus.TASK_STATUS_INPUT_REQUIRED),
  /** The work finished; the task's result holds its outcome. */
  COMPLETED(TaskStatus.TASK_STATUS_COMPLETED),
  /** The work failed; the task's error says why. */
  FAILED(TaskStatus.TASK_STATUS_FAILED),
  /** The work was cancelled. */
  CANCELLED(TaskStatus.TASK_STATUS_CANCELLED);

  private final TaskStatus proto;

  Status(TaskStatus proto) {
    this.proto = proto;
  }

  /** The generated enum value. */
  public TaskStatus toProto() {
    return proto;
  }

  /** Whether this status is terminal (completed, failed, cancelled): a terminal task is frozen. */
  public boolean isTerminal() {
    return this == COMPLETED || this == FAILED || this == CANCELLED;
  }

  /** The lower-case name, e.g. {@code input_required}. */
  @Override
  public String toString() {
    return name().toLowerCase(Locale.ROOT);
  }

  /**
   * Reads a status name as {@link #toString()} writes it (case-insensitive).
   *
   * @throws IllegalArgumentException for anything else
   */
  public static Status parse(String name) {
    for (Status s : values()) {
      if (s.toString().equalsIgnoreCase(name.trim())) {
        return s;
      }
    }
    throw new IllegalArgumentException(
        "unknown task status '"
            + name
            + "': want working, input_required, completed, failed or cancelled");
  }

  /**
   * Converts the generated enum value.
   *
   * @throws IllegalArgumentException for TASK_STATUS_UNSPECIFIED or a value this client does not
   *     know
   */
  public static Status fromProto(TaskStatus s) {
    for (Status v : values()) {
      if (v.proto == s) {
        return v;
      }
    }
    throw new IllegalArgumentException("task status " + s + " has no client equivalent");
  }
}
