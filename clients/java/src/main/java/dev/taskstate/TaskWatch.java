package dev.taskstate;

/**
 * A resuming watch of one task, read as a blocking {@link Iterator}: each new version once, in
 * increasing order, ending after the terminal version (intermediate versions may be coalesced, the
 * terminal one never is).
 *
 * <p>When the stream breaks with UNAVAILABLE (dropped connection, server draining or restarting)
 * it reopens the stream after the last version it returned, with jittered backoff (every received
 * version restores the budget), so the caller sees no gap that matters. Any other error ends it:
 * {@code hasNext()} throws it, e.g. a {@link TaskNotFoundException} when the task is deleted,
 * expires or never existed. {@link #close()} cancels it (a {@code hasNext()} blocked in another
 * thread then throws CANCELLED).
 */
public final class TaskWatch extends TaskIterator {
  private final TaskStateClient client;
  private final String taskId;
  private final RetryPolicy.Backoff backoff;
  private long last;
  private final Reconnect.Slot<TaskStream> slot = new Reconnect.Slot<>();

  TaskWatch(TaskStateClient client, String taskId, long afterVersion, RetryPolicy retry) {
    this.client = client;
    this.taskId = taskId;
    this.last = afterVersion;
    this.backoff = new RetryPolicy.Backoff(retry);
  }

  @Override
  void fetch() {
    Reconnect.until(
        this::step, slot, backoff, "the watch stream kept ending before the terminal version");
  }

  /**
   * Reads the stream (opening it if needed) until a new version or its end. Returns true when
   * {@code hasNext} has its answer (a version in {@code pending}, or the end); false to reconnect.
   */
  private boolean step() {
    TaskStream stream = slot.open(() -> client.async().watchTask(taskId, last));
    while (stream.hasNext()) {
      Task t = stream.next();
      if (t.version() <= last) {
        continue; // a replica replaying what we already have
      }
      accept(t);
      return true;
    }
    // A clean end without a terminal version: the task was already terminal at or before `last`,
    // or the server closed politely. A read tells which.
    slot.drop();
    Task t = client.get(taskId);
    if (t.isTerminal()) {
      if (t.version() > last) {
        accept(t);
      } else {
        finished = true;
      }
      return true;
    }
    return false;
  }

  private void accept(Task t) {
    last = t.version();
    backoff.reset();
    pending = t;
    if (t.isTerminal()) {
      finished = true;
      slot.drop();
    }
  }

  /** Cancels the watch. Closing twice is fine. */
  @Override
  public void close() {
    slot.close();
  }
}
