package dev.taskstate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Claims, renewals, fenced writes and the worker helper against a real server. */
class LeaseTest extends LiveServer {
  /** A request method of this test only, so claimNext never takes another test's task. */
  private static String method() {
    return "m-" + UUID.randomUUID();
  }

  private static Task offered(String method, LeasePolicy policy) {
    return c.create(new CreateOptions().requestMethod(method).leasePolicy(policy));
  }

  private static Worker worker(String id, Duration lease) {
    return c.worker(WorkerOptions.builder().workerId(id).lease(lease).build());
  }

  @Test
  void claimRenewAndFencedWritesWithThePlainCalls() {
    Task t = c.create(new CreateOptions().leasePolicy(LeasePolicy.RELEASE).maxAttempts(2));
    assertEquals(LeasePolicy.RELEASE, t.leasePolicy());
    assertEquals(2, t.maxAttempts());
    assertEquals(1, t.attempt());
    assertNull(t.lease());
    assertNull(c.create().leasePolicy());

    Task claimed = c.claim(t.id(), "w1", Duration.ofSeconds(30));
    TaskLease l = claimed.lease();
    assertEquals("w1", l.workerId());
    assertTrue(l.fencingToken() >= 1);
    assertEquals(Duration.ofSeconds(30), l.duration());
    assertTrue(l.expireTime().isAfter(claimed.updateTime()));
    assertEquals(l, c.claim(t.id(), "w1").lease(), "the holder's retry gets its lease back");

    Task renewed = c.renewLease(t.id(), l.fencingToken(), Duration.ofMinutes(1), "half way");
    assertEquals("half way", renewed.statusMessage());
    assertEquals(Duration.ofMinutes(1), renewed.lease().duration());
    assertEquals(l.fencingToken(), renewed.lease().fencingToken());
    assertTrue(renewed.version() > claimed.version());

    LeaseHeldException held = assertThrows(LeaseHeldException.class, () -> c.claim(t.id(), "w2"));
    assertEquals(renewed.lease().expireTime(), held.leaseExpireTime().get());

    long token = l.fencingToken();
    WriteOptions fenced = new WriteOptions().fencingToken(token);
    assertEquals(1L, c.setVariables(t.id(), Map.of("a", 1), fenced).variables().get("a"));
    WriteOptions stale = new WriteOptions().fencingToken(token + 1);
    LeaseLostException lost =
        assertThrows(
            LeaseLostException.class,
            () -> c.updateStatus(t.id(), Status.INPUT_REQUIRED, "x", stale));
    assertEquals(token + 1, lost.fencingToken().getAsLong());
    assertEquals(token, lost.currentFencingToken().getAsLong());
    Task cur = c.get(t.id());
    Task put =
        c.putIfVersion(t.id(), cur.version(), TaskUpdate.create().statusMessage("put"), fenced);
    assertEquals("put", put.statusMessage());
    Task done = c.complete(t.id(), Completion.completed().result("r").fencingToken(token));
    assertEquals(Status.COMPLETED, done.status());
    assertNull(done.lease(), "leaving working ends the lease");
    assertThrows(LeaseLostException.class, () -> c.renewLease(t.id(), token));
  }

  @Test
  void claimNextIsEmptyWhenNothingIsOffered() {
    String m = method();
    c.create(new CreateOptions().requestMethod(m)); // no lease policy: not offered
    ClaimOptions only = ClaimOptions.builder().requestMethod(m).build();
    assertEquals(Optional.empty(), c.claimNext("w", only));
    assertEquals(Optional.empty(), worker("w", Duration.ofSeconds(5)).claimNext(only));
  }

  @Test
  void workerClaimNextWaitsForATaskAndItsWritesCarryTheToken() throws Exception {
    String m = method();
    Worker w = worker("w-wait", Duration.ofSeconds(30));
    ClaimOptions o =
        ClaimOptions.builder().requestMethod(m).waitUpTo(Duration.ofSeconds(20)).build();
    CompletableFuture<Optional<Lease>> waiting =
        CompletableFuture.supplyAsync(() -> w.claimNext(o));
    Task t = offered(m, LeasePolicy.FAIL);
    try (Lease lease = waiting.get(30, TimeUnit.SECONDS).orElseThrow()) {
      assertEquals(t.id(), lease.taskId());
      assertEquals("w-wait", lease.task().lease().workerId());
      assertEquals(lease.fencingToken(), lease.task().lease().fencingToken());
      assertEquals(1L, lease.setVariables(Map.of("p", 1)).variables().get("p"));
      Task done = lease.run(() -> lease.complete(Map.of("ok", true)));
      assertEquals(Status.COMPLETED, done.status());
      assertEquals(done, lease.task());
      assertFalse(lease.isLost());
    }
  }

  @Test
  void aWriteAfterTheLeaseMovedOnIsLeaseLostAndTheLossIsSignalled() throws Exception {
    Task t = offered(method(), LeasePolicy.FAIL);
    try (Lease lease = worker("w-lost", Duration.ofSeconds(30)).claim(t.id())) {
      c.updateStatus(t.id(), Status.INPUT_REQUIRED, "taken away"); // unfenced: ends the lease
      LeaseLostException e =
          assertThrows(LeaseLostException.class, () -> lease.setVariables(Map.of("x", 1)));
      assertTrue(lease.isLost());
      assertSame(e, lease.lost().get(1, TimeUnit.SECONDS));
      assertSame(e, assertThrows(LeaseLostException.class, () -> lease.complete("late")),
          "refused locally once lost");
      assertEquals(Status.INPUT_REQUIRED, c.get(t.id()).status());
    }
  }

  @Test
  void theHeartbeatRenewsAndALostLeaseInterruptsTheWork() throws Exception {
    Task t = offered(method(), LeasePolicy.FAIL);
    try (Lease lease = worker("w-beat", Duration.ofSeconds(2)).claim(t.id())) {
      long claimed = lease.task().version();
      try (TaskWatch w = c.watch(t.id(), claimed)) {
        Task first = w.next();
        Task second = w.next();
        assertEquals(lease.fencingToken(), second.lease().fencingToken(), "renewed, not reclaimed");
        assertTrue(second.lease().expireTime().isAfter(first.lease().expireTime()));
      }
      CountDownLatch working = new CountDownLatch(1);
      CompletableFuture<Void> takeAway =
          CompletableFuture.runAsync(
              () -> {
                try {
                  working.await();
                } catch (InterruptedException e) {
                  throw new IllegalStateException(e);
                }
                c.updateStatus(t.id(), Status.INPUT_REQUIRED, "taken away");
              });
      LeaseLostException lost =
          assertThrows(
              LeaseLostException.class,
              () ->
                  lease.run(
                      () -> {
                        working.countDown();
                        new CountDownLatch(1).await(); // until interrupted by the loss
                        return null;
                      }));
      takeAway.get(10, TimeUnit.SECONDS);
      assertSame(lost, lease.lost().getNow(null));
      assertFalse(Thread.currentThread().isInterrupted(), "the loss's interrupt is cleared");
    }
  }

  @Test
  void renewalsRetryUnavailableUntilTheLocalDeadlineThenTheLeaseIsLost() throws Exception {
    Task t = offered(method(), LeasePolicy.FAIL);
    WorkerOptions o =
        WorkerOptions.builder().workerId("w-cut").lease(Duration.ofSeconds(1)).build();
    WatchResumeTest.Proxy proxy = new WatchResumeTest.Proxy(server.address);
    try (TaskStateClient viaProxy = TaskStateClient.builder().address(proxy.address()).build();
        Lease lease = viaProxy.worker(o).claim(t.id())) {
      proxy.close(); // every renewal from now on fails with UNAVAILABLE
      LeaseLostException lost = lease.lost().get(10, TimeUnit.SECONDS);
      assertNull(lost.domain(), "raised locally: " + lost);
      assertTrue(lost.getMessage().contains("local deadline"), lost.getMessage());
      assertSame(lost, assertThrows(LeaseLostException.class, () -> lease.complete("late")));
    } finally {
      proxy.close();
    }
  }

  @Test
  void aClaimByIdOfAHeldTaskIsLeaseHeld() {
    Task t = offered(method(), LeasePolicy.FAIL);
    try (Lease held = worker("w-a", Duration.ofSeconds(30)).claim(t.id())) {
      assertNotNull(held.task().lease());
      Worker other = worker("w-b", Duration.ofSeconds(30));
      assertThrows(LeaseHeldException.class, () -> other.claim(t.id()));
    }
  }
}
