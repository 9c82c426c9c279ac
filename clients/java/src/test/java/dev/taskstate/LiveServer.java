package dev.taskstate;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * A test class's own real server (memory store, anonymous access on loopback) and a client of it,
 * started before its first test and stopped after its last.
 */
abstract class LiveServer {
  static TestServer server;
  static TaskStateClient c;

  @BeforeAll
  static void start() throws Exception {
    server = TestServer.start();
    c = server.client(null);
  }

  @AfterAll
  static void stop() {
    c.close();
    server.close();
  }
}
