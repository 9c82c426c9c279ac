package dev.taskstate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The resuming watch across dropped connections (a TCP proxy the test cuts). */
class WatchResumeTest {
  /** A loopback TCP proxy whose connections the test can cut. */
  static final class Proxy implements AutoCloseable {
    private final ServerSocket listener;
    private final List<Socket> sockets = new ArrayList<>();

    Proxy(String upstream) throws IOException {
      listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
      String host = upstream.substring(0, upstream.lastIndexOf(':'));
      int port = Integer.parseInt(upstream.substring(upstream.lastIndexOf(':') + 1));
      Thread accept =
          new Thread(
              () -> {
                while (!listener.isClosed()) {
                  try {
                    Socket down = listener.accept();
                    Socket up = new Socket(host, port);
                    synchronized (sockets) {
                      sockets.add(down);
                      sockets.add(up);
                    }
                    pipe(down, up);
                    pipe(up, down);
                  } catch (IOException e) {
                    // listener closed, or the upstream refused: the client sees a dropped connection
                  }
                }
              });
      accept.setDaemon(true);
      accept.start();
    }

    private static void pipe(Socket from, Socket to) {
      Thread t =
          new Thread(
              () -> {
                try (InputStream in = from.getInputStream();
                    OutputStream out = to.getOutputStream()) {
                  in.transferTo(out);
                } catch (IOException e) {
                  // cut
                }
                closeQuietly(from);
                closeQuietly(to);
              });
      t.setDaemon(true);
      t.start();
    }

    private static void closeQuietly(Socket s) {
      try {
        s.close();
      } catch (IOException e) {
        // already closed
      }
    }

    String address() {
      return "127.0.0.1:" + listener.getLocalPort();
    }

    /** Cuts every proxied connection; returns how many there were. */
    int dropAll() {
      synchronized (sockets) {
        int n = sockets.size() / 2;
        sockets.forEach(Proxy::closeQuietly);
        sockets.clear();
        return n;
      }
    }

    @Override
    public void close() throws IOException {
      listener.close();
      dropAll();
    }
  }

  @Test
  void watchResumesAfterADroppedConnectionWithoutGapsOrRepeats() throws Exception {
    try (TestServer server = TestServer.start();
        TaskStateClient direct = server.client(null);
        Proxy proxy = new Proxy(server.address);
        TaskStateClient viaProxy =
            TaskStateClient.builder()
                .address(proxy.address())
                .defaultTimeout(Duration.ofSeconds(20))
                .build()) {
      Task t = direct.create();
      List<Long> versions = new ArrayList<>();
      try (TaskWatch w = viaProxy.watch(t.id())) {
        versions.add(w.next().version());
        assertTrue(proxy.dropAll() >= 1, "the watch's connection was cut");
        direct.setVariables(t.id(), Map.of("step", 1));
        direct.complete(t.id(), "done");
        w.forEachRemaining(v -> versions.add(v.version()));
      }
      assertEquals(1L, versions.get(0));
      assertEquals(3L, versions.get(versions.size() - 1), "ends with the terminal version");
      for (int i = 1; i < versions.size(); i++) {
        assertTrue(versions.get(i) > versions.get(i - 1), "increasing, no repeats: " + versions);
      }
    }
  }
}
