// Stream plumbing shared by watch(), watchAll(), events() and the worker's heartbeat.

import { TaskStateError, UnavailableError, toTaskStateError } from "./errors.js";
import { sleep } from "./retry.js";

/**
 * Codes after which reopening a watch can help: the connection dropped or the server
 * drains (UNAVAILABLE), or the server cancelled the stream while shutting down.
 */
export function resumable(error: TaskStateError): boolean {
  return error.code === "UNAVAILABLE" || (error.code === "CANCELLED" && error.fromServer);
}

/** Aborts `inner` when `outer` aborts; returns the function that unlinks them. */
export function linkSignal(outer: AbortSignal | undefined, inner: AbortController): () => void {
  if (!outer) return () => {};
  if (outer.aborted) {
    inner.abort(outer.reason);
    return () => {};
  }
  const onAbort = (): void => inner.abort(outer.reason);
  outer.addEventListener("abort", onAbort, { once: true });
  return () => outer.removeEventListener("abort", onAbort);
}

/** What a stream closed by its reader reports. */
export function closedError(): TaskStateError {
  return new TaskStateError("stream closed", { code: "CANCELLED", fromServer: false });
}

/**
 * Before reopening a stream: sleeps the next backoff delay, or throws `failure` (else an
 * UNAVAILABLE saying `what`) once the budget is spent. An abort throws CANCELLED.
 */
export async function backoffOrThrow(
  delays: Iterator<number, void>,
  failure: TaskStateError | undefined,
  what: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  const delay = delays.next();
  if (delay.done) {
    throw failure ?? new UnavailableError(what, { code: "UNAVAILABLE", fromServer: false });
  }
  try {
    await sleep(delay.value, signal);
  } catch (err) {
    throw toTaskStateError(err, signal);
  }
}
