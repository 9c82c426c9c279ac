package dev.taskstate;

import dev.taskstate.v1.CreateTaskRequest;
import java.time.Duration;
import java.util.Map;

/**
 * The inputs of {@code create}; every one is optional.
 *
 * <pre>{@code
 * client.create(new CreateOptions().ttl(Duration.ofHours(1)).requestMethod("tools/call"))
 * }</pre>
 */
public final class CreateOptions {
  private final CreateTaskRequest.Builder req = CreateTaskRequest.newBuilder();

  /** Time to live; the server's default when not given. */
  public CreateOptions ttl(Duration ttl) {
    req.setTtl(Task.toProto(ttl));
    return this;
  }

  /** Suggested poll interval; the server's default when not given. */
  public CreateOptions pollInterval(Duration d) {
    req.setPollInterval(Task.toProto(d));
    return this;
  }

  /** What started the task, e.g. {@code tools/call}. */
  public CreateOptions requestMethod(String m) {
    req.setRequestMethod(m);
    return this;
  }

  /** Initial variables (JSON values; null entries are ignored by the server). */
  public CreateOptions variables(Map<String, ?> vars) {
    req.putAllVariables(Values.toValues(vars, "variables"));
    return this;
  }

  /** Idempotency key: a retry with the same id returns the task created first. */
  public CreateOptions requestId(String id) {
    req.setRequestId(id);
    return this;
  }

  /** What happens when a lease ends without renewal; also offers the task to {@code claimNext}. */
  public CreateOptions leasePolicy(LeasePolicy p) {
    req.setLeasePolicy(p.toProto());
    return this;
  }

  /** With {@link LeasePolicy#RELEASE}: the most attempts before the task fails (0: default). */
  public CreateOptions maxAttempts(int n) {
    req.setMaxAttempts(n);
    return this;
  }

  CreateTaskRequest toRequest() {
    return req.build();
  }
}
