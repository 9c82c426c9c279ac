// Worker: claim a task, keep its lease alive, and tell the work the moment the lease is gone.
//
// A claimed Lease renews itself every third of the lease. A renewal that meets UNAVAILABLE (or
// its own deadline) is retried until the lease's local deadline, counted from when the last
// successful claim or renewal was *sent* (the server's clock started no earlier), so the worker
// gives up no later than the server could hand the task to someone else. On LEASE_LOST, or when
// that deadline passes, `lease.signal` aborts (its reason is the LeaseLostError).

import { randomUUID } from "node:crypto";
import { hostname } from "node:os";

import type {
  CallOptions,
  CompleteOptions,
  FailError,
  FailOptions,
  TaskClient,
  UpdateFn,
  UpdateOptions,
  UpdateStatusOptions,
  VersionedOptions,
} from "./client.js";
import { durationToMs } from "./duration.js";
import type { DurationInput } from "./duration.js";
import { ERROR_DOMAIN, LeaseLostError, TaskStateError } from "./errors.js";
import type { JsonObject } from "./json.js";
import { sleep } from "./retry.js";
import type { Task, TaskStatusName } from "./task.js";

/** The default lease: 30 s. */
export const DEFAULT_LEASE_MS = 30_000;

/** Pause between renewal retries after UNAVAILABLE (at most a tenth of the lease). */
const RETRY_PAUSE_MS = 200;

export interface WorkerOptions {
  /** How long each lease lasts unless renewed (ms or "30s"); default 30 s. */
  lease?: DurationInput | undefined;
  /** Names the worker in the task's lease; default host:pid:random. */
  workerId?: string | undefined;
}

export interface ClaimNextOptions {
  /** Only tasks of this request method. */
  requestMethod?: string | undefined;
  /** How long to wait for a claimable task; omitted = answer at once. */
  wait?: DurationInput | undefined;
  /** Abort the claim. */
  signal?: AbortSignal | undefined;
}

/** host:pid:random: unique per process, readable in a task's lease. */
export function defaultWorkerId(): string {
  return `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
}

/** A Worker for one worker identity (see Worker). */
export function createWorker(client: TaskClient, options: WorkerOptions = {}): Worker {
  return new Worker(client, options);
}

/** Claims tasks as one worker identity; each claim is a Lease to close when done. */
export class Worker {
  readonly workerId: string;
  /** The lease each claim asks for, in milliseconds. */
  readonly leaseMs: number;

  constructor(
    readonly client: TaskClient,
    options: WorkerOptions = {},
  ) {
    this.workerId = options.workerId || defaultWorkerId();
    this.leaseMs = durationToMs(options.lease ?? DEFAULT_LEASE_MS);
    if (!(this.leaseMs > 0)) throw new RangeError("lease must be positive");
  }

  /** The oldest claimable task (optionally of one method, waiting up to `wait`), or null. */
  async claimNext(options: ClaimNextOptions = {}): Promise<Lease | null> {
    return this.take(undefined, options);
  }

  /** That task; throws LeaseHeldError if another worker holds it. */
  async claim(taskId: string, options: CallOptions = {}): Promise<Lease> {
    const lease = await this.take(taskId, { signal: options.signal });
    if (lease === null) {
      throw new TaskStateError(`the server answered a claim of ${taskId} without a task`, {
        code: "INTERNAL",
        fromServer: false,
      });
    }
    return lease;
  }

  private async take(taskId: string | undefined, options: ClaimNextOptions): Promise<Lease | null> {
    let sent = performance.now();
    let task = await this.client.claim({
      workerId: this.workerId,
      taskId,
      lease: this.leaseMs,
      requestMethod: options.requestMethod,
      wait: options.wait,
      signal: options.signal,
    });
    if (task === null) return null;
    const granted = task.lease;
    if (granted === undefined) {
      throw new TaskStateError(`the server answered a claim of ${task.taskId} without a lease`, {
        code: "INTERNAL",
        fromServer: false,
      });
    }
    const leaseMs = granted.durationMs || this.leaseMs;
    if (performance.now() - sent > leaseMs / 3) {
      // A claim that waited was granted at some unknown point of the wait: renew at once.
      sent = performance.now();
      task = await this.client.renewLease(task.taskId, granted.fencingToken, {
        signal: options.signal,
      });
    }
    return new Lease(this.client, task, granted.fencingToken, leaseMs, sent);
  }
}

/**
 * A held lease on one task: writes through it carry the fencing token, a heartbeat renews it,
 * and `signal` aborts when it is lost. close() stops the heartbeat (the task is then left to
 * its lease policy unless the work finished it); `await using` closes it too.
 */
export class Lease {
  readonly taskId: string;
  readonly fencingToken: number;
  /** Aborted when the lease is lost; its reason is the LeaseLostError (or the renewal's error). */
  readonly signal: AbortSignal;
  private current: Task;
  private deadline: number;
  private readonly lostController = new AbortController();
  private readonly stopController = new AbortController();
  private deadlineTimer: ReturnType<typeof setTimeout> | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly heartbeat: Promise<void>;

  constructor(
    readonly client: TaskClient,
    task: Task,
    fencingToken: number,
    /** The lease duration in milliseconds. */
    readonly leaseMs: number,
    sentAt: number,
  ) {
    this.taskId = task.taskId;
    this.fencingToken = fencingToken;
    this.signal = this.lostController.signal;
    this.current = task;
    this.deadline = sentAt + leaseMs;
    this.armDeadline();
    this.heartbeat = this.beat();
  }

  /** The task as last written or renewed through this lease. */
  get task(): Task {
    return this.current;
  }

  /** Why the lease was lost, or undefined while it holds. */
  get lost(): TaskStateError | undefined {
    return this.signal.aborted ? (this.signal.reason as TaskStateError) : undefined;
  }

  /** SetVariables, fenced. */
  setVariables(variables: JsonObject, options: VersionedOptions = {}): Promise<Task> {
    return this.write((o) =>
      this.client.setVariables(this.taskId, variables, { ...options, ...o }),
    );
  }

  /** The client's update() (read-modify-write of the variables), its write fenced. */
  update(fn: UpdateFn, options: UpdateOptions = {}): Promise<Task> {
    return this.write((o) => this.client.update(this.taskId, fn, { ...options, ...o }));
  }

  /** UpdateTaskStatus, fenced (leaving working ends the lease). */
  updateStatus(status: TaskStatusName, options: UpdateStatusOptions = {}): Promise<Task> {
    return this.write((o) => this.client.updateStatus(this.taskId, status, { ...options, ...o }));
  }

  /** CompleteTask (completed), fenced. */
  complete(options: CompleteOptions = {}): Promise<Task> {
    return this.write((o) => this.client.complete(this.taskId, { ...options, ...o }));
  }

  /** CompleteTask (failed), fenced. */
  fail(error: FailError | string, options: FailOptions = {}): Promise<Task> {
    return this.write((o) => this.client.fail(this.taskId, error, { ...options, ...o }));
  }

  /** Stops the heartbeat and waits for it; writes nothing. Safe to call twice. */
  async close(): Promise<void> {
    this.stopHeartbeat();
    await this.heartbeat;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // -- internals ------------------------------------------------------------------------------

  /** One write at a time through the lease, never overlapping a renewal. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => {});
    return run;
  }

  private write(call: (o: { fencingToken: number }) => Promise<Task>): Promise<Task> {
    return this.serial(async () => {
      try {
        return this.keep(await call({ fencingToken: this.fencingToken }));
      } catch (err) {
        if (err instanceof LeaseLostError) this.lose(err);
        throw err;
      }
    });
  }

  private keep(task: Task): Task {
    if (task.version >= this.current.version) this.current = task;
    if (this.current.status !== "working") this.stopHeartbeat(); // the lease ended with it
    return task;
  }

  private stopHeartbeat(): void {
    this.stopController.abort();
    clearTimeout(this.deadlineTimer);
  }

  /** A lease ends with any write leaving working: then there is nothing to renew. */
  private holding(): boolean {
    const stopped = this.signal.aborted || this.stopController.signal.aborted;
    return !stopped && this.current.status === "working";
  }

  private lose(error: TaskStateError): void {
    if (this.signal.aborted) return;
    clearTimeout(this.deadlineTimer);
    this.lostController.abort(error);
  }

  /** Loss at the local deadline, even while a renewal or a write is still in flight. */
  private armDeadline(): void {
    clearTimeout(this.deadlineTimer);
    if (this.stopController.signal.aborted) return;
    const ms = Math.max(0, this.deadline - performance.now());
    this.deadlineTimer = setTimeout(() => {
      if (this.holding()) this.lose(this.missedDeadline());
    }, ms);
    this.deadlineTimer.unref?.();
  }

  private missedDeadline(): LeaseLostError {
    const message = `lease on task ${this.taskId} not renewed before its local deadline`;
    return new LeaseLostError(message, {
      code: "FAILED_PRECONDITION",
      reason: "LEASE_LOST",
      domain: ERROR_DOMAIN,
      metadata: { fencing_token: String(this.fencingToken) },
      fromServer: false,
    });
  }

  private async beat(): Promise<void> {
    const stop = this.stopController.signal;
    try {
      while (this.holding()) {
        const untilRenewal = Math.min(this.leaseMs / 3, this.deadline - performance.now());
        await sleep(Math.max(0, untilRenewal), stop);
        await this.renewUntilDeadline(stop);
      }
    } catch {
      // stopped (close) while sleeping: nothing to do
    }
  }

  /** One renewal, retried on UNAVAILABLE / DEADLINE_EXCEEDED until the local deadline. */
  private async renewUntilDeadline(stop: AbortSignal): Promise<void> {
    while (this.holding()) {
      const left = this.deadline - performance.now();
      if (left <= 0) {
        this.lose(this.missedDeadline());
        return;
      }
      const sent = performance.now();
      try {
        await this.serial(async () => {
          if (!this.holding()) return;
          this.keep(
            await this.client.renewLease(this.taskId, this.fencingToken, {
              timeoutMs: Math.max(1, left),
              signal: stop,
            }),
          );
          this.deadline = sent + this.leaseMs;
          this.armDeadline();
        });
        return;
      } catch (err) {
        if (stop.aborted) return;
        const error =
          err instanceof TaskStateError
            ? err
            : new TaskStateError(String(err), { code: "UNKNOWN", fromServer: false });
        if (error.code === "UNAVAILABLE" || error.code === "DEADLINE_EXCEEDED") {
          const left = this.deadline - performance.now();
          await sleep(Math.max(0, Math.min(RETRY_PAUSE_MS, this.leaseMs / 10, left)), stop);
          continue;
        }
        // LEASE_LOST, or the task is gone or finished elsewhere: the work must stop either way.
        this.lose(error);
        return;
      }
    }
  }
}
