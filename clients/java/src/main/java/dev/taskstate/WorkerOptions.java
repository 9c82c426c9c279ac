package dev.taskstate;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;

/**
 * How a {@link Worker} claims: its worker id (default {@code host:pid:random}), the lease it asks
 * for (default 30 s; renewed every third of it) and the scheduler its heartbeats run on (default:
 * one shared daemon thread; the renewals themselves are asynchronous calls).
 *
 * <pre>{@code
 * client.worker(WorkerOptions.builder().lease(Duration.ofSeconds(10)).build())
 * }</pre>
 */
public final class WorkerOptions {
  /** The lease a worker asks for unless told otherwise. */
  public static final Duration DEFAULT_LEASE = Duration.ofSeconds(30);

  private static final class Shared {
    static final ScheduledExecutorService SCHEDULER = scheduler();

    private static ScheduledExecutorService scheduler() {
      ScheduledThreadPoolExecutor s =
          new ScheduledThreadPoolExecutor(
              1,
              r -> {
                Thread t = new Thread(r, "taskstate-heartbeat");
                t.setDaemon(true);
                return t;
              });
      s.setRemoveOnCancelPolicy(true);
      return s;
    }
  }

  private final String workerId;
  private final Duration lease;
  private final ScheduledExecutorService scheduler;

  private WorkerOptions(Builder b) {
    this.workerId = b.workerId != null ? b.workerId : defaultWorkerId();
    this.lease = b.lease;
    this.scheduler = b.scheduler != null ? b.scheduler : Shared.SCHEDULER;
    if (lease.isNegative() || lease.isZero()) {
      throw new IllegalArgumentException("lease must be positive");
    }
  }

  /** A builder of the defaults. */
  public static Builder builder() {
    return new Builder();
  }

  /** A new worker id, the default lease and the shared scheduler. */
  public static WorkerOptions defaults() {
    return builder().build();
  }

  /** {@code host:pid:random}: unique per worker, readable in a task's lease. */
  static String defaultWorkerId() {
    String host;
    try {
      host = InetAddress.getLocalHost().getHostName();
    } catch (UnknownHostException e) {
      host = "localhost";
    }
    long pid = ProcessHandle.current().pid();
    String random = UUID.randomUUID().toString().substring(0, 8);
    return host + ":" + pid + ":" + random;
  }

  public String workerId() {
    return workerId;
  }

  public Duration lease() {
    return lease;
  }

  public ScheduledExecutorService scheduler() {
    return scheduler;
  }

  /** Builds {@link WorkerOptions}. */
  public static final class Builder {
    private String workerId;
    private Duration lease = DEFAULT_LEASE;
    private ScheduledExecutorService scheduler;

    private Builder() {}

    /** The worker id (1 to 256 printable bytes) the leases name. */
    public Builder workerId(String id) {
      this.workerId = id;
      return this;
    }

    /** The lease to ask for (at most the server's --max-lease). */
    public Builder lease(Duration d) {
      this.lease = d;
      return this;
    }

    /** Where the heartbeats are scheduled (they never block it). */
    public Builder scheduler(ScheduledExecutorService s) {
      this.scheduler = s;
      return this;
    }

    public WorkerOptions build() {
      return new WorkerOptions(this);
    }
  }
}
