package dev.taskstate;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.protobuf.StatusProto;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.Function;

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
  /** The end of the stream: its status and trailers. */
  private record End(io.grpc.Status status, Metadata trailers) {}

  private final ClientCall<?, ?> call;
  private final BlockingQueue<Object> events = new LinkedBlockingQueue<>();
  private final CompletableFuture<TaskStream> opened = new CompletableFuture<>();

  private <Q, R> TaskStream(
      Channel channel, MethodDescriptor<Q, R> method, CallOptions options, Q request,
      Function<R, dev.taskstate.v1.Task> task) {
    ClientCall<Q, R> c = channel.newCall(method, options);
    this.call = c;
    c.start(
        new ClientCall.Listener<R>() {
          @Override
          public void onHeaders(Metadata headers) {
            opened.complete(TaskStream.this);
          }

          @Override
          public void onMessage(R message) {
            events.add(task.apply(message));
          }

          @Override
          public void onClose(io.grpc.Status status, Metadata trailers) {
            End end = new End(status, trailers);
            if (status.isOk()) {
              opened.complete(TaskStream.this);
            } else {
              opened.completeExceptionally(error(end));
            }
            events.add(end);
          }
        },
        new Metadata());
    c.sendMessage(request);
    c.halfClose();
    c.request(1);
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
    return opened;
  }

  private static TaskStateException error(End end) {
    return TaskStateException.fromStatus(
        end.status,
        StatusProto.fromStatusAndTrailers(end.status, end.trailers),
        end.status.asRuntimeException(end.trailers));
  }

  @Override
  void fetch() {
    Object e;
    try {
      e = events.take();
    } catch (InterruptedException ie) {
      Thread.currentThread().interrupt();
      close();
      throw TaskStateException.from(new java.util.concurrent.CancellationException("interrupted"));
    }
    if (e instanceof End end) {
      if (!end.status.isOk()) {
        throw error(end);
      }
      finished = true;
      return;
    }
    pending = Task.fromProto((dev.taskstate.v1.Task) e);
    call.request(1);
  }

  /** Cancels the stream. Closing twice is fine. */
  @Override
  public void close() {
    call.cancel("closed by the client", null);
  }
}
