package dev.taskstate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.grpc.Status.Code;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The client against a TLS server, certificates made at test time with the openssl CLI. */
class TlsTest {
  private static Path dir;

  @BeforeAll
  static void makePki() throws Exception {
    dir = Files.createTempDirectory("pki");
    String ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    openssl("req -x509 " + ec + " -keyout ca.key -out ca.pem -days 2 -subj /CN=taskstate-test-ca");
    sign("server", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth");
    sign("client", "extendedKeyUsage=clientAuth");
  }

  private static void sign(String name, String ext) throws Exception {
    Files.writeString(dir.resolve(name + ".ext"), ext + "\n");
    openssl("req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " + name
        + ".key -out " + name + ".csr -subj /CN=" + name);
    openssl("x509 -req -in " + name + ".csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out "
        + name + ".pem -extfile " + name + ".ext");
  }

  private static void openssl(String args) throws Exception {
    List<String> cmd = new java.util.ArrayList<>(List.of("openssl"));
    cmd.addAll(List.of(args.split(" ")));
    Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertEquals(0, p.waitFor(), "openssl " + args + ":\n" + out);
  }

  private static TaskStateClient.Builder client(TestServer s) {
    return TaskStateClient.builder().address(s.address).defaultTimeout(Duration.ofSeconds(20));
  }

  @Test
  void aCaCertChoosesTlsAndTrustsTheServer() throws Exception {
    try (TestServer s =
            TestServer.start(
                "--tls-cert", dir.resolve("server.pem").toString(),
                "--tls-key", dir.resolve("server.key").toString());
        TaskStateClient trusted = client(s).caCert(dir.resolve("ca.pem")).build();
        TaskStateClient systemRoots = client(s).tls(true).build();
        TaskStateClient plaintext = client(s).build()) {
      assertEquals(1, trusted.create().version());
      assertEquals(Code.UNAVAILABLE, assertThrows(TaskStateException.class, systemRoots::create).code());
      assertThrows(TaskStateException.class, plaintext::create, "loopback: plaintext by default");
    }
  }

  @Test
  void mutualTlsPresentsTheClientCertificate() throws Exception {
    try (TestServer s =
            TestServer.start(
                "--tls-cert", dir.resolve("server.pem").toString(),
                "--tls-key", dir.resolve("server.key").toString(),
                "--tls-client-ca", dir.resolve("ca.pem").toString());
        TaskStateClient withCert =
            client(s)
                .caCert(dir.resolve("ca.pem"))
                .clientCert(dir.resolve("client.pem"), dir.resolve("client.key"))
                .build();
        TaskStateClient without = client(s).caCert(dir.resolve("ca.pem")).build()) {
      assertEquals(1, withCert.create().version());
      assertThrows(TaskStateException.class, without::create);
    }
  }
}
