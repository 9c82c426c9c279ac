package dev.taskstate;

/**
 * What {@link TaskStream} and {@link TaskWatch} share: a blocking iterator of tasks, usable once
 * in a for-each loop, and closeable (see {@link StreamIterator}).
 */
public abstract class TaskIterator extends StreamIterator<Task> {
  TaskIterator() {}
}
