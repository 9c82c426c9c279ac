package dev.taskstate;

import io.grpc.Status.Code;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * A worker's hold on a claimed task ({@link Worker#claimNext}, {@link Worker#claim}): renewed in
 * the background every third of the lease, and fencing every write made through it.
 *
 * <p>A renewal that fails with UNAVAILABLE or DEADLINE_EXCEEDED is retried until a local deadline,
 * one lease after the last successful claim or renewal was <em>sent</em> (the server started its
 * clock no earlier, so the worker stops no later than the server could hand the task to someone
 * else). The lease is <b>lost</b> when a renewal or a write through it answers {@link
 * LeaseLostException}, when the deadline passes, or when a renewal fails otherwise (e.g. the task
 * was deleted): then {@link #isLost()} is true, {@link #lost()} completes, a {@link #run} in
 * progress is interrupted, and every later write through the lease throws the {@link
 * LeaseLostException} without being sent. A write leaving {@code working} (complete, fail, another
 * status) ends the lease on the server and the renewals stop.
 *
 * <p>{@link #close()} stops the renewals; a task left {@code working} is then left to its lease
 * policy once the lease runs out. Thread-safe.
 */
public final class Lease implements AutoCloseable {
  /** Longest pause between renewal retries after UNAVAILABLE (at most a tenth of the lease). */
  private static final long RETRY_PAUSE_NANOS = TimeUnit.MILLISECONDS.toNanos(200);

  /** Pause before retrying a renewal that found a write through the lease under way. */
  private static final long BUSY_PAUSE_NANOS = TimeUnit.MILLISECONDS.toNanos(10);

  private final AsyncTaskStateClient client;
  private final ScheduledExecutorService scheduler;
  private final String taskId;
  private final long token;
  private final long leaseNanos;
  private final CompletableFuture<LeaseLostException> lost = new CompletableFuture<>();
  private final Object lock = new Object();
  /**
   * One call at a time: a renewal never overlaps a write through the lease, so a renewal refused
   * because the write just ended the lease (complete) is never taken for a loss.
   */
  private final Semaphore calls = new Semaphore(1);
  private volatile Task task;
  // Guarded by lock:
  private long deadline;
  private boolean closed;
  private ScheduledFuture<?> timer;
  private Thread runner;
  private boolean interruptedRunner;

  Lease(
      AsyncTaskStateClient client,
      Task task,
      long leaseNanos,
      long sentNanos,
      ScheduledExecutorService scheduler) {
    this.client = client;
    this.task = task;
    this.taskId = task.id();
    this.token = task.lease().fencingToken();
    this.leaseNanos = leaseNanos;
    this.deadline = sentNanos + leaseNanos;
    this.scheduler = scheduler;
  }

  void start() {
    synchronized (lock) {
      schedule(untilRenewal());
    }
  }

  /** The task's id. */
  public String taskId() {
    return taskId;
  }

  /** The fencing token every write through this lease carries. */
  public long fencingToken() {
    return token;
  }

  /** The lease's duration (as granted). */
  public Duration duration() {
    return Duration.ofNanos(leaseNanos);
  }

  /** The task as last seen by the claim, a renewal or a write through this lease. */
  public Task task() {
    return task;
  }

  /** Whether the lease was lost: stop working on the task. */
  public boolean isLost() {
    return lost.isDone();
  }

  /**
   * Completes with the {@link LeaseLostException} when the lease is lost; never completes while it
   * holds (nor when it is closed).
   */
  public CompletableFuture<LeaseLostException> lost() {
    return lost.copy();
  }

  /**
   * Runs {@code work} in this thread, interrupting it if the lease is lost meanwhile. The loss
   * surfaces as the {@link LeaseLostException} (whatever the interrupted work threw, and also when
   * the work returned after it); the interrupt flag the loss set is cleared on the way out.
   */
  public <T> T run(Callable<T> work) throws Exception {
    synchronized (lock) {
      throwIfLost();
      runner = Thread.currentThread();
    }
    try {
      T v = work.call();
      throwIfLost();
      return v;
    } catch (Exception e) {
      throwIfLost();
      throw e;
    } finally {
      synchronized (lock) {
        runner = null;
        if (interruptedRunner) {
          interruptedRunner = false;
          Thread.interrupted();
        }
      }
    }
  }

  /** Merges variables into the task, fenced. */
  public Task setVariables(Map<String, ?> variables) {
    return write(() -> client.setVariables(taskId, variables, fence()));
  }

  /** Moves the task to another status, fenced (leaving {@code working} ends the lease). */
  public Task updateStatus(Status status, String message) {
    return write(() -> client.updateStatus(taskId, status, message, fence()));
  }

  /** Completes the task with {@code result} (any JSON value), fenced. */
  public Task complete(Object result) {
    Completion c = Completion.completed().result(result).fencingToken(token);
    return write(() -> client.complete(taskId, c));
  }

  /** Completes or fails the task as {@code c} says, fenced. */
  public Task complete(Completion c) {
    Completion done = c == null ? Completion.completed() : c;
    return write(() -> client.complete(taskId, done.fenced(token)));
  }

  /** Fails the task with {@code error}, fenced. */
  public Task fail(TaskError error) {
    return write(() -> client.complete(taskId, Completion.failed(error).fencingToken(token)));
  }

  /** Stops the renewals. Closing twice is fine. */
  @Override
  public void close() {
    synchronized (lock) {
      closed = true;
      if (timer != null) {
        timer.cancel(false);
        timer = null;
      }
    }
  }

  private WriteOptions fence() {
    return new WriteOptions().fencingToken(token);
  }

  /** One write through the lease: refused locally once lost; a LEASE_LOST answer loses it. */
  private Task write(Supplier<CompletableFuture<Task>> call) {
    throwIfLost();
    calls.acquireUninterruptibly();
    try {
      throwIfLost();
      Task t = TaskStateClient.await(call.get());
      keep(t);
      return t;
    } catch (LeaseLostException e) {
      lose(e);
      throw e;
    } finally {
      calls.release();
    }
  }

  private void throwIfLost() {
    LeaseLostException e = lost.getNow(null);
    if (e != null) {
      throw e;
    }
  }

  /** Keeps the newest version seen; a task no longer working has no lease to renew. */
  private void keep(Task t) {
    synchronized (lock) {
      if (t.version() > task.version()) {
        task = t;
      }
      if (!holding() && timer != null) {
        timer.cancel(false);
        timer = null;
      }
    }
  }

  /** Whether the renewals should go on (called holding the lock). */
  private boolean holding() {
    return !closed && !lost.isDone() && task.status() == Status.WORKING;
  }

  private void lose(LeaseLostException e) {
    synchronized (lock) {
      if (!lost.complete(e)) {
        return;
      }
      if (timer != null) {
        timer.cancel(false);
        timer = null;
      }
      if (runner != null) {
        interruptedRunner = true;
        runner.interrupt();
      }
    }
  }

  private long untilRenewal() {
    return Math.max(0, Math.min(leaseNanos / 3, deadline - System.nanoTime()));
  }

  private long retryPause() {
    long pause = Math.min(RETRY_PAUSE_NANOS, leaseNanos / 10);
    return Math.max(0, Math.min(pause, deadline - System.nanoTime()));
  }

  /** Schedules the next renewal (called holding the lock). */
  private void schedule(long delayNanos) {
    if (holding()) {
      timer = scheduler.schedule(this::renew, delayNanos, TimeUnit.NANOSECONDS);
    }
  }

  private void renew() {
    long sent;
    long left;
    synchronized (lock) {
      timer = null;
      if (!holding()) {
        return;
      }
      if (!calls.tryAcquire()) { // a write through the lease is under way: renew right after it
        schedule(Math.max(retryPause(), BUSY_PAUSE_NANOS));
        return;
      }
      sent = System.nanoTime();
      left = deadline - sent;
    }
    if (left <= 0) {
      calls.release();
      lose(missedDeadline(null));
      return;
    }
    client
        .renewLease(taskId, token, null, null, Duration.ofNanos(left))
        .whenComplete(
            (t, err) -> {
              try {
                renewed(sent, t, err);
              } finally {
                calls.release();
              }
            });
  }

  private void renewed(long sent, Task t, Throwable err) {
    if (err == null) {
      keep(t);
      synchronized (lock) {
        deadline = sent + leaseNanos;
        schedule(untilRenewal());
      }
      return;
    }
    RuntimeException e = TaskStateException.from(err);
    if (e instanceof LeaseLostException l) {
      lose(l);
    } else if (e instanceof TaskStateException te
        && (te.code() == Code.UNAVAILABLE || te.code() == Code.DEADLINE_EXCEEDED)) {
      synchronized (lock) {
        schedule(retryPause());
      }
    } else {
      lose(missedDeadline(e));
    }
  }

  /** A local loss: the deadline passed, or a renewal failed otherwise ({@code cause}). */
  private LeaseLostException missedDeadline(Throwable cause) {
    String why =
        cause == null
            ? "lease on task " + taskId + " not renewed before its local deadline"
            : "lease on task " + taskId + " could not be renewed: " + cause.getMessage();
    return (LeaseLostException)
        TaskStateException.create(
            Code.FAILED_PRECONDITION,
            new TaskStateException.Details(
                "LEASE_LOST", null, Map.of("fencing_token", Long.toUnsignedString(token)), why,
                List.of(), cause));
  }
}
