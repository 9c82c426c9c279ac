package dev.taskstate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Issue 11 against a real server: subjects, input requests, cancel requests. */
class InputTest extends LiveServer {
  @Test
  void aSubjectScopesEveryCall() {
    TaskStateClient alice = c.withSubject("alice");
    TaskStateClient bob = c.withSubject("bob");
    assertEquals("alice", alice.subject());
    assertNull(c.subject());
    Task mine = alice.create();
    assertEquals("alice", mine.subject());
    assertThrows(TaskNotFoundException.class, () -> bob.get(mine.id()));
    assertEquals("alice", c.get(mine.id()).subject());
    assertTrue(bob.list().tasks().isEmpty());
    alice.close(); // a view leaves the shared channel open
    assertEquals(mine.id(), c.get(mine.id()).id());
  }

  @Test
  void inputRequestsAreAnsweredOnce() {
    Task t = c.create();
    Map<String, Object> requests = Map.of("name", Map.of("message", "Name?"), "age", "Age?");
    Task asked = c.updateStatus(t.id(), Status.INPUT_REQUIRED, "need input", requests, null);
    assertEquals(requests, asked.outstandingInput());

    InputAccepted first = c.provideInput(t.id(), Map.of("age", 42, "never_asked", true));
    assertEquals(List.of("age"), first.acceptedKeys());
    assertEquals(Status.INPUT_REQUIRED, first.task().status());
    assertEquals(asked.version() + 1, first.task().version());
    InputAccepted last = c.provideInput(t.id(), Map.of("age", 43, "name", "Ada"));
    assertEquals(List.of("name"), last.acceptedKeys());
    assertEquals(Status.WORKING, last.task().status());
    assertEquals(Map.of("age", 42L, "name", "Ada"), last.task().inputResponses());
    assertTrue(last.task().outstandingInput().isEmpty());
    InputAccepted none = c.provideInput(t.id(), Map.of("name", "Bob"));
    assertTrue(none.acceptedKeys().isEmpty());
    assertEquals(last.task().version(), none.task().version());
  }

  @Test
  void requestCancelSetsTheFlagOnce() {
    Task t = c.create();
    Task asked = c.requestCancel(t.id());
    assertTrue(asked.cancelRequested());
    assertEquals(Status.WORKING, asked.status());
    assertEquals(2, asked.version());
    assertEquals(2, c.requestCancel(t.id()).version());
  }
}
