package dev.taskstate;

import java.time.Duration;
import java.time.Instant;

/**
 * The lease a worker holds on a task, as the task records it ({@link Task#lease()}).
 *
 * @param workerId the holder's worker id
 * @param fencingToken the lease epoch: fenced writes name it
 * @param expireTime when the lease ends unless renewed (server clock)
 * @param duration what the last claim or renewal asked for
 */
public record TaskLease(String workerId, long fencingToken, Instant expireTime, Duration duration) {
  static TaskLease fromProto(dev.taskstate.v1.Lease l) {
    return new TaskLease(
        l.getWorkerId(),
        l.getFencingToken(),
        Task.instant(l.getExpireTime()),
        Task.duration(l.getDuration()));
  }
}
