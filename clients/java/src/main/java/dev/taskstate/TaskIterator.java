package dev.taskstate;

import java.util.Iterator;
import java.util.NoSuchElementException;

/**
 * What {@link TaskStream} and {@link TaskWatch} share: a blocking iterator of tasks whose {@code
 * hasNext()} fetches the next task into {@link #pending}, usable once in a for-each loop, and
 * closeable.
 */
public abstract class TaskIterator implements Iterator<Task>, Iterable<Task>, AutoCloseable {
  /** The task {@code hasNext()} fetched and {@code next()} has not returned yet. */
  Task pending;

  /** Set once the iteration is over (cleanly, or with {@link #failure}). */
  boolean finished;

  private TaskStateException failure;

  TaskIterator() {}

  /**
   * Waits for the next task.
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

  /** Waits for the next task and puts it in {@link #pending}, or sets {@link #finished}. */
  abstract void fetch();

  /** The next task (waits for it). */
  @Override
  public final Task next() {
    if (!hasNext()) {
      throw new NoSuchElementException("the stream has ended");
    }
    Task t = pending;
    pending = null;
    return t;
  }

  /** This iterator, for a for-each loop (which can go over it once). */
  @Override
  public final Iterator<Task> iterator() {
    return this;
  }

  /** Cancels the stream; a {@code hasNext()} blocked in another thread then throws CANCELLED. */
  @Override
  public abstract void close();
}
