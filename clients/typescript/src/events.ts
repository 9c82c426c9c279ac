// Owner-feed events: what one WatchTasks message reports, and the resuming events() iterator.

import type { TaskClient } from "./client.js";
import { FeedCompactedError, toTaskStateError } from "./errors.js";
import type { TaskStateError } from "./errors.js";
import { WatchEventKind } from "./gen/taskstate/v1/taskstate_pb.js";
import type { WatchTasksResponse } from "./gen/taskstate/v1/taskstate_pb.js";
import { backoffDelays } from "./retry.js";
import type { RetryPolicy } from "./retry.js";
import { backoffOrThrow, linkSignal, resumable } from "./stream.js";
import { statusToProto, taskFromProto, viewToProto } from "./task.js";
import type { Task, TaskStatusName, TaskViewName } from "./task.js";

/**
 * "write": a committed version (`task` is set); "deleted", "expired": the task is gone;
 * "progress": no change, only a newer resumeCursor; "reset" (client-side, events() with
 * resume only): the feed was compacted past the cursor, so what follows is a fresh listing
 * (one "write" per current task): forget what you knew of tasks not in it.
 */
export type TaskEventKind = "write" | "deleted" | "expired" | "progress" | "reset";

/** One event of the caller's task feed. */
export interface TaskEvent {
  kind: TaskEventKind;
  /** The task the event is about; "" with progress and reset. */
  taskId: string;
  /** The task's version (write); the last version the store knew (deleted/expired; 0 if none). */
  version: number;
  /** The feed position after this event: pass it as a cursor to resume right after it. */
  resumeCursor: string;
  /** The task as written; only with "write". */
  task?: Task;
}

const KINDS: Partial<Record<WatchEventKind, TaskEventKind>> = {
  [WatchEventKind.WRITE]: "write",
  [WatchEventKind.DELETED]: "deleted",
  [WatchEventKind.EXPIRED]: "expired",
  [WatchEventKind.PROGRESS]: "progress",
};

/**
 * The event of one WatchTasks message, or undefined for a kind this client does not know.
 * A message without a kind but with a task (an older server) is a write.
 */
export function eventFromProto(msg: WatchTasksResponse): TaskEvent | undefined {
  const kind =
    msg.kind === WatchEventKind.UNSPECIFIED && msg.task ? "write" : KINDS[msg.kind];
  if (kind === undefined) return undefined;
  const event: TaskEvent = {
    kind,
    taskId: msg.taskId,
    version: Number(msg.version),
    resumeCursor: msg.resumeCursor,
  };
  if (kind === "write") {
    if (!msg.task) return undefined;
    const task = taskFromProto(msg.task);
    event.task = task;
    event.taskId = task.taskId;
    event.version = task.version;
  }
  return event;
}

/** What resumingEvents() needs to know; see EventsOptions. */
export interface FeedSpec {
  cursor: string;
  statuses?: readonly TaskStatusName[] | undefined;
  view?: TaskViewName | undefined;
  signal?: AbortSignal | undefined;
  policy: RetryPolicy;
}

/**
 * The resuming feed: reopens from the last cursor after UNAVAILABLE; on FEED_COMPACTED lists
 * every task (the first page's resumeCursor is the new position) and yields a reset and one
 * write per task. Progress messages only move the cursor.
 */
export async function* resumingEvents(
  client: TaskClient,
  spec: FeedSpec,
): AsyncGenerator<TaskEvent, void, void> {
  const outer = spec.signal;
  const { statuses, view } = spec;
  let cursor = spec.cursor;
  if (cursor === "") {
    // "now" as a position, so even the first reconnect misses nothing.
    const first = await client.list({ pageSize: 1, statuses, view: "basic", signal: outer });
    cursor = first.resumeCursor;
  }
  let delays = backoffDelays(spec.policy);
  for (;;) {
    let failure: TaskStateError | undefined;
    let compacted = false;
    const controller = new AbortController();
    const unlink = linkSignal(outer, controller);
    try {
      const request = {
        statuses: (statuses ?? []).map(statusToProto),
        view: viewToProto(view),
        resumeCursor: cursor,
        allEvents: true,
      };
      for await (const msg of client.raw.watchTasks(request, { signal: controller.signal })) {
        if (msg.resumeCursor !== "") cursor = msg.resumeCursor;
        delays = backoffDelays(spec.policy); // progress: the next outage gets a fresh budget
        const event = eventFromProto(msg);
        if (event !== undefined && event.kind !== "progress") {
          yield { ...event, resumeCursor: cursor };
        }
      }
    } catch (err) {
      const error = toTaskStateError(err, outer);
      if (error instanceof FeedCompactedError && !outer?.aborted) compacted = true;
      else if (outer?.aborted || !resumable(error)) throw error;
      else failure = error;
    } finally {
      unlink();
      controller.abort();
    }
    if (compacted) {
      const listing = await relist(client, spec);
      cursor = listing.cursor;
      yield* listing.events;
      continue;
    }
    await backoffOrThrow(delays, failure, "watch stream kept ending early", outer);
  }
}

/** Every task (all pages), as a reset and one write each, and the first page's cursor. */
async function relist(
  client: TaskClient,
  spec: FeedSpec,
): Promise<{ cursor: string; events: TaskEvent[] }> {
  const options = { statuses: spec.statuses, view: spec.view, signal: spec.signal };
  const first = await client.list(options);
  const cursor = first.resumeCursor;
  const tasks = [...first.tasks];
  let pageToken = first.nextPageToken;
  while (pageToken !== "") {
    const page = await client.list({ ...options, pageToken });
    tasks.push(...page.tasks);
    pageToken = page.nextPageToken;
  }
  const events: TaskEvent[] = [{ kind: "reset", taskId: "", version: 0, resumeCursor: cursor }];
  for (const task of tasks) {
    const { taskId, version } = task;
    events.push({ kind: "write", taskId, version, resumeCursor: cursor, task });
  }
  return { cursor, events };
}
