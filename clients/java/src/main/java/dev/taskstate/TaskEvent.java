package dev.taskstate;

import dev.taskstate.v1.WatchTasksResponse;
import java.util.Locale;

/**
 * One message of a watch of all the caller's tasks ({@link TaskStateClient#watchEvents}, {@link
 * TaskStateClient#events}).
 *
 * @param kind what happened
 * @param taskId the task it is about ("" with {@link Kind#PROGRESS} and {@link Kind#RESET})
 * @param version the task's version for a write; the last version known for a deletion or expiry
 *     (0 if none); 0 otherwise
 * @param resumeCursor the position after this event: a watch from it resumes right after it
 * @param task the task written, with {@link Kind#WRITE} only (null otherwise)
 */
public record TaskEvent(Kind kind, String taskId, long version, String resumeCursor, Task task) {
  /** What an event reports. Prints in lower case ({@code write}, {@code deleted}, ...). */
  public enum Kind {
    /** A committed version of a task: {@link TaskEvent#task()} is set. */
    WRITE,
    /** The task was deleted. */
    DELETED,
    /** The task reached its expire time and no longer exists. */
    EXPIRED,
    /** No change, only a newer resume cursor (raw watches with all events only). */
    PROGRESS,
    /**
     * Client-side, from {@link TaskStateClient#events} only: the server no longer had the events
     * after the cursor, so the tasks were listed again; one WRITE per listed task follows. Forget
     * what you knew of every task first (deleted ones are not reported).
     */
    RESET;

    @Override
    public String toString() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /** A write event of {@code t}. */
  static TaskEvent write(Task t, String cursor) {
    return new TaskEvent(Kind.WRITE, t.id(), t.version(), cursor, t);
  }

  /** The event of a WatchTasks message, or null for a kind this client does not know. */
  static TaskEvent fromProto(WatchTasksResponse m) {
    Kind kind =
        switch (m.getKind()) {
          case WATCH_EVENT_KIND_WRITE, WATCH_EVENT_KIND_UNSPECIFIED -> Kind.WRITE;
          case WATCH_EVENT_KIND_DELETED -> Kind.DELETED;
          case WATCH_EVENT_KIND_EXPIRED -> Kind.EXPIRED;
          case WATCH_EVENT_KIND_PROGRESS -> Kind.PROGRESS;
          default -> null;
        };
    if (kind == null || kind == Kind.WRITE && !m.hasTask()) {
      return null;
    }
    if (kind == Kind.WRITE) {
      Task t = Task.fromProto(m.getTask());
      return write(t, m.getResumeCursor());
    }
    return new TaskEvent(kind, m.getTaskId(), m.getVersion(), m.getResumeCursor(), null);
  }
}
