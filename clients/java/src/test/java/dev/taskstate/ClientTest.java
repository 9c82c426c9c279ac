package dev.taskstate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.taskstate.v1.ErrorReason;
import io.grpc.Status.Code;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/** The client against a real server (memory store, anonymous access on loopback). */
class ClientTest extends LiveServer {
  @Test
  void createGetAndTheTaskFields() {
    Task t =
        c.create(
            new CreateOptions()
                .ttl(Duration.ofHours(1))
                .pollInterval(Duration.ofSeconds(2))
                .requestMethod("tools/call")
                .variables(Map.of("n", 1, "s", "x")));
    assertEquals(Status.WORKING, t.status());
    assertEquals(1, t.version());
    assertEquals("tools/call", t.requestMethod());
    assertEquals(Map.of("n", 1L, "s", "x"), t.variables());
    assertEquals(Duration.ofHours(1), t.ttl());
    assertEquals(Duration.ofSeconds(2), t.pollInterval());
    assertTrue(t.expireTime().isAfter(t.createTime()));
    assertFalse(t.hasResult());
    assertEquals(t, c.get(t.id()));
  }

  @Test
  void idempotentCreateReturnsTheFirstTask() {
    String rid = "req-" + System.nanoTime();
    Task a = c.create(new CreateOptions().requestId(rid));
    Task b = c.create(new CreateOptions().requestId(rid));
    assertEquals(a.id(), b.id());
  }

  @Test
  void aMissingTaskIsTaskNotFound() {
    TaskNotFoundException e =
        assertThrows(
            TaskNotFoundException.class, () -> c.get("00000000-0000-7000-8000-000000000000"));
    assertEquals(Code.NOT_FOUND, e.code());
    assertEquals(ErrorReason.TASK_NOT_FOUND, e.errorReason());
  }

  @Test
  void statusVariablesAndVersionMismatch() {
    Task t = c.create();
    t = c.updateStatus(t.id(), Status.INPUT_REQUIRED, "need input");
    assertEquals(Status.INPUT_REQUIRED, t.status());
    assertEquals("need input", t.statusMessage());
    Map<String, Object> vars = new HashMap<>();
    vars.put("a", 1);
    vars.put("gone", null);
    t = c.setVariables(t.id(), vars, t.version());
    assertEquals(Map.of("a", 1L), t.variables());
    String id = t.id();
    VersionMismatchException e =
        assertThrows(
            VersionMismatchException.class,
            () -> c.updateStatus(id, Status.WORKING, "", 1));
    assertEquals(1, e.expectedVersion().getAsLong());
    assertEquals(3, e.actualVersion().getAsLong());
    FailedPreconditionException self =
        assertThrows(
            FailedPreconditionException.class,
            () -> c.updateStatus(id, Status.INPUT_REQUIRED, ""));
    assertEquals(ErrorReason.INVALID_TRANSITION, self.errorReason());
  }

  @Test
  void putIfVersionWritesExactlyTheGivenFields() {
    Task t = c.create(new CreateOptions().variables(Map.of("keep", "no")));
    t =
        c.putIfVersion(
            t.id(),
            t.version(),
            TaskUpdate.create().variables(Map.of("new", true)).statusMessage("half way"));
    assertEquals(Map.of("new", true), t.variables());
    assertEquals("half way", t.statusMessage());
    assertEquals(Status.WORKING, t.status());
    InvalidArgumentException empty =
        assertThrows(
            InvalidArgumentException.class, () -> c.putIfVersion(c.create().id(), 1, TaskUpdate.create()));
    assertEquals(ErrorReason.INVALID_ARGUMENT, empty.errorReason());
  }

  @Test
  void completeFailCancelDeleteAndTerminalTasksAreFrozen() {
    Task done = c.complete(c.create().id(), Map.of("answer", 42));
    assertEquals(Status.COMPLETED, done.status());
    assertEquals(Map.of("answer", 42L), done.result());
    Task nullResult = c.complete(c.create().id(), (Object) null);
    assertTrue(nullResult.hasResult(), "a JSON null result is set");
    assertNull(nullResult.result());

    Task failed = c.fail(c.create().id(), TaskError.of(-32000, "boom", Map.of("why", "disk")));
    assertEquals(Status.FAILED, failed.status());
    assertEquals(TaskError.of(-32000, "boom", Map.of("why", "disk")), failed.error());

    Task cancelled = c.cancel(c.create().id(), "stop");
    assertEquals(Status.CANCELLED, cancelled.status());
    FailedPreconditionException frozen =
        assertThrows(
            FailedPreconditionException.class,
            () -> c.setVariables(cancelled.id(), Map.of("x", 1)));
    assertEquals(ErrorReason.TASK_TERMINAL, frozen.errorReason());

    c.delete(done.id());
    assertThrows(TaskNotFoundException.class, () -> c.get(done.id()));
  }

  @Test
  void aValueJsonCannotCarryIsRefusedBeforeAnyCall() {
    Task t = c.create();
    InvalidArgumentException e =
        assertThrows(
            InvalidArgumentException.class,
            () -> c.setVariables(t.id(), Map.of("order_id", (1L << 53) + 1)));
    assertEquals(ErrorReason.VALUE_NOT_REPRESENTABLE, e.errorReason());
    assertEquals("variables.order_id", e.metadata().get("path"));
    assertEquals(1, c.get(t.id()).version(), "nothing was written");
    CompletableFuture<Task> f = c.async().complete(t.id(), List.of(Double.NaN));
    CompletionException ce = assertThrows(CompletionException.class, f::join);
    assertInstanceOf(InvalidArgumentException.class, ce.getCause());
  }

  @Test
  void listPagesAndTheBasicView() throws Exception {
    try (TestServer own = TestServer.start();
        TaskStateClient oc = own.client(null)) {
      List<String> ids = new ArrayList<>();
      for (int i = 0; i < 5; i++) {
        ids.add(0, oc.create(new CreateOptions().variables(Map.of("i", i))).id());
      }
      oc.complete(ids.get(0), "r");
      TaskPage first = oc.list(new ListOptions().pageSize(2));
      assertEquals(2, first.tasks().size());
      assertFalse(first.isLast());
      List<String> all = new ArrayList<>();
      oc.listAll(new ListOptions().pageSize(2)).forEach(t -> all.add(t.id()));
      assertEquals(ids, all, "newest first, every page followed");
      TaskPage basic = oc.list(new ListOptions().view(View.BASIC));
      assertTrue(basic.tasks().stream().allMatch(t -> t.variables().isEmpty() && !t.hasResult()));
      TaskPage full = oc.list(new ListOptions().view(View.FULL).statuses(Status.COMPLETED));
      assertEquals(1, full.tasks().size());
      assertEquals("r", full.tasks().get(0).result());
    }
  }

  @Test
  void waitForReturnsOnTheStatusOrWhenTheTimeoutEnds() throws Exception {
    Task t = c.create();
    Task timedOut = c.waitFor(t.id(), Duration.ofMillis(200));
    assertEquals(Status.WORKING, timedOut.status());
    CompletableFuture<Task> waiting = c.async().waitFor(t.id(), Duration.ofSeconds(20));
    c.complete(t.id(), "done");
    assertEquals(Status.COMPLETED, waiting.get().status());
    Task u = c.create();
    CompletableFuture<Task> input =
        c.async().waitFor(u.id(), Duration.ofSeconds(20), Status.INPUT_REQUIRED);
    c.updateStatus(u.id(), Status.INPUT_REQUIRED, "");
    assertEquals(Status.INPUT_REQUIRED, input.get().status());
  }

  @Test
  void updateLosesNoConcurrentIncrement() throws Exception {
    Task t = c.create(new CreateOptions().variables(Map.of("count", 0)));
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try {
      List<Future<Task>> futures = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        futures.add(
            pool.submit(
                () ->
                    c.update(
                        t.id(),
                        cur -> {
                          Map<String, Object> vars = new LinkedHashMap<>(cur.variables());
                          vars.put("count", (Long) vars.get("count") + 1);
                          return TaskUpdate.create().variables(vars);
                        })));
      }
      for (Future<Task> f : futures) {
        f.get();
      }
    } finally {
      pool.shutdown();
    }
    Task after = c.get(t.id());
    assertEquals(8L, after.variables().get("count"));
    assertEquals(9, after.version());
    assertEquals(after, c.update(t.id(), cur -> null), "nothing to change: nothing written");
    c.complete(t.id(), null);
    FailedPreconditionException e =
        assertThrows(
            FailedPreconditionException.class,
            () -> c.update(t.id(), cur -> TaskUpdate.create().statusMessage("late")));
    assertEquals(ErrorReason.TASK_TERMINAL, e.errorReason());
  }

  @Test
  void watchYieldsEachVersionUntilTheTerminalOne() {
    Task t = c.create();
    c.setVariables(t.id(), Map.of("p", 0.5));
    List<Long> versions = new ArrayList<>();
    try (TaskWatch w = c.watch(t.id())) {
      for (Task v : w) {
        versions.add(v.version());
        if (v.version() == 2) {
          c.complete(t.id(), "ok");
        }
      }
    }
    assertEquals(List.of(2L, 3L), versions);
    List<Long> resumed = new ArrayList<>();
    c.watch(t.id(), 1).forEachRemaining(v -> resumed.add(v.version()));
    assertEquals(List.of(3L), resumed, "after_version 1: the current version, newer than 1");
    List<Long> none = new ArrayList<>();
    c.watch(t.id(), 3).forEachRemaining(v -> none.add(v.version()));
    assertEquals(List.of(), none, "already past the terminal version");
  }

  @Test
  void watchOfADeletedTaskEndsWithNotFound() {
    Task t = c.create();
    TaskWatch w = c.watch(t.id());
    assertEquals(1, w.next().version());
    c.delete(t.id());
    assertThrows(TaskNotFoundException.class, w::hasNext);
    assertThrows(TaskNotFoundException.class, w::hasNext, "the same end again");
  }

  @Test
  void watchTasksSeesChangesMadeAfterItOpens() throws Exception {
    try (TaskStream s = c.watchTasks(View.BASIC, Status.COMPLETED)) {
      Task t = c.create(new CreateOptions().variables(Map.of("big", "x")));
      c.complete(t.id(), "r");
      Task seen = s.next();
      while (!seen.id().equals(t.id())) {
        seen = s.next();
      }
      assertEquals(Status.COMPLETED, seen.status());
      assertTrue(seen.variables().isEmpty() && !seen.hasResult(), "basic view");
      s.close();
      TaskStateException closed = assertThrows(TaskStateException.class, s::hasNext);
      assertEquals(Code.CANCELLED, closed.code());
    }
  }

  @Test
  void tokensAreSentAsCallCredentials() throws Exception {
    java.nio.file.Path tokens = java.nio.file.Files.createTempFile("tokens", ".json");
    java.nio.file.Files.writeString(tokens, "{\"alice\": [\"tok-alice\"]}");
    try (TestServer authed = TestServer.start("--auth-tokens", tokens.toString());
        TaskStateClient alice = authed.client("tok-alice");
        TaskStateClient nobody = authed.client(null);
        TaskStateClient wrong = authed.client("tok-wrong")) {
      assertEquals(1, alice.create().version());
      assertThrows(UnauthenticatedException.class, () -> nobody.create());
      UnauthenticatedException e = assertThrows(UnauthenticatedException.class, () -> wrong.list());
      assertEquals(Code.UNAUTHENTICATED, e.code());
    }
  }
}
