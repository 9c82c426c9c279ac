package dev.taskstate;

import io.grpc.Status.Code;

/**
 * The resume cursor is older than the server keeps events for, or belongs to another database
 * (OUT_OF_RANGE, reason FEED_COMPACTED): list the tasks again and watch from the list's resume
 * cursor. {@link TaskStateClient#events} does that by itself.
 */
public class FeedCompactedException extends TaskStateException {
  private static final long serialVersionUID = 1L;

  FeedCompactedException(Details d) {
    super(Code.OUT_OF_RANGE, d);
  }
}
