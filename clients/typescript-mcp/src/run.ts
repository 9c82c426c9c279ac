// One task-backed tool call running in this process: the handler's view of its task (TaskRun),
// and the runner that holds the lease, watches for input and cancel requests, and records the end.

import { ProtocolError } from "@modelcontextprotocol/server";
import type { CallToolResult } from "@modelcontextprotocol/server";
import type { JsonObject, JsonValue, Lease, Task, TaskClient, Worker } from "@taskstate/client";

/** What a task-capable tool's handler gets besides its arguments. */
export interface TaskRun {
  /** The task's id; undefined when the client did not opt in and the call runs inline. */
  readonly taskId: string | undefined;
  /** Aborted when the requester asks to cancel (tasks/cancel) or the lease is lost. */
  readonly signal: AbortSignal;
  /**
   * Moves the task to input_required with these requests (keys unique for the task's life),
   * waits until every key is answered (tasks/update), and returns the answers. The tool
   * continues where it stopped: nothing is re-run.
   */
  ask(requests: JsonObject, message?: string): Promise<JsonObject>;
}

/** A task-capable tool's handler. */
export type TaskToolHandler = (
  args: Record<string, unknown>,
  run: TaskRun,
) => Promise<CallToolResult>;

/** Runs a handler inline (no task): the client did not declare the extension. */
export function inlineRun(signal: AbortSignal): TaskRun {
  return {
    taskId: undefined,
    signal,
    ask: () =>
      Promise.reject(new Error("this call runs without a task (the client did not opt in)")),
  };
}

/** Watches one task (WatchTask, resumed by the client) and lets waiters see each new version. */
class TaskWatch {
  latest: Task | undefined;
  private readonly waiters = new Set<() => void>();
  private readonly stop = new AbortController();

  constructor(
    client: TaskClient,
    taskId: string,
    private readonly onChange: (task: Task) => void,
  ) {
    void this.loop(client, taskId);
  }

  private async loop(client: TaskClient, taskId: string): Promise<void> {
    try {
      for await (const task of client.watch(taskId, { signal: this.stop.signal })) {
        this.latest = task;
        this.onChange(task);
        for (const wake of [...this.waiters]) wake();
      }
    } catch {
      // Closed (stop) or the task vanished; the runner decides what that means.
    }
  }

  /** Resolves with the first seen version for which `done` holds; rejects when `signal` aborts. */
  until(done: (task: Task) => boolean, signal: AbortSignal): Promise<Task> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (signal.aborted) {
          this.waiters.delete(check);
          reject(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
        } else if (this.latest !== undefined && done(this.latest)) {
          this.waiters.delete(check);
          resolve(this.latest);
        }
      };
      this.waiters.add(check);
      signal.addEventListener("abort", check, { once: true });
      check();
    });
  }

  close(): void {
    this.stop.abort();
  }
}

/** A JSON-RPC error a handler threw (the task fails); anything else is a tool error. */
function jsonRpcError(err: unknown): { code: number; message: string; data?: JsonValue } | null {
  if (!(err instanceof ProtocolError)) return null;
  const out: { code: number; message: string; data?: JsonValue } = {
    code: err.code,
    message: err.message,
  };
  if (err.data !== undefined) out.data = err.data as JsonValue;
  return out;
}

/**
 * Runs `handler` for the claimed task to its end: completed with the CallToolResult (also for
 * isError results and thrown non-JSON-RPC errors, as McpServer reports them), failed with a thrown
 * ProtocolError, cancelled when the requester asked and the handler stopped. A crash of this
 * process leaves the task to its lease (policy "fail": failed when the lease runs out).
 */
export async function runTask(
  client: TaskClient,
  worker: Worker,
  first: Lease,
  handler: TaskToolHandler,
  args: Record<string, unknown>,
): Promise<void> {
  const taskId = first.taskId;
  const abort = new AbortController();
  let cancelRequested = false;
  let lease = first;
  const onLeaseLost = (): void => abort.abort(lease.signal.reason);
  lease.signal.addEventListener("abort", onLeaseLost, { once: true });
  const watch = new TaskWatch(client, taskId, (task) => {
    if (task.cancelRequested && !cancelRequested) {
      cancelRequested = true;
      abort.abort(new Error("the requester cancelled the task"));
    }
  });
  const run: TaskRun = {
    taskId,
    signal: abort.signal,
    async ask(requests, message = ""): Promise<JsonObject> {
      // Leaving working ends the lease (its heartbeat stops with that write): claim the task
      // again once every answer is in (ProvideInput moved it back to working).
      lease.signal.removeEventListener("abort", onLeaseLost);
      await lease.updateStatus("input_required", { inputRequests: requests, message });
      await lease.close();
      const keys = Object.keys(requests);
      const answered = await watch.until(
        (task) => keys.every((k) => k in task.inputResponses),
        abort.signal,
      );
      lease = await worker.claim(taskId, { signal: abort.signal });
      lease.signal.addEventListener("abort", onLeaseLost, { once: true });
      return Object.fromEntries(keys.map((k) => [k, answered.inputResponses[k] ?? null]));
    },
  };
  try {
    let result: CallToolResult | undefined;
    let failure: unknown;
    try {
      result = await handler(args, run);
    } catch (err) {
      failure = err;
    }
    if (cancelRequested) {
      await client.cancel(taskId, { message: "cancelled at the requester's request" });
    } else if (result !== undefined) {
      await lease.complete({ result: result as unknown as JsonValue });
    } else {
      const rpc = jsonRpcError(failure);
      const text = failure instanceof Error ? failure.message : String(failure);
      if (rpc !== null) await lease.fail(rpc, { message: `Tool execution failed: ${rpc.message}` });
      else await lease.complete({ result: { content: [{ type: "text", text }], isError: true } });
    }
  } catch {
    // The task is already terminal or the lease is gone: the store has the last word.
  } finally {
    lease.signal.removeEventListener("abort", onLeaseLost);
    watch.close();
    await lease.close();
  }
}
