package dev.taskstate;

import dev.taskstate.v1.WatchTasksRequest;

/**
 * The inputs of {@code watchEvents} and {@code events}; every one is optional.
 *
 * <pre>{@code
 * client.events(new WatchOptions().statuses(Status.COMPLETED).resumeCursor(saved))
 * }</pre>
 */
public final class WatchOptions {
  private View view;
  private Status[] statuses = new Status[0];
  private String resumeCursor = "";
  private boolean allEvents;

  /** Only changes leaving a task in one of these statuses (all when none). */
  public WatchOptions statuses(Status... s) {
    this.statuses = s.clone();
    return this;
  }

  /** How much of each task: {@link View#BASIC} leaves out variables, result and error. */
  public WatchOptions view(View v) {
    this.view = v;
    return this;
  }

  /** Resume right after this position (of an event, or of a list's first page); "": from now. */
  public WatchOptions resumeCursor(String cursor) {
    this.resumeCursor = cursor == null ? "" : cursor;
    return this;
  }

  /**
   * Also deletions, expiries and progress (a newer cursor only); implied by a resume cursor.
   * {@code events} always asks for them.
   */
  public WatchOptions allEvents(boolean all) {
    this.allEvents = all;
    return this;
  }

  View view() {
    return view;
  }

  Status[] statuses() {
    return statuses.clone();
  }

  String resumeCursor() {
    return resumeCursor;
  }

  /** A copy resuming from {@code cursor} with every kind of event. */
  WatchOptions resumingFrom(String cursor) {
    WatchOptions o = new WatchOptions().statuses(statuses).resumeCursor(cursor).allEvents(true);
    o.view = view;
    return o;
  }

  WatchTasksRequest toRequest() {
    WatchTasksRequest.Builder b =
        WatchTasksRequest.newBuilder().setResumeCursor(resumeCursor).setAllEvents(allEvents);
    if (view != null) {
      b.setView(view.toProto());
    }
    for (Status s : statuses) {
      b.addStatuses(s.toProto());
    }
    return b.build();
  }

  /** The list options selecting the same tasks (for a re-list after a compaction). */
  ListOptions listOptions() {
    ListOptions o = new ListOptions().statuses(statuses);
    if (view != null) {
      o.view(view);
    }
    return o;
  }
}
