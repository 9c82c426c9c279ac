package dev.taskstate;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The REAL taskstate server as a subprocess, on an ephemeral loopback port: {@code
 * $TASKSTATE_SERVER_CMD} (split on spaces) if set, else the repository's {@code
 * .venv/bin/taskstate-server}. A missing server fails the test; it never skips it.
 */
final class TestServer implements AutoCloseable {
  private static final Pattern LISTENING = Pattern.compile("listening on (\\S+:\\d+)");

  final String address;
  private final Process process;
  private final StringBuffer logs = new StringBuffer();

  /** The repository root (Maven runs the tests in clients/java). */
  static Path repoRoot() {
    return Path.of("").toAbsolutePath().getParent().getParent();
  }

  /** Starts a server on a memory store with anonymous access and extra flags. */
  static TestServer start(String... args) throws IOException {
    List<String> cmd = new ArrayList<>();
    String env = System.getenv("TASKSTATE_SERVER_CMD");
    if (env != null && !env.isBlank()) {
      cmd.addAll(Arrays.asList(env.trim().split("\\s+")));
    } else {
      Path server = repoRoot().resolve(".venv/bin/taskstate-server");
      if (!Files.isExecutable(server)) {
        throw new IllegalStateException(
            server + " is missing: run `make setup` at the repository root, or set"
                + " TASKSTATE_SERVER_CMD");
      }
      cmd.add(server.toString());
    }
    cmd.addAll(List.of("--listen", "127.0.0.1:0"));
    List<String> extra = Arrays.asList(args);
    if (!extra.contains("--store")) {
      cmd.addAll(List.of("--store", "memory://"));
    }
    cmd.addAll(extra);
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD);
    pb.environment().keySet().removeIf(k -> k.startsWith("TASKSTATE_"));
    return new TestServer(pb.start());
  }

  private TestServer(Process p) {
    this.process = p;
    CompletableFuture<String> addr = new CompletableFuture<>();
    Thread reader =
        new Thread(
            () -> {
              try (BufferedReader r =
                  new BufferedReader(
                      new InputStreamReader(p.getErrorStream(), StandardCharsets.UTF_8))) {
                for (String line = r.readLine(); line != null; line = r.readLine()) {
                  logs.append(line).append('\n');
                  Matcher m = LISTENING.matcher(line);
                  if (m.find()) {
                    addr.complete(m.group(1));
                  }
                }
              } catch (IOException e) {
                // the process ended
              }
              addr.completeExceptionally(
                  new IllegalStateException("the server exited before listening:\n" + logs));
            });
    reader.setDaemon(true);
    reader.start();
    try {
      this.address = addr.get(60, TimeUnit.SECONDS);
    } catch (Exception e) {
      p.destroyForcibly();
      throw new IllegalStateException("the server did not start: " + e + "\n" + logs, e);
    }
  }

  /** A client of this server with a 30 s default timeout. */
  TaskStateClient client(String token) {
    return TaskStateClient.builder()
        .address(address)
        .token(token)
        .defaultTimeout(java.time.Duration.ofSeconds(30))
        .build();
  }

  /** What the server wrote to stderr so far. */
  String logs() {
    return logs.toString();
  }

  /** Stops the server (SIGTERM, then SIGKILL after 10 s). */
  @Override
  public void close() {
    process.destroy();
    try {
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor();
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }
}
