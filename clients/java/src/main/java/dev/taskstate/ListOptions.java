package dev.taskstate;

import dev.taskstate.v1.ListTasksRequest;

/**
 * The inputs of {@code list} and {@code listAll}; every one is optional. A page may hold fewer
 * than {@code pageSize} tasks and still not be the last: only an empty next-page token ends the
 * list.
 */
public final class ListOptions {
  private final ListTasksRequest.Builder req = ListTasksRequest.newBuilder();

  /** Tasks per page: 0 means the server's 50, at most 1000. */
  public ListOptions pageSize(int n) {
    req.setPageSize(n);
    return this;
  }

  /** The next-page token of a previous page. */
  public ListOptions pageToken(String token) {
    req.setPageToken(token);
    return this;
  }

  /** Only tasks in these statuses (all when none). */
  public ListOptions statuses(Status... statuses) {
    req.clearStatuses();
    for (Status s : statuses) {
      req.addStatuses(s.toProto());
    }
    return this;
  }

  /** How much of each task: {@link View#BASIC} leaves out variables, result and error. */
  public ListOptions view(View v) {
    req.setView(v.toProto());
    return this;
  }

  ListTasksRequest toRequest() {
    return req.build();
  }
}
