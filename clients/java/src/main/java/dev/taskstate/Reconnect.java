package dev.taskstate;

import io.grpc.Status.Code;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/** What the resuming watches ({@link TaskWatch}, {@link EventWatch}) share. */
final class Reconnect {
  private Reconnect() {}

  /** The stream a watch currently reads (none between connections), and whether it was closed. */
  static final class Slot<S extends StreamIterator<?>> {
    private volatile S stream;
    private volatile boolean closed;

    /**
     * The open stream, or a new one from {@code opener}.
     *
     * @throws TaskStateException CANCELLED once the watch is closed
     */
    S open(Supplier<S> opener) {
      if (closed) {
        throw TaskStateException.local(Code.CANCELLED, "the watch was closed");
      }
      S s = stream;
      if (s == null) {
        s = opener.get();
        stream = s;
        if (closed) {
          drop(); // closed while opening: its reader then sees CANCELLED
        }
      }
      return s;
    }

    /** Closes the current stream, if any, so that the next {@link #open} opens a new one. */
    void drop() {
      S s = stream;
      stream = null;
      if (s != null) {
        s.close();
      }
    }

    /** Closes the watch: its stream now, and no other one after. */
    void close() {
      closed = true;
      S s = stream;
      if (s != null) {
        s.close();
      }
    }
  }

  /**
   * Runs {@code step} until it returns true (it has its answer). A step that fails with
   * UNAVAILABLE, or returns false (the stream ended early), is retried after a sleep of {@code
   * backoff}, its stream dropped; any other error, or UNAVAILABLE once the slot is closed, is
   * thrown, and so is the last failure when the backoff's attempts are used up.
   *
   * @param ended the message of the error thrown when the attempts ran out without a failure
   */
  static void until(
      BooleanSupplier step, Slot<?> slot, RetryPolicy.Backoff backoff, String ended) {
    while (true) {
      TaskStateException broken = null;
      try {
        if (step.getAsBoolean()) {
          return;
        }
      } catch (TaskStateException e) {
        slot.drop();
        if (slot.closed || e.code() != Code.UNAVAILABLE) {
          throw e;
        }
        broken = e;
      }
      long sleep = backoff.next();
      if (sleep < 0) {
        throw broken != null ? broken : TaskStateException.local(Code.UNAVAILABLE, ended);
      }
      try {
        Thread.sleep(sleep);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw TaskStateException.local(Code.CANCELLED, "interrupted");
      }
    }
  }
}
