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

/**
 * One server-streaming call read with blocking {@link #take()}s, asking the server for one message
 * at a time (an unread stream holds at most one message in memory). Shared by {@link TaskStream}
 * and {@link EventStream}.
 *
 * @param <R> the response messages
 */
final class ServerStream<R> {
  /** The end of the stream: its status and trailers. */
  private record End(io.grpc.Status status, Metadata trailers) {}

  private final ClientCall<?, R> call;
  private final BlockingQueue<Object> events = new LinkedBlockingQueue<>();
  private final CompletableFuture<Void> opened = new CompletableFuture<>();

  <Q> ServerStream(Channel channel, MethodDescriptor<Q, R> method, CallOptions options, Q request) {
    ClientCall<Q, R> c = channel.newCall(method, options);
    this.call = c;
    c.start(
        new ClientCall.Listener<R>() {
          @Override
          public void onHeaders(Metadata headers) {
            opened.complete(null);
          }

          @Override
          public void onMessage(R message) {
            events.add(message);
          }

          @Override
          public void onClose(io.grpc.Status status, Metadata trailers) {
            End end = new End(status, trailers);
            if (status.isOk()) {
              opened.complete(null);
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

  /**
   * Completes once the server has sent the response headers (for WatchTasks: once it has
   * registered the watch), or fails with the error that ended the stream first.
   */
  CompletableFuture<Void> opened() {
    return opened;
  }

  private static TaskStateException error(End end) {
    return TaskStateException.fromStatus(
        end.status,
        StatusProto.fromStatusAndTrailers(end.status, end.trailers),
        end.status.asRuntimeException(end.trailers));
  }

  /**
   * The next message, or null when the server ended the stream with OK.
   *
   * @throws TaskStateException the error that ended the stream (CANCELLED once closed, or when
   *     the thread is interrupted)
   */
  @SuppressWarnings("unchecked")
  R take() {
    Object e;
    try {
      e = events.take();
    } catch (InterruptedException ie) {
      Thread.currentThread().interrupt();
      close();
      throw TaskStateException.from(new java.util.concurrent.CancellationException("interrupted"));
    }
    if (e instanceof End end) {
      events.add(end); // every later take() sees the end again
      if (!end.status.isOk()) {
        throw error(end);
      }
      return null;
    }
    call.request(1);
    return (R) e;
  }

  /** Cancels the call. Closing twice is fine. */
  void close() {
    call.cancel("closed by the client", null);
  }
}
