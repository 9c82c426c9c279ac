package dev.taskstate;

import dev.taskstate.v1.WatchTasksResponse;
import java.util.concurrent.CompletableFuture;

/**
 * One open WatchTasks stream read as a blocking iterator of {@link TaskEvent}s ({@link
 * TaskStateClient#watchEvents}). It does not reconnect ({@link EventWatch} does); errors and
 * closing behave as in {@link TaskStream}, e.g. a {@link FeedCompactedException} when its resume
 * cursor is too old. Events of kinds newer than this client are skipped.
 */
public final class EventStream extends StreamIterator<TaskEvent> {
  private final ServerStream<WatchTasksResponse> stream;

  EventStream(ServerStream<WatchTasksResponse> stream) {
    this.stream = stream;
  }

  /** Completes with this stream once the server has registered the watch. */
  CompletableFuture<EventStream> opened() {
    return stream.opened().thenApply(v -> this);
  }

  @Override
  void fetch() {
    while (true) {
      WatchTasksResponse m = stream.take();
      if (m == null) {
        finished = true;
        return;
      }
      TaskEvent e = TaskEvent.fromProto(m);
      if (e != null) {
        pending = e;
        return;
      }
    }
  }

  /** Cancels the stream. Closing twice is fine. */
  @Override
  public void close() {
    stream.close();
  }
}
