package dev.taskstate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Any;
import com.google.rpc.ErrorInfo;
import dev.taskstate.v1.ErrorReason;
import dev.taskstate.v1.TaskStatus;
import io.grpc.Metadata;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Client behaviour that needs no server: statuses, the TLS rule, the environment, errors. */
class UnitTest {
  @Test
  void statusesAreLowerCaseEverywhere() {
    assertEquals("working", Status.WORKING.toString());
    assertEquals("input_required", Status.INPUT_REQUIRED.toString());
    assertEquals("cancelled", String.valueOf(Status.CANCELLED));
    assertEquals(Status.INPUT_REQUIRED, Status.parse("input_required"));
    assertEquals(Status.FAILED, Status.fromProto(TaskStatus.TASK_STATUS_FAILED));
    assertThrows(IllegalArgumentException.class, () -> Status.parse("TASK_STATUS_FAILED"));
    assertThrows(
        IllegalArgumentException.class, () -> Status.fromProto(TaskStatus.TASK_STATUS_UNSPECIFIED));
    assertTrue(Status.COMPLETED.isTerminal());
    assertFalse(Status.INPUT_REQUIRED.isTerminal());
  }

  @Test
  void tlsRuleNonLoopbackHostChoosesTls() {
    assertTrue(Transport.choose("tasks.example.com:443", null, false).tls());
    assertTrue(Transport.choose("10.1.2.3:50051", null, false).tls());
  }

  @Test
  void tlsRuleLoopbackHostChoosesPlaintext() {
    for (String a : new String[] {"127.0.0.1:50051", "127.9.9.9:1", "localhost:50051", "[::1]:50051"}) {
      assertFalse(Transport.choose(a, null, false).tls(), a);
    }
  }

  @Test
  void tlsRuleSchemeThenExplicitOptionWin() {
    Transport.Choice https = Transport.choose("https://localhost", null, false);
    assertTrue(https.tls());
    assertEquals("localhost:443", https.target());
    Transport.Choice http = Transport.choose("http://tasks.example.com:8080/", null, false);
    assertFalse(http.tls());
    assertEquals("tasks.example.com:8080", http.target());
    assertFalse(Transport.choose("https://tasks.example.com", false, false).tls());
    assertTrue(Transport.choose("http://127.0.0.1:1", true, false).tls());
    assertTrue(Transport.choose("127.0.0.1:1", null, true).tls(), "a CA cert asks for TLS");
    assertThrows(IllegalArgumentException.class, () -> Transport.choose("x:1", false, true));
  }

  @Test
  void environmentConfiguresTheBuilder() {
    TaskStateClient.Builder b =
        TaskStateClient.builder().fromEnv(Map.of("TASKSTATE_ADDRESS", "tasks.example.com:443"));
    assertTrue(b.usesTls());
    assertFalse(
        TaskStateClient.builder()
            .fromEnv(Map.of("TASKSTATE_ADDRESS", "tasks.example.com:443", "TASKSTATE_TLS", "false"))
            .usesTls());
    assertTrue(
        TaskStateClient.builder()
            .fromEnv(Map.of("TASKSTATE_CA_CERT", "/etc/ca.pem"))
            .usesTls(),
        "the default address is loopback, but a CA cert asks for TLS");
    assertFalse(TaskStateClient.builder().fromEnv(Map.of()).usesTls());
    assertThrows(
        IllegalArgumentException.class,
        () -> TaskStateClient.builder().fromEnv(Map.of("TASKSTATE_TLS", "maybe")));
    assertTrue(TaskStateClient.builder().caCert(Path.of("ca.pem")).usesTls());
  }

  @Test
  void serverErrorsBecomeTypedExceptionsWithTheirMetadata() {
    com.google.rpc.Status st =
        com.google.rpc.Status.newBuilder()
            .setCode(io.grpc.Status.Code.ABORTED.value())
            .setMessage("version mismatch")
            .addDetails(
                Any.pack(
                    ErrorInfo.newBuilder()
                        .setReason(ErrorReason.VERSION_MISMATCH.name())
                        .setDomain("taskstate.dev")
                        .putMetadata("expected_version", "3")
                        .putMetadata("actual_version", "5")
                        .build()))
            .build();
    StatusRuntimeException wire = StatusProto.toStatusRuntimeException(st);
    RuntimeException e = TaskStateException.from(new java.util.concurrent.CompletionException(wire));
    VersionMismatchException vm = assertInstanceOf(VersionMismatchException.class, e);
    assertEquals(ErrorReason.VERSION_MISMATCH, vm.errorReason());
    assertTrue(vm.is(ErrorReason.VERSION_MISMATCH));
    assertEquals(3, vm.expectedVersion().getAsLong());
    assertEquals(5, vm.actualVersion().getAsLong());
    assertEquals("version mismatch", vm.statusMessage());
    assertEquals("taskstate: ABORTED (VERSION_MISMATCH): version mismatch", vm.getMessage());
  }

  private static RuntimeException wireError(
      io.grpc.Status.Code code, ErrorReason r, Map<String, String> md) {
    com.google.rpc.Status st =
        com.google.rpc.Status.newBuilder()
            .setCode(code.value())
            .addDetails(
                Any.pack(
                    ErrorInfo.newBuilder()
                        .setReason(r.name())
                        .setDomain("taskstate.dev")
                        .putAllMetadata(md)
                        .build()))
            .build();
    return TaskStateException.from(StatusProto.toStatusRuntimeException(st));
  }

  @Test
  void leaseAndFeedReasonsHaveTheirOwnExceptions() {
    io.grpc.Status.Code fp = io.grpc.Status.Code.FAILED_PRECONDITION;
    Map<String, String> tokens = Map.of("fencing_token", "4", "current_fencing_token", "0");
    LeaseLostException lost =
        assertInstanceOf(LeaseLostException.class, wireError(fp, ErrorReason.LEASE_LOST, tokens));
    assertInstanceOf(FailedPreconditionException.class, lost);
    assertEquals(4, lost.fencingToken().getAsLong());
    assertEquals(0, lost.currentFencingToken().getAsLong());
    String at = "2026-12-03T14:00:00.250Z";
    RuntimeException e = wireError(fp, ErrorReason.LEASE_HELD, Map.of("lease_expire_time", at));
    LeaseHeldException held = assertInstanceOf(LeaseHeldException.class, e);
    assertEquals(java.time.Instant.parse(at), held.leaseExpireTime().get());
    e = wireError(io.grpc.Status.Code.OUT_OF_RANGE, ErrorReason.FEED_COMPACTED, Map.of());
    FeedCompactedException compacted = assertInstanceOf(FeedCompactedException.class, e);
    assertEquals(io.grpc.Status.Code.OUT_OF_RANGE, compacted.code());
    e = wireError(fp, ErrorReason.TASK_TERMINAL, Map.of());
    assertEquals(FailedPreconditionException.class, e.getClass(), "other reasons: the base class");
  }

  @Test
  void anUnknownReasonIsUnrecognizedAndAPlainStatusHasNone() {
    com.google.rpc.Status st =
        com.google.rpc.Status.newBuilder()
            .setCode(io.grpc.Status.Code.NOT_FOUND.value())
            .addDetails(Any.pack(ErrorInfo.newBuilder().setReason("SOMETHING_NEW").build()))
            .build();
    TaskStateException e =
        (TaskStateException) TaskStateException.from(StatusProto.toStatusRuntimeException(st));
    assertInstanceOf(TaskNotFoundException.class, e);
    assertEquals(ErrorReason.UNRECOGNIZED, e.errorReason());
    TaskStateException plain =
        (TaskStateException)
            TaskStateException.from(
                io.grpc.Status.UNAVAILABLE.withDescription("down").asRuntimeException(new Metadata()));
    assertInstanceOf(UnavailableException.class, plain);
    assertEquals(ErrorReason.ERROR_REASON_UNSPECIFIED, plain.errorReason());
    assertEquals(Map.of(), plain.metadata());
  }

  @Test
  void theTokenIsNotSentOverPlaintextToANonLoopbackHost() {
    class Applier extends io.grpc.CallCredentials.MetadataApplier {
      Metadata applied;
      io.grpc.Status failed;

      @Override
      public void apply(Metadata headers) {
        applied = headers;
      }

      @Override
      public void fail(io.grpc.Status status) {
        failed = status;
      }
    }
    io.grpc.CallCredentials.RequestInfo plaintext =
        new io.grpc.CallCredentials.RequestInfo() {
          @Override
          public io.grpc.MethodDescriptor<?, ?> getMethodDescriptor() {
            return dev.taskstate.v1.TaskServiceGrpc.getGetTaskMethod();
          }

          @Override
          public io.grpc.SecurityLevel getSecurityLevel() {
            return io.grpc.SecurityLevel.NONE;
          }

          @Override
          public String getAuthority() {
            return "tasks.example.com:80";
          }

          @Override
          public io.grpc.Attributes getTransportAttrs() {
            return io.grpc.Attributes.EMPTY;
          }
        };
    Applier refused = new Applier();
    new Transport.CallMetadata("tok", null, false)
        .applyRequestMetadata(plaintext, Runnable::run, refused);
    assertEquals(io.grpc.Status.Code.UNAUTHENTICATED, refused.failed.getCode());
    Applier sent = new Applier();
    new Transport.CallMetadata("tok", null, true)
        .withSubject("alice")
        .applyRequestMetadata(plaintext, Runnable::run, sent);
    assertEquals(
        "Bearer tok",
        sent.applied.get(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER)));
    assertEquals("alice", sent.applied.get(Transport.CallMetadata.SUBJECT));
    Applier subjectOnly = new Applier();
    new Transport.CallMetadata(null, "bob", false)
        .applyRequestMetadata(plaintext, Runnable::run, subjectOnly);
    assertEquals("bob", subjectOnly.applied.get(Transport.CallMetadata.SUBJECT));
    assertEquals(
        null,
        subjectOnly.applied.get(
            Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER)));
  }
}
