package dev.taskstate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** The raw event stream and the resuming events() watch, against real servers. */
class EventsTest {
  /** An event as a comparable line: kind, task, version. */
  private static String line(TaskEvent e) {
    return e.kind() + " " + e.taskId() + " " + e.version();
  }

  private static List<String> next(EventWatch w, int n) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      TaskEvent e = w.next();
      assertFalse(e.resumeCursor().isEmpty(), "every event has a cursor");
      out.add(line(e));
    }
    return out;
  }

  /** The events up to and including {@code last}. */
  private static List<String> until(EventWatch w, String last) {
    List<String> out = new ArrayList<>();
    while (out.isEmpty() || !out.get(out.size() - 1).equals(last)) {
      out.addAll(next(w, 1));
    }
    return out;
  }

  @Test
  void theRawStreamReportsWritesAndDeletionsWithCursors() throws Exception {
    try (TestServer server = TestServer.start();
        TaskStateClient c = server.client(null);
        EventStream s = c.watchEvents(new WatchOptions().allEvents(true).view(View.BASIC))) {
      Task t = c.create(new CreateOptions().variables(Map.of("big", "x")));
      c.delete(t.id());
      TaskEvent w = s.next();
      assertEquals(TaskEvent.Kind.WRITE, w.kind());
      assertEquals(t.id(), w.task().id());
      assertTrue(w.task().variables().isEmpty(), "basic view");
      TaskEvent d = s.next();
      assertEquals("deleted " + t.id() + " 1", line(d));
      assertNull(d.task());
      assertFalse(d.resumeCursor().equals(w.resumeCursor()));
      // Resuming from the write's cursor replays exactly what followed it.
      try (EventStream again = c.watchEvents(new WatchOptions().resumeCursor(w.resumeCursor()))) {
        assertEquals(line(d), line(again.next()));
      }
    }
  }

  @Test
  void eventsResumeAfterADroppedConnectionWithoutGapsOrRepeats() throws Exception {
    try (TestServer server = TestServer.start();
        TaskStateClient direct = server.client(null);
        WatchResumeTest.Proxy proxy = new WatchResumeTest.Proxy(server.address);
        TaskStateClient viaProxy =
            TaskStateClient.builder()
                .address(proxy.address())
                .defaultTimeout(Duration.ofSeconds(20))
                .build()) {
      String start = direct.list(new ListOptions().pageSize(1)).resumeCursor();
      try (EventWatch w = viaProxy.events(new WatchOptions().resumeCursor(start))) {
        Task a = direct.create();
        assertEquals(List.of("write " + a.id() + " 1"), next(w, 1));
        assertTrue(proxy.dropAll() >= 1, "the watch's connection was cut");
        direct.setVariables(a.id(), Map.of("step", 1));
        direct.delete(a.id());
        Task b = direct.create();
        // Replayed history is coalesced (a write superseded by a later event of its task is
        // skipped), so "write a 2" shows only if the watch was back before the deletion.
        List<String> seen = until(w, "write " + b.id() + " 1");
        List<String> full =
            List.of("write " + a.id() + " 2", "deleted " + a.id() + " 2", "write " + b.id() + " 1");
        assertTrue(
            seen.equals(full) || seen.equals(full.subList(1, 3)), "in order, once each: " + seen);
        assertTrue(proxy.dropAll() >= 1, "cut again, idle");
        direct.complete(b.id(), "done");
        assertEquals(List.of("write " + b.id() + " 2"), next(w, 1));
      }
    }
  }

  @Test
  void eventsListAgainWhenTheFeedWasCompacted() throws Exception {
    try (TestServer server = TestServer.start("--feed-retention", "1s");
        TaskStateClient c = server.client(null)) {
      String old = c.list(new ListOptions().pageSize(1)).resumeCursor();
      Task a = c.create();
      Task b = c.setVariables(c.create().id(), Map.of("n", 1));
      awaitCompacted(c, old);
      try (EventWatch w = c.events(new WatchOptions().resumeCursor(old))) {
        TaskEvent reset = w.next();
        assertEquals(TaskEvent.Kind.RESET, reset.kind());
        assertFalse(reset.resumeCursor().isEmpty());
        Set<String> listed =
            next(w, 2).stream().collect(Collectors.toSet());
        assertEquals(Set.of("write " + a.id() + " 1", "write " + b.id() + " 2"), listed);
        Task later = c.create();
        assertEquals(List.of("write " + later.id() + " 1"), next(w, 1), "then the feed goes on");
      }
    }
  }

  /**
   * Waits until the server refuses {@code cursor} as compacted: it ages out by the clock
   * (--feed-retention), so this polls the server's own verdict, never a fixed sleep.
   */
  private static void awaitCompacted(TaskStateClient c, String cursor) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (true) {
      try (EventStream s = c.watchEvents(new WatchOptions().resumeCursor(cursor))) {
        s.hasNext(); // replays what followed the cursor while it is still served
      } catch (FeedCompactedException e) {
        return;
      }
      assertTrue(System.nanoTime() < deadline, "the cursor was never compacted");
      Thread.sleep(100);
    }
  }
}
