package dev.taskstate;

import java.util.ArrayDeque;
import java.util.Deque;

/**
 * A resuming watch of every change to the caller's tasks ({@link TaskStateClient#events}), read as
 * a blocking iterator of {@link TaskEvent}s: writes, deletions and expiries, each once, in feed
 * order.
 *
 * <p>It keeps the resume cursor of the last event (from the start: the position "now", read with
 * a one-task list, so even a first reconnection misses nothing). When the stream breaks with
 * UNAVAILABLE it reopens it from that cursor with jittered backoff (every event restores the
 * budget). When the server answers FEED_COMPACTED (the cursor is older than it keeps events for)
 * it lists the tasks again, yields a {@link TaskEvent.Kind#RESET} and one write per listed task,
 * and continues from the first page's cursor. Any other error ends it: {@code hasNext()} throws
 * it. {@link #close()} cancels it.
 */
public final class EventWatch extends StreamIterator<TaskEvent> {
  private final TaskStateClient client;
  private final WatchOptions options;
  private final RetryPolicy.Backoff backoff;
  private final Deque<TaskEvent> relisted = new ArrayDeque<>();
  private String cursor;
  private boolean compacted;
  private final Reconnect.Slot<EventStream> slot = new Reconnect.Slot<>();

  EventWatch(TaskStateClient client, WatchOptions options, RetryPolicy retry) {
    this.client = client;
    this.options = options;
    this.cursor = options.resumeCursor();
    this.backoff = new RetryPolicy.Backoff(retry);
  }

  /** The cursor after the last event returned (or the starting one): where a new watch resumes. */
  public String resumeCursor() {
    return cursor;
  }

  @Override
  void fetch() {
    Reconnect.until(this::step, slot, backoff, "the event stream kept ending");
  }

  /**
   * One step: an event from a re-list, a re-list, or the stream (opened if needed) read until an
   * event. Returns true with an event in {@code pending}; false to reconnect.
   */
  private boolean step() {
    if (!relisted.isEmpty()) {
      pending = relisted.poll();
      return true;
    }
    if (compacted) {
      relist(); // compacted stays set if it fails: the next step lists again
      compacted = false;
      pending = relisted.poll();
      return true;
    }
    if (cursor.isEmpty()) {
      cursor = client.list(new ListOptions().pageSize(1).view(View.BASIC)).resumeCursor();
    }
    try {
      return read();
    } catch (FeedCompactedException e) {
      slot.drop();
      compacted = true;
      return step();
    }
  }

  /** Reads the stream (opened if needed) until an event (true) or its polite end (false). */
  private boolean read() {
    EventStream stream = slot.open(() -> client.watchEvents(options.resumingFrom(cursor)));
    while (stream.hasNext()) {
      TaskEvent e = stream.next();
      if (!e.resumeCursor().isEmpty()) {
        cursor = e.resumeCursor();
      }
      backoff.reset();
      if (e.kind() != TaskEvent.Kind.PROGRESS) {
        pending = e;
        return true;
      }
    }
    slot.drop(); // the server ended the stream politely (draining): resume
    return false;
  }

  /** Lists the tasks again: a RESET, then a write per task, all at the first page's cursor. */
  private void relist() {
    ListOptions lo = options.listOptions();
    TaskPage page = client.list(lo);
    String at = page.resumeCursor();
    Deque<TaskEvent> events = new ArrayDeque<>();
    events.add(new TaskEvent(TaskEvent.Kind.RESET, "", 0, at, null));
    while (true) {
      page.tasks().forEach(t -> events.add(TaskEvent.write(t, at)));
      if (page.isLast()) {
        break;
      }
      page = client.list(lo.pageToken(page.nextPageToken()));
    }
    relisted.addAll(events);
    cursor = at;
  }

  /** Cancels the watch. Closing twice is fine. */
  @Override
  public void close() {
    slot.close();
  }
}
