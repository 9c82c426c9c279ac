package dev.taskstate;

import java.util.List;

/**
 * What {@code provideInput} did: the task after the call (unchanged when nothing was accepted) and
 * the keys it recorded, sorted (empty when none: then nothing was written).
 */
public record InputAccepted(Task task, List<String> acceptedKeys) {
  /** Copies the keys (unmodifiable). */
  public InputAccepted {
    acceptedKeys = List.copyOf(acceptedKeys);
  }
}
