package dev.taskstate;

import dev.taskstate.v1.TaskServiceGrpc;
import io.grpc.CallOptions;
import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * A taskstate client: blocking methods here, the same operations returning {@link
 * CompletableFuture}s on {@link #async()}. Safe for concurrent use; close it when done.
 *
 * <pre>{@code
 * try (TaskStateClient c = TaskStateClient.fromEnv()) {
 *   Task t = c.create(new CreateOptions().requestMethod("tools/call"));
 *   c.complete(t.id(), Map.of("answer", 42));
 * }
 * }</pre>
 *
 * <p>Errors are unchecked {@link TaskStateException}s carrying the gRPC code, the reason and its
 * metadata; the common cases have subclasses ({@link TaskNotFoundException}, {@link
 * VersionMismatchException}, ...).
 */
public final class TaskStateClient implements AutoCloseable {
  /** This client's version, sent in the user agent. */
  public static final String VERSION = "0.1.0";

  /** Where {@code make run} (and the server's default --listen) serves. */
  public static final String DEFAULT_ADDRESS = "127.0.0.1:50051";

  private final ManagedChannel channel;
  private final AsyncTaskStateClient async;
  private final RetryPolicy watchRetry;
  private final Transport.CallMetadata metadata;
  /** False for a {@link #withSubject} view: close() leaves the shared channel open. */
  private final boolean ownsChannel;

  private TaskStateClient(Builder b) {
    Path ca = b.caCert;
    boolean files = ca != null || b.clientCert != null || b.clientKey != null;
    Transport.Choice choice = Transport.choose(b.address, b.tls, files);
    ChannelCredentials creds = Transport.credentials(choice.tls(), ca, b.clientCert, b.clientKey);
    this.channel =
        Grpc.newChannelBuilder(choice.target(), creds).userAgent("taskstate-java/" + VERSION).build();
    boolean plaintextOk = choice.tls() || Transport.isLoopback(choice.target()) || b.plaintextToken;
    this.metadata = new Transport.CallMetadata(b.token, b.subject, plaintextOk);
    this.async =
        new AsyncTaskStateClient(
            channel, callOptions(metadata), b.defaultTimeout, b.updateRetry);
    this.watchRetry = b.watchRetry;
    this.ownsChannel = true;
  }

  private TaskStateClient(TaskStateClient base, String subject) {
    this.channel = base.channel;
    this.metadata = base.metadata.withSubject(subject);
    this.async = base.async.withCallOptions(callOptions(metadata));
    this.watchRetry = base.watchRetry;
    this.ownsChannel = false;
  }

  private static CallOptions callOptions(Transport.CallMetadata metadata) {
    return CallOptions.DEFAULT.withCallCredentials(metadata);
  }

  /**
   * A client over this one's connection and options whose calls, streams included, act on behalf
   * of {@code subject} (the {@code taskstate-subject} metadata, 1 to 256 printable characters;
   * null or "": none). {@code create} records it on the task, and every other call then sees only
   * that subject's tasks (another subject's task is a {@link TaskNotFoundException}); a client
   * without one (a worker) sees all of the owner's tasks. Closing it does nothing: close this one.
   */
  public TaskStateClient withSubject(String subject) {
    return new TaskStateClient(this, subject);
  }

  /** The subject this client's calls carry, or null. */
  public String subject() {
    return metadata.subject();
  }

  /** A builder for a client of {@link #DEFAULT_ADDRESS} with no token. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * A client configured by the environment, as the CLI and the other clients are: {@code
   * TASKSTATE_ADDRESS} (default {@link #DEFAULT_ADDRESS}), {@code TASKSTATE_TOKEN}, {@code
   * TASKSTATE_TLS}, {@code TASKSTATE_CA_CERT}, {@code TASKSTATE_CLIENT_CERT} and {@code
   * TASKSTATE_CLIENT_KEY}.
   */
  public static TaskStateClient fromEnv() {
    return builder().fromEnv().build();
  }

  /** The {@link CompletableFuture} API over the same connection. */
  public AsyncTaskStateClient async() {
    return async;
  }

  /**
   * The generated blocking stub over this client's connection, with its token (no deadline: add
   * one with {@code withDeadlineAfter}). For what the idiomatic API leaves out on purpose.
   */
  public TaskServiceGrpc.TaskServiceBlockingStub stub() {
    return TaskServiceGrpc.newBlockingStub(channel)
        .withCallCredentials(async.callOptions().getCredentials());
  }

  /** Creates a task with the server's defaults. */
  public Task create() {
    return await(async.create());
  }

  /** Creates a task: status working, version 1. */
  public Task create(CreateOptions options) {
    return await(async.create(options));
  }

  /** Reads one task. */
  public Task get(String taskId) {
    return await(async.get(taskId));
  }

  /** Reads the first page of the caller's tasks, newest first. */
  public TaskPage list() {
    return list(new ListOptions());
  }

  /**
   * Reads one page, newest first. A page may be shorter than the page size and still not be the
   * last: only an empty {@link TaskPage#nextPageToken()} ends the list.
   */
  public TaskPage list(ListOptions options) {
    return await(async.list(options));
  }

  /**
   * Every task the options select, fetched page by page as the iteration goes (following the
   * next-page tokens); {@code options}' page token is where it starts.
   */
  public Iterable<Task> listAll(ListOptions options) {
    return () ->
        new Iterator<Task>() {
          private TaskPage page = list(options);
          private int i;

          @Override
          public boolean hasNext() {
            while (i >= page.tasks().size() && !page.isLast()) {
              page = list(options.pageToken(page.nextPageToken()));
              i = 0;
            }
            return i < page.tasks().size();
          }

          @Override
          public Task next() {
            if (!hasNext()) {
              throw new NoSuchElementException();
            }
            return page.tasks().get(i++);
          }
        };
  }

  /** Moves the task to another status. */
  public Task updateStatus(String taskId, Status status, String message) {
    return await(async.updateStatus(taskId, status, message));
  }

  /** Moves the task to another status if its version is {@code expectedVersion}. */
  public Task updateStatus(String taskId, Status status, String message, long expectedVersion) {
    return await(async.updateStatus(taskId, status, message, expectedVersion));
  }

  /**
   * Moves the task to another status under the conditions of {@code o}: an expected version, a
   * fencing token ({@link LeaseLostException} once that lease is not the live one).
   */
  public Task updateStatus(String taskId, Status status, String message, WriteOptions o) {
    return await(async.updateStatus(taskId, status, message, o));
  }

  /**
   * Moves the task to another status with input requests (see {@link
   * AsyncTaskStateClient#updateStatus(String, Status, String, Map, WriteOptions)}); {@code o} may
   * be null.
   */
  public Task updateStatus(
      String taskId, Status status, String message, Map<String, ?> inputRequests, WriteOptions o) {
    return await(async.updateStatus(taskId, status, message, inputRequests, o));
  }

  /**
   * Answers some of the task's outstanding input requests; see {@link
   * AsyncTaskStateClient#provideInput}.
   */
  public InputAccepted provideInput(String taskId, Map<String, ?> responses) {
    return await(async.provideInput(taskId, responses));
  }

  /** Asks the task's worker to stop; see {@link AsyncTaskStateClient#requestCancel}. */
  public Task requestCancel(String taskId) {
    return await(async.requestCancel(taskId));
  }

  /** Merges variables into the task: each key is set, a null value deletes the key. */
  public Task setVariables(String taskId, Map<String, ?> variables) {
    return await(async.setVariables(taskId, variables));
  }

  /** Merges variables if the task's version is {@code expectedVersion}. */
  public Task setVariables(String taskId, Map<String, ?> variables, long expectedVersion) {
    return await(async.setVariables(taskId, variables, expectedVersion));
  }

  /** Merges variables under the conditions of {@code o} (expected version, fencing token). */
  public Task setVariables(String taskId, Map<String, ?> variables, WriteOptions o) {
    return await(async.setVariables(taskId, variables, o));
  }

  /** Writes exactly the fields of {@code update} if the task's version is the expected one. */
  public Task putIfVersion(String taskId, long expectedVersion, TaskUpdate update) {
    return await(async.putIfVersion(taskId, expectedVersion, update));
  }

  /**
   * {@link #putIfVersion(String, long, TaskUpdate)} that also holds only while the lease of
   * {@code o}'s fencing token is live.
   */
  public Task putIfVersion(String taskId, long expectedVersion, TaskUpdate update, WriteOptions o) {
    return await(async.putIfVersion(taskId, expectedVersion, update, o));
  }

  /** Completes the task with a result (any JSON value). */
  public Task complete(String taskId, Object result) {
    return await(async.complete(taskId, result));
  }

  /**
   * Completes or fails the task in one atomic write. A null completion completes the task without
   * a result ({@code complete(id, (Object) null)} sets a JSON null result).
   */
  public Task complete(String taskId, Completion completion) {
    return await(async.complete(taskId, completion));
  }

  /** Fails the task with {@code error}. */
  public Task fail(String taskId, TaskError error) {
    return await(async.fail(taskId, error));
  }

  /** Cancels a non-terminal task. */
  public Task cancel(String taskId, String message) {
    return await(async.cancel(taskId, message));
  }

  /** Removes the task, whatever its status. */
  public void delete(String taskId) {
    await(async.delete(taskId));
  }

  /** Waits until the task is terminal (bounded only by the default timeout). */
  public Task waitFor(String taskId) {
    return await(async.waitFor(taskId, null));
  }

  /**
   * Returns the task as soon as its status is one of {@code statuses} (a terminal one if none), or
   * as it is when {@code timeout} runs out (null: no timeout of its own); look at its status.
   */
  public Task waitFor(String taskId, Duration timeout, Status... statuses) {
    return await(async.waitFor(taskId, timeout, statuses));
  }

  /**
   * Claims the task for a lease of the server's default length held by {@code workerId}: the task
   * with its {@link Task#lease()} (fencing token). {@link LeaseHeldException} when another worker
   * holds it. {@link #worker} also renews the lease and fences the writes.
   */
  public Task claim(String taskId, String workerId) {
    return claim(taskId, workerId, null);
  }

  /** Claims the task for a lease of {@code lease} (null: the server's default). */
  public Task claim(String taskId, String workerId, Duration lease) {
    return await(async.claim(taskId, workerId, lease));
  }

  /**
   * Claims the oldest task offered for claiming (created with a lease policy): of one request
   * method, waiting, and with the lease {@code options} say. Empty when there was none.
   */
  public Optional<Task> claimNext(String workerId, ClaimOptions options) {
    return await(async.claimNext(workerId, options));
  }

  /** Renews the lease of {@code fencingToken} for its last duration (a heartbeat). */
  public Task renewLease(String taskId, long fencingToken) {
    return renewLease(taskId, fencingToken, null, null);
  }

  /**
   * Renews the lease for {@code lease} from now (null: its last duration), writing {@code
   * statusMessage} in the same write (null: unchanged). {@link LeaseLostException} once it ended.
   */
  public Task renewLease(String taskId, long fencingToken, Duration lease, String statusMessage) {
    return await(async.renewLease(taskId, fencingToken, lease, statusMessage));
  }

  /** A worker of {@link WorkerOptions#defaults()}: claims tasks and keeps their leases alive. */
  public Worker worker() {
    return worker(WorkerOptions.defaults());
  }

  /**
   * A worker claiming tasks under one worker id: every claim is a {@link Lease} renewed in the
   * background and fencing the writes made through it.
   */
  public Worker worker(WorkerOptions options) {
    return new Worker(this, options);
  }

  /**
   * Read-modify-write with compare-and-swap retry; see {@link AsyncTaskStateClient#update}.
   *
   * <pre>{@code
   * c.update(id, t -> {
   *   Map<String, Object> vars = new HashMap<>(t.variables());
   *   vars.merge("count", 1L, (a, b) -> (Long) a + (Long) b);
   *   return TaskUpdate.create().variables(vars);
   * });
   * }</pre>
   */
  public Task update(String taskId, Function<Task, TaskUpdate> fn) {
    return await(async.update(taskId, fn));
  }

  /** Watches the task from its current version on; see {@link #watch(String, long)}. */
  public TaskWatch watch(String taskId) {
    return watch(taskId, 0);
  }

  /**
   * A resuming watch of the task's versions after {@code afterVersion} (0: the current version
   * first), ending after the terminal version. Close it if you stop early.
   */
  public TaskWatch watch(String taskId, long afterVersion) {
    return new TaskWatch(this, taskId, afterVersion, watchRetry);
  }

  /** Every change to any of the caller's tasks in full; see {@link #watchTasks(View, Status...)}. */
  public TaskStream watchTasks() {
    return watchTasks(null);
  }

  /**
   * Opens a stream of every committed change to any of the caller's tasks whose new status is in
   * {@code statuses} (all if none), each task in {@code view} (null: full). Returns once the
   * server has registered the watch, so a {@code list} made afterwards misses nothing: watch,
   * then list, keeping the highest version per task. It does not resume after a dropped
   * connection.
   */
  public TaskStream watchTasks(View view, Status... statuses) {
    return await(async.watchTasks(view, statuses));
  }

  /**
   * Opens one stream of {@link TaskEvent}s as {@code options} say (statuses, view, resume cursor,
   * all events); returns once the server has registered the watch. It does not resume after a
   * dropped connection; {@link #events(WatchOptions)} does.
   */
  public EventStream watchEvents(WatchOptions options) {
    return await(async.watchEvents(options));
  }

  /** Every change to any of the caller's tasks from now on; see {@link #events(WatchOptions)}. */
  public EventWatch events() {
    return events(new WatchOptions());
  }

  /**
   * A resuming watch of every change to the caller's tasks (writes, deletions, expiries) from
   * {@code options}' resume cursor, or from now. After UNAVAILABLE it reopens the stream from the
   * last event's cursor (with the watch retry policy, each event restoring the budget), so nothing
   * is missed or repeated; when the server no longer has the events after the cursor it lists the
   * tasks again and yields a {@link TaskEvent.Kind#RESET} then one write per task, and goes on.
   * Save {@link TaskEvent#resumeCursor()} to continue in another process. Close it when done.
   */
  public EventWatch events(WatchOptions options) {
    return new EventWatch(this, options == null ? new WatchOptions() : options, watchRetry);
  }

  /** Closes the connection (open streams are cancelled); a {@link #withSubject} view does nothing. */
  @Override
  public void close() {
    if (!ownsChannel) {
      return;
    }
    channel.shutdown();
    try {
      if (!channel.awaitTermination(2, TimeUnit.SECONDS)) {
        channel.shutdownNow();
      }
    } catch (InterruptedException e) {
      channel.shutdownNow();
      Thread.currentThread().interrupt();
    }
  }

  /** Waits for a future of the async API, throwing its error unwrapped. */
  static <T> T await(CompletableFuture<T> f) {
    try {
      return f.get();
    } catch (ExecutionException e) {
      throw TaskStateException.from(e.getCause());
    } catch (InterruptedException e) {
      f.cancel(true);
      Thread.currentThread().interrupt();
      throw TaskStateException.from(new java.util.concurrent.CancellationException("interrupted"));
    }
  }

  /** Configures a {@link TaskStateClient}. */
  public static final class Builder {
    private String address = DEFAULT_ADDRESS;
    private String token;
    private String subject;
    private Boolean tls;
    private Path caCert;
    private Path clientCert;
    private Path clientKey;
    private boolean plaintextToken;
    private Duration defaultTimeout;
    private RetryPolicy updateRetry = RetryPolicy.UPDATE_DEFAULT;
    private RetryPolicy watchRetry = RetryPolicy.WATCH_DEFAULT;

    private Builder() {}

    /** {@code host:port}, {@code https://host[:port]} or {@code http://host[:port]}. */
    public Builder address(String address) {
      this.address = address;
      return this;
    }

    /** Sends {@code authorization: Bearer <token>} with every call (null or "": none). */
    public Builder token(String token) {
      this.token = token;
      return this;
    }

    /**
     * Acts on behalf of this end user in every call (null or "": none); see {@link
     * TaskStateClient#withSubject}.
     */
    public Builder subject(String subject) {
      this.subject = subject;
      return this;
    }

    /**
     * Forces TLS (true) or plaintext (false). Without it: {@code https://} and {@code http://}
     * decide, else a loopback host is plaintext and any other TLS with the system roots.
     */
    public Builder tls(boolean tls) {
      this.tls = tls;
      return this;
    }

    /** Trusts the CA certificates of a PEM file instead of the system roots (asks for TLS). */
    public Builder caCert(Path pem) {
      this.caCert = pem;
      return this;
    }

    /** Presents a client certificate and its PKCS#8 key, PEM files (mutual TLS; asks for TLS). */
    public Builder clientCert(Path cert, Path key) {
      this.clientCert = cert;
      this.clientKey = key;
      return this;
    }

    /**
     * Allows the token to travel over plaintext to a non-loopback address (e.g. inside a private
     * network); without it such calls fail with UNAUTHENTICATED before anything is sent.
     */
    public Builder plaintextToken(boolean allow) {
      this.plaintextToken = allow;
      return this;
    }

    /** The deadline of unary calls (none by default); streams have none. */
    public Builder defaultTimeout(Duration timeout) {
      this.defaultTimeout = timeout;
      return this;
    }

    /** The retry policy of {@code update} ({@link RetryPolicy#UPDATE_DEFAULT}). */
    public Builder updateRetry(RetryPolicy p) {
      this.updateRetry = p;
      return this;
    }

    /** How {@code watch} resumes after a dropped stream ({@link RetryPolicy#WATCH_DEFAULT}). */
    public Builder watchRetry(RetryPolicy p) {
      this.watchRetry = p;
      return this;
    }

    /** Applies the process environment; see {@link TaskStateClient#fromEnv()}. */
    public Builder fromEnv() {
      return fromEnv(System.getenv());
    }

    /**
     * Applies the {@code TASKSTATE_*} variables of {@code env}; unset or empty ones change
     * nothing.
     *
     * @throws IllegalArgumentException for a TASKSTATE_TLS other than true/false
     */
    public Builder fromEnv(Map<String, String> env) {
      String addr = env.getOrDefault("TASKSTATE_ADDRESS", "").trim();
      if (!addr.isEmpty()) {
        address = addr;
      }
      String tok = env.getOrDefault("TASKSTATE_TOKEN", "");
      if (!tok.isEmpty()) {
        token = tok;
      }
      String t = Transport.lower(env.getOrDefault("TASKSTATE_TLS", ""));
      if (List.of("true", "1", "yes", "on").contains(t)) {
        tls = true;
      } else if (List.of("false", "0", "no", "off").contains(t)) {
        tls = false;
      } else if (!t.isEmpty()) {
        throw new IllegalArgumentException("TASKSTATE_TLS=" + t + ": want true or false");
      }
      String ca = env.getOrDefault("TASKSTATE_CA_CERT", "");
      if (!ca.isEmpty()) {
        caCert = Path.of(ca);
      }
      String cert = env.getOrDefault("TASKSTATE_CLIENT_CERT", "");
      String key = env.getOrDefault("TASKSTATE_CLIENT_KEY", "");
      if (!cert.isEmpty() || !key.isEmpty()) {
        clientCert = cert.isEmpty() ? null : Path.of(cert);
        clientKey = key.isEmpty() ? null : Path.of(key);
      }
      return this;
    }

    /** Whether the client would use TLS (the shared rule applied to this configuration). */
    boolean usesTls() {
      return Transport.choose(address, tls, caCert != null || clientCert != null || clientKey != null)
          .tls();
    }

    /** Builds the client; it connects on the first call. */
    public TaskStateClient build() {
      return new TaskStateClient(this);
    }
  }
}
