// notifications/tasks over subscriptions/listen. The SDK's createMcpHandler answers
// subscriptions/listen itself and keeps only its four change filters (taskIds is dropped, see
// tsmcp-findings.md (c)), so the library fronts the handler's fetch face: a listen that asks
// for taskIds is served here from taskstate WatchTask; every other request goes to the handler.

import { CLIENT_CAPABILITIES_META_KEY, SUBSCRIPTION_ID_META_KEY } from "@modelcontextprotocol/server";
import type { McpHandlerRequestOptions } from "@modelcontextprotocol/server";
import type { TaskClient } from "@taskstate/client";
import type { TaskstateTasks } from "./tasks.js";
import { TASKS_EXTENSION, detailedTask } from "./wire.js";

/** Interval of the SSE keep-alive comments on a listen stream (the SDK's default). */
const KEEP_ALIVE_MS = 15_000;

/** The fetch face of createMcpHandler (and what withTaskNotifications returns). */
export type FetchHandler = (request: Request, options?: McpHandlerRequestOptions) => Promise<Response>;

interface ListenRequest {
  id: string | number;
  taskIds: string[];
  declared: boolean;
}

function listenRequest(body: unknown): ListenRequest | undefined {
  if (body === null || typeof body !== "object" || Array.isArray(body)) return undefined;
  const msg = body as { method?: unknown; id?: unknown; params?: { notifications?: { taskIds?: unknown }; _meta?: Record<string, unknown> } };
  if (msg.method !== "subscriptions/listen") return undefined;
  const taskIds = msg.params?.notifications?.taskIds;
  if (!Array.isArray(taskIds) || !taskIds.every((t) => typeof t === "string")) return undefined;
  if (typeof msg.id !== "string" && typeof msg.id !== "number") return undefined;
  const caps = msg.params?._meta?.[CLIENT_CAPABILITIES_META_KEY] as { extensions?: Record<string, unknown> } | undefined;
  return { id: msg.id, taskIds: taskIds as string[], declared: caps?.extensions?.[TASKS_EXTENSION] !== undefined };
}

/** Wraps an MCP fetch handler so subscriptions/listen can follow tasks (notifications/tasks). */
export function withTaskNotifications(tasks: TaskstateTasks, next: FetchHandler): FetchHandler {
  return async (request, options) => {
    if (request.method.toUpperCase() !== "POST") return next(request, options);
    let body: unknown = options?.parsedBody;
    if (body === undefined) {
      try {
        body = await request.clone().json();
      } catch {
        return next(request, options);
      }
    }
    const listen = listenRequest(body);
    if (listen === undefined) return next(request, options);
    if (!listen.declared) {
      return Response.json({
        jsonrpc: "2.0",
        id: listen.id,
        error: {
          code: -32021,
          message: "Missing required client capability",
          data: { requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } } },
        },
      });
    }
    return serveListen(tasks, tasks.clientFor(options?.authInfo, request), listen, request.signal);
  };
}

/** The SSE stream: the ack (the visible taskIds), then one notifications/tasks per change. */
async function serveListen(tasks: TaskstateTasks, client: TaskClient, listen: ListenRequest, signal: AbortSignal): Promise<Response> {
  const honored: string[] = [];
  for (const taskId of new Set(listen.taskIds)) {
    try {
      await tasks.fetch(client, taskId);
      honored.push(taskId);
    } catch {
      // Unknown, expired or another user's: not acknowledged.
    }
  }
  const stop = new AbortController();
  const onAbort = (): void => stop.abort();
  signal.addEventListener("abort", onAbort, { once: true });
  const encoder = new TextEncoder();
  const meta = { [SUBSCRIPTION_ID_META_KEY]: listen.id };
  const stream = new ReadableStream<Uint8Array>({
    async start(controller) {
      const send = (msg: object): void => {
        if (!stop.signal.aborted) controller.enqueue(encoder.encode(`event: message\ndata: ${JSON.stringify({ jsonrpc: "2.0", ...msg })}\n\n`));
      };
      send({ method: "notifications/subscriptions/acknowledged", params: { notifications: { taskIds: honored }, _meta: meta } });
      // SSE comment frames keep idle proxies from closing a quiet stream (as the SDK's own streams).
      const keepAlive = setInterval(() => {
        if (!stop.signal.aborted) controller.enqueue(encoder.encode(": keepalive\n\n"));
      }, KEEP_ALIVE_MS);
      stop.signal.addEventListener("abort", () => clearInterval(keepAlive), { once: true });
      await Promise.all(honored.map((taskId) => follow(client, taskId, stop.signal, (params) => send({ method: "notifications/tasks", params: { ...params, _meta: meta } }))));
      // Every followed task is terminal: end the subscription gracefully.
      clearInterval(keepAlive);
      send({ id: listen.id, result: { resultType: "complete", _meta: meta } });
      signal.removeEventListener("abort", onAbort);
      if (!stop.signal.aborted) controller.close();
    },
    cancel() {
      stop.abort();
    },
  });
  return new Response(stream, {
    status: 200,
    headers: { "Content-Type": "text/event-stream", "Cache-Control": "no-cache, no-transform", Connection: "keep-alive" },
  });
}

/** Sends every version of one task from the current one until it is terminal. */
async function follow(client: TaskClient, taskId: string, signal: AbortSignal, send: (params: Record<string, unknown>) => void): Promise<void> {
  try {
    for await (const task of client.watch(taskId, { signal })) {
      send(detailedTask(task) as unknown as Record<string, unknown>);
    }
  } catch {
    // Aborted (client went away) or the task vanished.
  }
}
