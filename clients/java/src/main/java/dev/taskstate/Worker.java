package dev.taskstate;

import java.time.Duration;
import java.util.Optional;

/**
 * Claims tasks under one worker id ({@link TaskStateClient#worker}); every claim is a {@link
 * Lease}, renewed in the background until closed, whose writes carry its fencing token.
 *
 * <pre>{@code
 * Worker worker = client.worker(WorkerOptions.defaults());
 * Optional<Lease> claimed = worker.claimNext(
 *     ClaimOptions.builder().requestMethod("tools/call").waitUpTo(Duration.ofSeconds(30)).build());
 * if (claimed.isPresent()) {
 *   try (Lease lease = claimed.get()) {
 *     lease.run(() -> lease.complete(work(lease.task())));
 *   }
 * }
 * }</pre>
 */
public final class Worker {
  private final TaskStateClient client;
  private final WorkerOptions options;

  Worker(TaskStateClient client, WorkerOptions options) {
    this.client = client;
    this.options = options == null ? WorkerOptions.defaults() : options;
  }

  /** The worker id the leases name. */
  public String workerId() {
    return options.workerId();
  }

  /** Claims the oldest task offered for claiming, at once; empty when there is none. */
  public Optional<Lease> claimNext() {
    return claimNext(ClaimOptions.defaults());
  }

  /**
   * Claims the oldest task offered for claiming (of {@code options}' request method, waiting up to
   * its wait); empty when there was none. Close the lease when done.
   */
  public Optional<Lease> claimNext(ClaimOptions options) {
    ClaimOptions o = options == null ? ClaimOptions.defaults() : options;
    Duration asked = o.lease() != null ? o.lease() : this.options.lease();
    if (o.lease() == null) {
      o =
          ClaimOptions.builder()
              .requestMethod(o.requestMethod())
              .waitUpTo(o.waitUpTo())
              .lease(asked)
              .build();
    }
    long sent = System.nanoTime();
    Optional<Task> t = client.claimNext(this.options.workerId(), o);
    return t.map(task -> start(task, asked, sent));
  }

  /** Claims the task {@code taskId}; {@link LeaseHeldException} if another worker holds it. */
  public Lease claim(String taskId) {
    long sent = System.nanoTime();
    Task t = client.claim(taskId, options.workerId(), options.lease());
    return start(t, options.lease(), sent);
  }

  /**
   * The lease of a claim answer. A claim that waited was granted at some unknown point of the
   * wait: if that may be more than a third of the lease ago, renew at once, so the local deadline
   * counts from a known send time.
   */
  private Lease start(Task task, Duration asked, long sent) {
    TaskLease l = task.lease();
    if (l == null) {
      throw TaskStateException.local(
          io.grpc.Status.Code.INTERNAL,
          "the server answered a claim of " + task.id() + " without a lease");
    }
    Duration granted = l.duration().isZero() ? asked : l.duration();
    long leaseNanos = granted.toNanos();
    if (System.nanoTime() - sent > leaseNanos / 3) {
      sent = System.nanoTime();
      task = client.renewLease(task.id(), l.fencingToken());
    }
    Lease lease = new Lease(client.async(), task, leaseNanos, sent, options.scheduler());
    lease.start();
    return lease;
  }
}
