package dev.taskstate;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.MethodDescriptor;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * One open server stream of tasks (WatchTask or WatchTasks), read as a blocking {@link Iterator}.
 * It does not reconnect (see {@link TaskWatch} for a watch that does). {@code hasNext()} blocks
 * until the next task arrives and returns false when the server ended the stream with OK; when the
 * stream failed it throws the {@link TaskStateException} (again on every later call). Close it
 * when done: {@link #close()} cancels the stream, and a {@code hasNext()} blocked in another thread
 * then throws a CANCELLED error. The client asks the server for one message at a time, so an
 * unread stream holds at most one task in memory.
 */
public final class TaskStream extends TaskIterator {
  private final ServerStream<?> stream;
  /** The next task of the stream, or null at its end. */
  private final Supplier<dev.taskstate.v1.Task> next;

  private <Q, R> TaskStream(
      Channel channel, MethodDescriptor<Q, R> method, CallOptions options, Q request,
      Function<R, dev.taskstate.v1.Task> task) {
    ServerStream<R> s = new ServerStream<>(channel, method, options, request);
    this.stream = s;
    this.next =
        () -> {
          R m = s.take();
          return m == null ? null : task.apply(m);
        };
  }

  static <Q, R> TaskStream open(
      Channel channel, MethodDescriptor<Q, R> method, CallOptions options, Q request,
      Function<R, dev.taskstate.v1.Task> task) {
    return new TaskStream(channel, method, options, request, task);
  }

  /**
   * Completes with this stream once the server has sent the response headers (for WatchTasks:
   * once it has registered the watch), or fails with the error that ended the stream first.
   */
  CompletableFuture<TaskStream> opened() {
    return stream.opened().thenApply(v -> this);
  }

  @Override
  void fetch() {
    dev.taskstate.v1.Task t = next.get();
    if (t == null) {
      finished = true;
      return;
    }
    pending = Task.fromProto(t);
  }

  /** Cancels the stream. Closing twice is fine. */
  @Override
  public void close() {
    stream.close();
  }
}
