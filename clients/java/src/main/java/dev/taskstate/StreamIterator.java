package dev.taskstate;

import java.util.Iterator;
import java.util.NoSuchElementException;

/**
 * A blocking iterator over a server stream ({@link TaskIterator} of tasks, {@link EventStream} and
 * {@link EventWatch} of events): {@code hasNext()} fetches the next item into {@link #pending},
 * it is usable once in a for-each loop, and closeable.
 *
 * @param <T> the items
 */
public abstract class StreamIterator<T> implements Iterator<T>, Iterable<T>, AutoCloseable {
  /** The item {@code hasNext()} fetched and {@code next()} has not returned yet. */
  T pending;

  /** Set once the iteration is over (cleanly, or with {@link #failure}). */
  boolean finished;

  private TaskStateException failure;

  StreamIterator() {}

  /**
   * Waits for the next item.
   *
   * @return false once the iteration ended cleanly
   * @throws TaskStateException when it failed or was closed (again on every later call)
   */
  @Override
  public final boolean hasNext() {
    if (pending != null) {
      return true;
    }
    if (failure != null) {
      throw failure;
    }
    if (finished) {
      return false;
    }
    try {
      fetch();
    } catch (TaskStateException e) {
      finished = true;
      failure = e;
      throw e;
    }
    return pending != null;
  }

  /** Waits for the next item and puts it in {@link #pending}, or sets {@link #finished}. */
  abstract void fetch();

  /** The next item (waits for it). */
  @Override
  public final T next() {
    if (!hasNext()) {
      throw new NoSuchElementException("the stream has ended");
    }
    T t = pending;
    pending = null;
    return t;
  }

  /** This iterator, for a for-each loop (which can go over it once). */
  @Override
  public final Iterator<T> iterator() {
    return this;
  }

  /** Cancels the stream; a {@code hasNext()} blocked in another thread then throws CANCELLED. */
  @Override
  public abstract void close();
}
