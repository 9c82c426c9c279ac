package dev.taskstate;

import java.util.List;

/**
 * One page of {@code list}: tasks newest first, the token of the next page ("" on the last), and
 * on the first page the feed position read before it ({@code resumeCursor}, "" on later pages): an
 * {@code events} or {@code watchEvents} from it, after listing every page, misses nothing.
 */
public record TaskPage(List<Task> tasks, String nextPageToken, String resumeCursor) {
  /** A page without a resume cursor. */
  public TaskPage(List<Task> tasks, String nextPageToken) {
    this(tasks, nextPageToken, "");
  }

  /** Whether this is the last page. */
  public boolean isLast() {
    return nextPageToken.isEmpty();
  }
}
