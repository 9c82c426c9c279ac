// TaskstateTasks: the tasks extension (io.modelcontextprotocol/tasks) for an McpServer of the
// official TypeScript SDK, with taskstate as the task store. See ../README.md and
// /work/notes/tsmcp-findings.md for the SDK seams used (and the ones missing).

import {
  CLIENT_CAPABILITIES_META_KEY,
  McpServer,
  MissingRequiredClientCapabilityError,
  ProtocolError,
  ProtocolErrorCode,
} from "@modelcontextprotocol/server";
import type { AuthInfo, CallToolResult, ServerContext } from "@modelcontextprotocol/server";
import { InvalidArgumentError, TaskNotFoundError, createWorker, toTaskStateError } from "@taskstate/client";
import type { JsonObject, Lease, Task, TaskClient } from "@taskstate/client";
import * as z from "zod";
import { inlineRun, runTask } from "./run.js";
import type { TaskToolHandler } from "./run.js";
import { TASKS_EXTENSION, detailedTask, wireTask } from "./wire.js";
import type { DetailedTask } from "./wire.js";

/** Who the end user is, from the MCP request (auth info, HTTP request); undefined = no subject. */
export type SubjectOf = (auth: AuthInfo | undefined, request: Request | undefined) => string | undefined;

export interface TaskstateTasksOptions {
  /** The MCP server's taskstate client (its token is the owner of every task). */
  client: TaskClient;
  /** The end user a request acts for; tasks are then scoped to it (taskstate-subject). */
  subject?: SubjectOf | undefined;
  /** A view of `client` scoped to a subject; default: `client.withSubject(subject)`. */
  forSubject?: ((client: TaskClient, subject: string) => TaskClient) | undefined;
  /** Task time to live in ms; null = unlimited (default 1 h). */
  ttlMs?: number | null | undefined;
  /** Suggested polling interval in ms (default 1000). */
  pollIntervalMs?: number | undefined;
  /** The lease the in-process runner holds and heartbeats (default 30 s). */
  leaseMs?: number | undefined;
}

/** The tool config McpServer.registerTool takes (outputSchema: see registerTaskTool). */
export interface TaskToolConfig {
  title?: string;
  description?: string;
  inputSchema?: z.ZodObject;
  annotations?: Record<string, unknown>;
  _meta?: Record<string, unknown>;
}

const TaskIdParams = z.object({ taskId: z.string() });

/** Whether the request declared the tasks extension in its per-request capabilities. */
export function declaresTasks(ctx: ServerContext): boolean {
  const envelope = ctx.mcpReq.envelope as Record<string, unknown> | undefined;
  const caps = envelope?.[CLIENT_CAPABILITIES_META_KEY] as { extensions?: Record<string, unknown> } | undefined;
  return caps?.extensions?.[TASKS_EXTENSION] !== undefined;
}

function missingCapability(): MissingRequiredClientCapabilityError {
  return new MissingRequiredClientCapabilityError({
    requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } },
  } as never);
}

function notFound(): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.InvalidParams, "Failed to retrieve task: Task not found");
}

/**
 * One instance per process: `attach(mcp)` on every McpServer the factory builds, tools via
 * `registerTaskTool`. A tool call from a client that declared the extension runs as a taskstate
 * task (in this process, under a heartbeated lease) and answers a CreateTaskResult once the task
 * exists; tasks/get, tasks/update and tasks/cancel are answered from taskstate, so any replica
 * can serve any task.
 */
export class TaskstateTasks {
  readonly client: TaskClient;
  private readonly subjectOf: SubjectOf | undefined;
  private readonly forSubject: (client: TaskClient, subject: string) => TaskClient;
  private readonly ttlMs: number | null;
  private readonly pollIntervalMs: number;
  private readonly leaseMs: number;
  private readonly running = new Set<Promise<void>>();

  constructor(options: TaskstateTasksOptions) {
    this.client = options.client;
    this.subjectOf = options.subject;
    this.forSubject = options.forSubject ?? defaultForSubject;
    this.ttlMs = options.ttlMs === undefined ? 3_600_000 : options.ttlMs;
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.leaseMs = options.leaseMs ?? 30_000;
  }

  /** The client for this request's end user. */
  clientFor(auth: AuthInfo | undefined, request: Request | undefined): TaskClient {
    const subject = this.subjectOf?.(auth, request);
    return subject === undefined ? this.client : this.forSubject(this.client, subject);
  }

  private clientOf(ctx: ServerContext): TaskClient {
    return this.clientFor(ctx.http?.authInfo, ctx.http?.req);
  }

  /** Declares the extension and serves tasks/get, tasks/update and tasks/cancel on `mcp`. */
  attach(mcp: McpServer): void {
    const server = mcp.server;
    server.registerCapabilities({ extensions: { [TASKS_EXTENSION]: {} } });
    server.setRequestHandler("tasks/get", { params: TaskIdParams }, async (params, ctx) => {
      if (!declaresTasks(ctx)) throw missingCapability();
      const task = await this.fetch(this.clientOf(ctx), params.taskId);
      return detailedTask(task) as DetailedTask & Record<string, unknown>;
    });
    server.setRequestHandler("tasks/update", { params: TaskIdParams }, async (params, ctx) => {
      if (!declaresTasks(ctx)) throw missingCapability();
      // The protocol layer lifts params.inputResponses (a reserved retry key on every request)
      // into ctx.mcpReq.inputResponses, dropping entries that are not plain response objects.
      const responses = (ctx.mcpReq.inputResponses ?? {}) as JsonObject;
      await this.call(() => this.clientOf(ctx).provideInput(params.taskId, responses));
      return {};
    });
    server.setRequestHandler("tasks/cancel", { params: TaskIdParams }, async (params, ctx) => {
      if (!declaresTasks(ctx)) throw missingCapability();
      await this.call(() => this.clientOf(ctx).requestCancel(params.taskId));
      return {};
    });
  }

  /**
   * Registers a task-capable tool on `mcp`. A client that declared the extension gets a
   * CreateTaskResult and follows the task; one that did not gets the plain result (the handler
   * runs inline). Give task tools no outputSchema: McpServer would check the CreateTaskResult
   * against it.
   */
  registerTaskTool(mcp: McpServer, name: string, config: TaskToolConfig, handler: TaskToolHandler): void {
    const callback = async (...argv: unknown[]): Promise<CallToolResult> => {
      const ctx = argv[argv.length - 1] as ServerContext;
      const args = (argv.length > 1 ? argv[0] : {}) as Record<string, unknown>;
      if (!declaresTasks(ctx)) return handler(args, inlineRun(ctx.mcpReq.signal));
      // The SDK's ToolCallback type knows no CreateTaskResult; the encode seam passes it through.
      return (await this.start(this.clientOf(ctx), name, handler, args)) as unknown as CallToolResult;
    };
    mcp.registerTool(name, config as never, callback as never);
  }

  /** Creates the task, claims it, starts the handler, and returns the CreateTaskResult. */
  private async start(
    client: TaskClient,
    tool: string,
    handler: TaskToolHandler,
    args: Record<string, unknown>,
  ): Promise<Record<string, unknown>> {
    const task = await client.create({
      requestMethod: "tools/call",
      ttl: this.ttlMs ?? undefined,
      pollInterval: this.pollIntervalMs,
      variables: { tool },
      leasePolicy: "fail",
    });
    const worker = createWorker(client, { lease: this.leaseMs });
    let lease: Lease;
    try {
      lease = await worker.claim(task.taskId);
    } catch (err) {
      // Unclaimed, no lease would ever end the task: fail it now (best effort) and say so.
      const message = `could not start the tool: ${toTaskStateError(err).message}`;
      await client.fail(task.taskId, { code: ProtocolErrorCode.InternalError, message }).catch(() => {});
      throw new ProtocolError(ProtocolErrorCode.InternalError, message);
    }
    const done = runTask(client, worker, lease, handler, args);
    this.running.add(done);
    void done.finally(() => this.running.delete(done));
    return { resultType: "task", ...wireTask(lease.task) };
  }

  /** GetTask, with taskstate's not-found as the extension's -32602. */
  async fetch(client: TaskClient, taskId: string): Promise<Task> {
    return this.call(() => client.get(taskId));
  }

  /** Runs a taskstate call; its errors become the extension's JSON-RPC errors. */
  private async call<T>(rpc: () => Promise<T>): Promise<T> {
    try {
      return await rpc();
    } catch (err) {
      const error = toTaskStateError(err);
      if (error instanceof TaskNotFoundError) throw notFound();
      // A malformed task id or input key is the caller's: "Invalid or nonexistent taskId".
      if (error instanceof InvalidArgumentError) {
        throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Invalid params: ${error.message}`);
      }
      throw new ProtocolError(ProtocolErrorCode.InternalError, `Task store error: ${error.message}`);
    }
  }

  /** Waits for the tool runs this process started (for a clean shutdown). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.running]);
  }
}

function defaultForSubject(client: TaskClient, subject: string): TaskClient {
  return client.withSubject(subject);
}
