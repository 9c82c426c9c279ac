package dev.taskstate;

import io.grpc.CallCredentials;
import io.grpc.ChannelCredentials;
import io.grpc.InsecureChannelCredentials;
import io.grpc.Metadata;
import io.grpc.SecurityLevel;
import io.grpc.TlsChannelCredentials;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Executor;

/** The TLS default rule shared by every taskstate client, and the bearer-token credentials. */
final class Transport {
  private Transport() {}

  /** Where to connect and whether over TLS. */
  record Choice(String target, boolean tls) {}

  /**
   * Applies the rule; the first step that applies wins: (1) an explicit option ({@code tls}
   * true/false, or a CA or client certificate, which ask for TLS); (2) the address's scheme
   * ({@code https://} TLS, {@code http://} plaintext); (3) the host: loopback is plaintext,
   * anything else TLS with the system roots.
   *
   * @param tls the explicit choice, or null
   * @param files whether a CA or client certificate was given
   */
  static Choice choose(String address, Boolean tls, boolean files) {
    String target = address.trim();
    String scheme = null;
    for (String s : new String[] {"https", "http"}) {
      String prefix = s + "://";
      if (target.regionMatches(true, 0, prefix, 0, prefix.length())) {
        scheme = s;
        target = stripSlash(target.substring(prefix.length()));
        if (!hasPort(target)) {
          target = target + (s.equals("https") ? ":443" : ":80");
        }
        break;
      }
    }
    if (files && Boolean.FALSE.equals(tls)) {
      throw new IllegalArgumentException(
          "plaintext (tls=false) conflicts with a CA or client certificate, which ask for TLS");
    }
    if (files || tls != null) {
      return new Choice(target, files || tls);
    }
    if (scheme != null) {
      return new Choice(target, scheme.equals("https"));
    }
    return new Choice(target, !isLoopback(target));
  }

  private static String stripSlash(String s) {
    return s.endsWith("/") ? s.substring(0, s.length() - 1) : s;
  }

  private static boolean hasPort(String hostPort) {
    int close = hostPort.lastIndexOf(']');
    int colon = hostPort.lastIndexOf(':');
    if (hostPort.startsWith("[")) {
      return colon > close;
    }
    return colon >= 0 && hostPort.indexOf(':') == colon;
  }

  /** The host of a target without port, brackets or a gRPC scheme such as {@code dns:///}. */
  static String host(String target) {
    String t = target;
    int i = t.indexOf(":///");
    if (i >= 0) {
      t = t.substring(i + 4);
    }
    if (t.startsWith("[")) {
      int close = t.indexOf(']');
      return close > 0 ? t.substring(1, close) : t;
    }
    int colon = t.lastIndexOf(':');
    if (colon >= 0 && t.indexOf(':') == colon) {
      return t.substring(0, colon);
    }
    return t;
  }

  /** Whether a target names a loopback host: localhost, 127.0.0.0/8, ::1, or a unix socket. */
  static boolean isLoopback(String target) {
    if (target.startsWith("unix:")) {
      return true;
    }
    String host = host(target);
    if (host.equalsIgnoreCase("localhost")) {
      return true;
    }
    // Only literal addresses: never a DNS lookup to decide.
    if (!host.matches("[0-9.]+|[0-9a-fA-F:]*:[0-9a-fA-F:.]*")) {
      return false;
    }
    try {
      return InetAddress.getByName(host).isLoopbackAddress();
    } catch (UnknownHostException e) {
      return false;
    }
  }

  static ChannelCredentials credentials(boolean tls, Path caCert, Path clientCert, Path clientKey) {
    if (!tls) {
      return InsecureChannelCredentials.create();
    }
    if ((clientCert == null) != (clientKey == null)) {
      throw new IllegalArgumentException("a client certificate and its key go together");
    }
    try {
      TlsChannelCredentials.Builder b = TlsChannelCredentials.newBuilder();
      if (caCert != null) {
        b.trustManager(caCert.toFile());
      }
      if (clientCert != null) {
        b.keyManager(clientCert.toFile(), clientKey.toFile());
      }
      return b.build();
    } catch (IOException e) {
      throw new UncheckedIOException("TLS certificate files: " + e.getMessage(), e);
    }
  }

  /**
   * Sends {@code authorization: Bearer <token>} and {@code taskstate-subject: <subject>} with every
   * call (each only when set): one value, as a call has one set of call credentials.
   */
  static final class CallMetadata extends CallCredentials {
    private static final Metadata.Key<String> AUTHORIZATION =
        Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    static final Metadata.Key<String> SUBJECT =
        Metadata.Key.of("taskstate-subject", Metadata.ASCII_STRING_MARSHALLER);
    private final String token;
    private final String subject;
    private final boolean plaintextOk;

    /**
     * @param token the bearer token, or null
     * @param subject the subject, or null
     * @param plaintextOk whether the token may travel without TLS (a loopback target, or the
     *     caller allowed it)
     */
    CallMetadata(String token, String subject, boolean plaintextOk) {
      this.token = token == null || token.isEmpty() ? null : token;
      this.subject = subject == null || subject.isEmpty() ? null : subject;
      this.plaintextOk = plaintextOk;
    }

    /** The same credentials with another subject (null or "": none). */
    CallMetadata withSubject(String s) {
      return new CallMetadata(token, s, plaintextOk);
    }

    String subject() {
      return subject;
    }

    @Override
    public void applyRequestMetadata(RequestInfo info, Executor executor, MetadataApplier applier) {
      if (token != null
          && !plaintextOk
          && info.getSecurityLevel() != SecurityLevel.PRIVACY_AND_INTEGRITY) {
        applier.fail(
            io.grpc.Status.UNAUTHENTICATED.withDescription(
                "taskstate: refusing to send the token over plaintext to a non-loopback address"
                    + " (allow it with plaintextToken(true))"));
        return;
      }
      Metadata md = new Metadata();
      if (token != null) {
        md.put(AUTHORIZATION, "Bearer " + token);
      }
      if (subject != null) {
        md.put(SUBJECT, subject);
      }
      applier.apply(md);
    }
  }

  static String lower(String s) {
    return s.trim().toLowerCase(Locale.ROOT);
  }
}
