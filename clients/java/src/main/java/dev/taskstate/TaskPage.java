package dev.taskstate;

import java.util.List;

/**
 * One page of {@code list}: tasks newest first, and the token of the next page ("" on the last).
 */
public record TaskPage(List<Task> tasks, String nextPageToken) {
  /** Whether this is the last page. */
  public boolean isLast() {
    return nextPageToken.isEmpty();
  }
}
