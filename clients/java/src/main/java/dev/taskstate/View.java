package dev.taskstate;

import dev.taskstate.v1.TaskView;

/** How much of each task {@code list} and {@code watchTasks} return. */
public enum View {
  /**
   * Every field except variables, result and error: for dashboards and workers scanning for work,
   * which should not pull megabytes.
   */
  BASIC(TaskView.TASK_VIEW_BASIC),
  /** Every field (the default). */
  FULL(TaskView.TASK_VIEW_FULL);

  private final TaskView proto;

  View(TaskView proto) {
    this.proto = proto;
  }

  /** The generated enum value. */
  public TaskView toProto() {
    return proto;
  }
}
