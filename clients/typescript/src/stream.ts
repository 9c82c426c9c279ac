// Stream plumbing shared by watch(), watchAll(), events() and the worker's heartbeat.

import { TaskStateError } from "./errors.js";

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
