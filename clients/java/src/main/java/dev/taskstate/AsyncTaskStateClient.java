package dev.taskstate;

import dev.taskstate.v1.CancelTaskRequest;
import dev.taskstate.v1.ClaimTaskRequest;
import dev.taskstate.v1.CompleteTaskRequest;
import dev.taskstate.v1.DeleteTaskRequest;
import dev.taskstate.v1.GetTaskRequest;
import dev.taskstate.v1.ProvideInputRequest;
import dev.taskstate.v1.RenewLeaseRequest;
import dev.taskstate.v1.RequestCancelRequest;
import dev.taskstate.v1.SetVariablesRequest;
import dev.taskstate.v1.TaskServiceGrpc;
import dev.taskstate.v1.UpdateTaskStatusRequest;
import dev.taskstate.v1.WaitTaskRequest;
import dev.taskstate.v1.WatchTaskRequest;
import dev.taskstate.v1.WatchTasksRequest;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.MethodDescriptor;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * The {@link CompletableFuture} API of a {@link TaskStateClient} (get it with {@code
 * client.async()}): the same operations, each returning at once. A future fails with a {@link
 * TaskStateException} (inside the usual {@code CompletionException} of {@code join()}); cancelling
 * it cancels the call. Values that cannot be sent fail the future before anything is sent.
 */
public final class AsyncTaskStateClient {
  /** How much longer than its own timeout a wait's call may take before its deadline. */
  static final Duration WAIT_MARGIN = Duration.ofSeconds(10);

  private final Channel channel;
  private final CallOptions options;
  private final Duration defaultTimeout;
  private final RetryPolicy updateRetry;

  AsyncTaskStateClient(
      Channel channel, CallOptions options, Duration defaultTimeout, RetryPolicy updateRetry) {
    this.channel = channel;
    this.options = options;
    this.defaultTimeout = defaultTimeout;
    this.updateRetry = updateRetry;
  }

  /** This client over the same channel with other call options (another subject). */
  AsyncTaskStateClient withCallOptions(CallOptions o) {
    return new AsyncTaskStateClient(channel, o, defaultTimeout, updateRetry);
  }

  /** The call options every call uses (the token's credentials), without a deadline. */
  CallOptions callOptions() {
    return options;
  }

  Channel channel() {
    return channel;
  }

  /** Creates a task with the server's defaults. */
  public CompletableFuture<Task> create() {
    return create(new CreateOptions());
  }

  /** Creates a task: status working, version 1. */
  public CompletableFuture<Task> create(CreateOptions o) {
    return unary(TaskServiceGrpc.getCreateTaskMethod(), o::toRequest, r -> task(r.getTask()));
  }

  /** Reads one task. */
  public CompletableFuture<Task> get(String taskId) {
    return unary(
        TaskServiceGrpc.getGetTaskMethod(),
        () -> GetTaskRequest.newBuilder().setTaskId(taskId).build(),
        r -> task(r.getTask()));
  }

  /** Reads one page of the caller's tasks, newest first. */
  public CompletableFuture<TaskPage> list(ListOptions o) {
    return unary(
        TaskServiceGrpc.getListTasksMethod(),
        o::toRequest,
        r -> {
          List<Task> tasks = new ArrayList<>();
          r.getTasksList().forEach(t -> tasks.add(Task.fromProto(t)));
          return new TaskPage(List.copyOf(tasks), r.getNextPageToken(), r.getResumeCursor());
        });
  }

  /** Moves the task to another status. */
  public CompletableFuture<Task> updateStatus(String taskId, Status status, String message) {
    return updateStatus(taskId, status, message, new WriteOptions());
  }

  /** Moves the task to another status if its version is {@code expectedVersion}. */
  public CompletableFuture<Task> updateStatus(
      String taskId, Status status, String message, Long expectedVersion) {
    WriteOptions o = new WriteOptions();
    if (expectedVersion != null) {
      o.expectedVersion(expectedVersion);
    }
    return updateStatus(taskId, status, message, o);
  }

  /** Moves the task to another status under the conditions of {@code o} (null: none). */
  public CompletableFuture<Task> updateStatus(
      String taskId, Status status, String message, WriteOptions o) {
    return updateStatus(taskId, status, message, null, o);
  }

  /**
   * Moves the task to another status with input requests (only with {@link
   * Status#INPUT_REQUIRED}): questions for the requester by a key unique over the task's lifetime,
   * merged into its {@link Task#inputRequests()}. A key already used by another request, or already
   * answered, is INVALID_ARGUMENT; an identical re-send is fine. The requester answers with {@link
   * #provideInput}. {@code inputRequests} and {@code o} may be null.
   */
  public CompletableFuture<Task> updateStatus(
      String taskId,
      Status status,
      String message,
      Map<String, ?> inputRequests,
      WriteOptions o) {
    WriteOptions w = o == null ? new WriteOptions() : o;
    return unary(
        TaskServiceGrpc.getUpdateTaskStatusMethod(),
        () -> {
          UpdateTaskStatusRequest.Builder b =
              UpdateTaskStatusRequest.newBuilder()
                  .setTaskId(taskId)
                  .setStatus(status.toProto())
                  .setStatusMessage(message == null ? "" : message);
          if (inputRequests != null) {
            b.putAllInputRequests(Values.toValues(inputRequests, "input_requests"));
          }
          if (w.expectedVersion() != null) {
            b.setExpectedVersion(w.expectedVersion());
          }
          if (w.fencingToken() != null) {
            b.setFencingToken(w.fencingToken());
          }
          return b.build();
        },
        r -> task(r.getTask()));
  }

  /** Merges variables into the task: each key is set, a null value deletes the key. */
  public CompletableFuture<Task> setVariables(String taskId, Map<String, ?> variables) {
    return setVariables(taskId, variables, new WriteOptions());
  }

  /** Merges variables if the task's version is {@code expectedVersion} (null: any). */
  public CompletableFuture<Task> setVariables(
      String taskId, Map<String, ?> variables, Long expectedVersion) {
    WriteOptions o = new WriteOptions();
    if (expectedVersion != null) {
      o.expectedVersion(expectedVersion);
    }
    return setVariables(taskId, variables, o);
  }

  /** Merges variables under the conditions of {@code o} (null: none). */
  public CompletableFuture<Task> setVariables(
      String taskId, Map<String, ?> variables, WriteOptions o) {
    WriteOptions w = o == null ? new WriteOptions() : o;
    return unary(
        TaskServiceGrpc.getSetVariablesMethod(),
        () -> {
          SetVariablesRequest.Builder b =
              SetVariablesRequest.newBuilder()
                  .setTaskId(taskId)
                  .putAllVariables(Values.toValues(variables, "variables"));
          if (w.expectedVersion() != null) {
            b.setExpectedVersion(w.expectedVersion());
          }
          if (w.fencingToken() != null) {
            b.setFencingToken(w.fencingToken());
          }
          return b.build();
        },
        r -> task(r.getTask()));
  }

  /** Writes exactly the fields of {@code update} if the task's version is the expected one. */
  public CompletableFuture<Task> putIfVersion(
      String taskId, long expectedVersion, TaskUpdate update) {
    return putIfVersion(taskId, expectedVersion, update, null);
  }

  /**
   * Writes exactly the fields of {@code update} if the task's version is the expected one, and
   * only while the lease of {@code o}'s fencing token is live (null: no fence). An expected version
   * in {@code o} must be {@code expectedVersion}.
   */
  public CompletableFuture<Task> putIfVersion(
      String taskId, long expectedVersion, TaskUpdate update, WriteOptions o) {
    Long fence = o == null ? null : o.fencingToken();
    return unary(
        TaskServiceGrpc.getPutIfVersionMethod(),
        () -> {
          if (o != null && o.expectedVersion() != null && o.expectedVersion() != expectedVersion) {
            throw new IllegalArgumentException(
                "putIfVersion: WriteOptions.expectedVersion differs from expectedVersion");
          }
          return update.toRequest(taskId, expectedVersion, fence);
        },
        r -> task(r.getTask()));
  }

  /** Completes the task with a result (any JSON value). */
  public CompletableFuture<Task> complete(String taskId, Object result) {
    return local(() -> complete(taskId, Completion.completed().result(result)));
  }

  /**
   * Completes or fails the task in one atomic write. A null completion completes the task without
   * a result (for a JSON null result, pass {@code (Object) null} to {@link #complete(String,
   * Object)}).
   */
  public CompletableFuture<Task> complete(String taskId, Completion c) {
    Completion done = c == null ? Completion.completed() : c;
    return unary(
        TaskServiceGrpc.getCompleteTaskMethod(),
        () -> done.toRequest(taskId),
        r -> task(r.getTask()));
  }

  /** Fails the task with {@code error}. */
  public CompletableFuture<Task> fail(String taskId, TaskError error) {
    return local(() -> complete(taskId, Completion.failed(error)));
  }

  /** Runs {@code call}, turning a value refused locally into a failed future. */
  private static <T> CompletableFuture<T> local(Supplier<CompletableFuture<T>> call) {
    try {
      return call.get();
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  /** Cancels a non-terminal task. */
  public CompletableFuture<Task> cancel(String taskId, String message) {
    return unary(
        TaskServiceGrpc.getCancelTaskMethod(),
        () ->
            CancelTaskRequest.newBuilder()
                .setTaskId(taskId)
                .setStatusMessage(message == null ? "" : message)
                .build(),
        r -> task(r.getTask()));
  }

  /**
   * Answers some of the task's outstanding input requests ({@link Task#outstandingInput()}):
   * answers to keys without an outstanding request (never asked, or already answered) are
   * ignored, so each answer is recorded once. When none remains outstanding, an input_required
   * task moves back to working in the same write.
   */
  public CompletableFuture<InputAccepted> provideInput(String taskId, Map<String, ?> responses) {
    return unary(
        TaskServiceGrpc.getProvideInputMethod(),
        () ->
            ProvideInputRequest.newBuilder()
                .setTaskId(taskId)
                .putAllInputResponses(Values.toValues(responses, "input_responses"))
                .build(),
        r -> new InputAccepted(task(r.getTask()), r.getAcceptedKeysList()));
  }

  /**
   * Asks the task's worker to stop: sets {@link Task#cancelRequested()} (a task already asked, or
   * terminal, is returned unchanged). The status stays until the worker, seeing the flag through
   * its watch, cancels or finishes the task.
   */
  public CompletableFuture<Task> requestCancel(String taskId) {
    return unary(
        TaskServiceGrpc.getRequestCancelMethod(),
        () -> RequestCancelRequest.newBuilder().setTaskId(taskId).build(),
        r -> task(r.getTask()));
  }

  /** Removes the task, whatever its status. */
  public CompletableFuture<Void> delete(String taskId) {
    return unary(
        TaskServiceGrpc.getDeleteTaskMethod(),
        () -> DeleteTaskRequest.newBuilder().setTaskId(taskId).build(),
        r -> null);
  }

  /**
   * Completes with the task as soon as its status is one of {@code statuses} (a terminal one if
   * none), or with the task as it is when {@code timeout} (null: none) runs out; look at its
   * status. The call's deadline is the timeout plus a margin, or the default timeout without one.
   */
  public CompletableFuture<Task> waitFor(String taskId, Duration timeout, Status... statuses) {
    Duration deadline = timeout == null ? defaultTimeout : timeout.plus(WAIT_MARGIN);
    return unary(
        TaskServiceGrpc.getWaitTaskMethod(),
        () -> {
          WaitTaskRequest.Builder b = WaitTaskRequest.newBuilder().setTaskId(taskId);
          if (timeout != null) {
            b.setTimeout(Task.toProto(timeout));
          }
          for (Status s : statuses) {
            b.addStatuses(s.toProto());
          }
          return b.build();
        },
        r -> task(r.getTask()),
        deadline);
  }

  /**
   * Claims the task {@code taskId} for a lease held by {@code workerId} ({@code lease} null: the
   * server's default). Completes with the task carrying its lease and fencing token; the holder's
   * own retry gets its lease back unchanged. Fails with {@link LeaseHeldException} when another
   * worker holds it. See {@link TaskStateClient#worker} for a helper that also renews it.
   */
  public CompletableFuture<Task> claim(String taskId, String workerId, Duration lease) {
    return unary(
        TaskServiceGrpc.getClaimTaskMethod(),
        () -> claimRequest(taskId, workerId, lease, ClaimOptions.defaults()),
        r -> task(r.getTask()));
  }

  /**
   * Claims the oldest task offered for claiming (created with a lease policy, {@code working},
   * unleased), optionally of one request method and waiting up to {@code options.waitUpTo()} for
   * one. Completes with the task and its lease, or empty when there was none. The call's deadline
   * is the wait plus a margin, or the default timeout without one.
   */
  public CompletableFuture<Optional<Task>> claimNext(String workerId, ClaimOptions options) {
    ClaimOptions o = options == null ? ClaimOptions.defaults() : options;
    Duration deadline = o.waitUpTo() == null ? defaultTimeout : o.waitUpTo().plus(WAIT_MARGIN);
    return unary(
        TaskServiceGrpc.getClaimTaskMethod(),
        () -> claimRequest("", workerId, o.lease(), o),
        r -> r.hasTask() ? Optional.of(task(r.getTask())) : Optional.<Task>empty(),
        deadline);
  }

  private static ClaimTaskRequest claimRequest(
      String taskId, String workerId, Duration lease, ClaimOptions o) {
    ClaimTaskRequest.Builder b =
        ClaimTaskRequest.newBuilder().setTaskId(taskId).setWorkerId(workerId);
    if (lease != null) {
      b.setLeaseDuration(Task.toProto(lease));
    }
    if (o.requestMethod() != null) {
      b.setRequestMethod(o.requestMethod());
    }
    if (o.waitUpTo() != null) {
      b.setWaitTimeout(Task.toProto(o.waitUpTo()));
    }
    return b.build();
  }

  /**
   * Renews the lease of {@code fencingToken} on the task for {@code lease} from now (null: its
   * last duration), writing {@code statusMessage} in the same write (null: unchanged). Fails with
   * {@link LeaseLostException} once that lease has ended.
   */
  public CompletableFuture<Task> renewLease(
      String taskId, long fencingToken, Duration lease, String statusMessage) {
    return renewLease(taskId, fencingToken, lease, statusMessage, defaultTimeout);
  }

  /** {@link #renewLease(String, long, Duration, String)} with the call's own deadline. */
  CompletableFuture<Task> renewLease(
      String taskId, long fencingToken, Duration lease, String statusMessage, Duration deadline) {
    return unary(
        TaskServiceGrpc.getRenewLeaseMethod(),
        () -> {
          RenewLeaseRequest.Builder b =
              RenewLeaseRequest.newBuilder().setTaskId(taskId).setFencingToken(fencingToken);
          if (lease != null) {
            b.setLeaseDuration(Task.toProto(lease));
          }
          if (statusMessage != null) {
            b.setStatusMessage(statusMessage);
          }
          return b.build();
        },
        r -> task(r.getTask()),
        deadline);
  }

  /**
   * Read-modify-write that never loses a concurrent write: reads the task, asks {@code fn} what to
   * change, and writes exactly that with {@code putIfVersion} at the version read. When another
   * writer got there first (VERSION_MISMATCH), the whole read-fn-write is retried with jittered
   * backoff, so {@code fn} may run several times and must have no side effects. When {@code fn}
   * returns null or an empty update, nothing is written and the task as read is the answer.
   */
  public CompletableFuture<Task> update(String taskId, Function<Task, TaskUpdate> fn) {
    return updateAttempt(taskId, fn, new RetryPolicy.Backoff(updateRetry));
  }

  private CompletableFuture<Task> updateAttempt(
      String taskId, Function<Task, TaskUpdate> fn, RetryPolicy.Backoff backoff) {
    return get(taskId)
        .thenCompose(
            t -> {
              TaskUpdate u = fn.apply(t);
              if (u == null || u.isEmpty()) {
                return CompletableFuture.completedFuture(t);
              }
              return putIfVersion(taskId, t.version(), u)
                  .exceptionallyCompose(
                      e -> {
                        RuntimeException err = TaskStateException.from(e);
                        long sleep = err instanceof VersionMismatchException ? backoff.next() : -1;
                        if (sleep < 0) {
                          return CompletableFuture.failedFuture(err);
                        }
                        return CompletableFuture.runAsync(
                                () -> {},
                                CompletableFuture.delayedExecutor(sleep, TimeUnit.MILLISECONDS))
                            .thenCompose(x -> updateAttempt(taskId, fn, backoff));
                      });
            });
  }

  /**
   * Opens one WatchTask stream (no resumption: see {@link TaskStateClient#watch}): the current
   * task if its version is above {@code afterVersion}, then every later version, ending after
   * the terminal one.
   */
  public TaskStream watchTask(String taskId, long afterVersion) {
    WatchTaskRequest req =
        WatchTaskRequest.newBuilder().setTaskId(taskId).setAfterVersion(afterVersion).build();
    return TaskStream.open(
        channel, TaskServiceGrpc.getWatchTaskMethod(), options, req, r -> r.getTask());
  }

  /**
   * Opens a stream of every committed change to any of the caller's tasks whose new status is in
   * {@code statuses} (all if none); completes once the server has registered the watch, so a
   * {@code list} made afterwards misses nothing.
   */
  public CompletableFuture<TaskStream> watchTasks(View view, Status... statuses) {
    WatchTasksRequest.Builder b = WatchTasksRequest.newBuilder();
    if (view != null) {
      b.setView(view.toProto());
    }
    for (Status s : statuses) {
      b.addStatuses(s.toProto());
    }
    return TaskStream.open(
            channel, TaskServiceGrpc.getWatchTasksMethod(), options, b.build(), r -> r.getTask())
        .opened();
  }

  /**
   * Opens one WatchTasks stream of {@link TaskEvent}s as {@code options} say (no resumption: see
   * {@link TaskStateClient#events}); completes once the server has registered the watch. With a
   * resume cursor the server replays what followed it, or fails the stream with {@link
   * FeedCompactedException} when it no longer has it.
   */
  public CompletableFuture<EventStream> watchEvents(WatchOptions o) {
    WatchTasksRequest req = (o == null ? new WatchOptions() : o).toRequest();
    return new EventStream(
            new ServerStream<>(channel, TaskServiceGrpc.getWatchTasksMethod(), options, req))
        .opened();
  }

  private static Task task(dev.taskstate.v1.Task t) {
    return Task.fromProto(t);
  }

  private <Q, R, T> CompletableFuture<T> unary(
      MethodDescriptor<Q, R> method, Supplier<Q> request, Function<R, T> convert) {
    return unary(method, request, convert, defaultTimeout);
  }

  /** One unary call: the request built (locally failing the future), sent, and converted. */
  private <Q, R, T> CompletableFuture<T> unary(
      MethodDescriptor<Q, R> method,
      Supplier<Q> request,
      Function<R, T> convert,
      Duration deadline) {
    Q req;
    try {
      req = request.get();
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
    CallOptions o = options;
    if (deadline != null) {
      o = o.withDeadlineAfter(deadline.toNanos(), TimeUnit.NANOSECONDS);
    }
    ClientCall<Q, R> call = channel.newCall(method, o);
    CompletableFuture<T> f = new CompletableFuture<>();
    f.whenComplete(
        (v, e) -> {
          if (f.isCancelled()) {
            call.cancel("cancelled by the caller", null);
          }
        });
    ClientCalls.asyncUnaryCall(
        call,
        req,
        new StreamObserver<R>() {
          private R value;

          @Override
          public void onNext(R v) {
            value = v;
          }

          @Override
          public void onError(Throwable t) {
            f.completeExceptionally(TaskStateException.from(t));
          }

          @Override
          public void onCompleted() {
            try {
              f.complete(convert.apply(value));
            } catch (RuntimeException e) {
              f.completeExceptionally(e);
            }
          }
        });
    return f;
  }
}
