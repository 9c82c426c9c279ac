// Test harness: a real taskstate server, MCP replicas of the adapter over node:http, and the
// official TS SDK client (Client for spec methods, its StreamableHTTPClientTransport as the raw
// dispatch for what Client cannot receive: a CreateTaskResult, a listen with taskIds).

import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import {
  CLIENT_CAPABILITIES_META_KEY,
  CLIENT_INFO_META_KEY,
  Client,
  PROTOCOL_VERSION_META_KEY,
  StreamableHTTPClientTransport,
} from "@modelcontextprotocol/client";
import type { JSONRPCMessage } from "@modelcontextprotocol/client";
import { McpServer, createMcpHandler } from "@modelcontextprotocol/server";
import type { AuthInfo } from "@modelcontextprotocol/server";
import { createClient } from "@taskstate/client";
import type { TaskClient } from "@taskstate/client";

import { TASKS_EXTENSION, TaskstateTasks, withTaskNotifications } from "../src/index.js";
import type { FetchHandler, TaskstateTasksOptions } from "../src/index.js";

export const MODERN = "2026-07-28";

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "proto", "taskstate", "v1", "taskstate.proto"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error("cannot find the repository root");
    dir = parent;
  }
  return dir;
}

/**
 * The taskstate server: TASKSTATE_MCP_TEST_ADDRESS when a wrapper started one
 * (tests/mcp/test_typescript_mcp.py), else $TASKSTATE_SERVER_CMD (as the TS client's tests) or
 * <repo>/.venv/bin/taskstate-server, on memory://.
 */
export async function taskstateServer(): Promise<{ address: string; stop: () => void }> {
  const given = process.env["TASKSTATE_MCP_TEST_ADDRESS"];
  if (given) return { address: given, stop: () => {} };
  const args = ["--store", "memory://", "--listen", "127.0.0.1:0"];
  const custom = process.env["TASKSTATE_SERVER_CMD"];
  const stdio: ["ignore", "pipe", "pipe"] = ["ignore", "pipe", "pipe"];
  const proc: ChildProcess = custom
    ? spawn("/bin/sh", ["-c", `exec ${custom} "$@"`, "taskstate-server", ...args], { stdio })
    : spawn(join(repoRoot(), ".venv", "bin", "taskstate-server"), args, { stdio });
  const address = await new Promise<string>((resolve, reject) => {
    let seen = "";
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString();
      const m = /listening on (\S+)/.exec(seen);
      if (m?.[1]) resolve(m[1]);
    };
    proc.stdout?.on("data", onData);
    proc.stderr?.on("data", onData);
    proc.once("exit", (code) => reject(new Error(`taskstate-server exited (${code}): ${seen}`)));
    proc.once("error", reject);
  });
  return { address, stop: () => proc.kill("SIGTERM") };
}

/** Serves a fetch handler on node:http (127.0.0.1, ephemeral port). */
export async function serveFetch(handler: FetchHandler): Promise<{ url: URL; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const abort = new AbortController();
      res.on("close", () => abort.abort());
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers)) {
        if (typeof v === "string") headers.set(k, v);
        else if (Array.isArray(v)) for (const one of v) headers.append(k, one);
      }
      const method = req.method ?? "GET";
      const request = new Request(`http://${req.headers.host}${req.url}`, {
        method,
        headers,
        signal: abort.signal,
        ...(method === "GET" || method === "HEAD" ? {} : { body: Buffer.concat(chunks) }),
      });
      // A stand-in for an auth middleware: "Bearer <user>" authenticates <user>.
      const bearer = /^Bearer (\S+)$/.exec(req.headers.authorization ?? "")?.[1];
      const authInfo: AuthInfo | undefined =
        bearer === undefined ? undefined : { token: bearer, clientId: bearer, scopes: [] };
      const response = await handler(request, authInfo === undefined ? {} : { authInfo });
      res.writeHead(response.status, Object.fromEntries(response.headers));
      res.flushHeaders();
      if (response.body) {
        try {
          for await (const chunk of response.body) res.write(chunk);
        } catch {
          // The client went away.
        }
      }
      res.end();
    })();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: new URL(`http://127.0.0.1:${port}/mcp`),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** One MCP server replica: a factory that attaches the adapter and registers `tools`. */
export async function replica(
  client: TaskClient,
  register: (mcp: McpServer, tasks: TaskstateTasks) => void,
  options: Partial<TaskstateTasksOptions> = {},
): Promise<{ url: URL; tasks: TaskstateTasks; close: () => Promise<void> }> {
  const tasks = new TaskstateTasks({ client, pollIntervalMs: 100, ...options });
  const handler = createMcpHandler(() => {
    const mcp = new McpServer({ name: "taskstate-mcp-test", version: "0.0.0" });
    tasks.attach(mcp);
    register(mcp, tasks);
    return mcp;
  });
  const served = await serveFetch(withTaskNotifications(tasks, handler.fetch));
  return {
    url: served.url,
    tasks,
    close: async () => {
      await handler.close();
      await served.close();
      await tasks.drain();
    },
  };
}

export function taskClient(address: string): TaskClient {
  return createClient({ address });
}

/** The end user: the authenticated client id (see serveFetch). */
export function subjectOfAuth(auth: AuthInfo | undefined): string | undefined {
  return auth?.clientId;
}

/** The official Client, on the 2026-07-28 era, with or without the tasks extension. */
export async function mcpClient(url: URL, withTasks: boolean, user?: string): Promise<Client> {
  const client = new Client(
    { name: "ts-test", version: "0.0.0" },
    {
      capabilities: withTasks ? { extensions: { [TASKS_EXTENSION]: {} } } : {},
      versionNegotiation: { mode: { pin: MODERN } },
    },
  );
  await client.connect(new StreamableHTTPClientTransport(url, userInit(user)));
  return client;
}

function userInit(user: string | undefined): { requestInit?: RequestInit } {
  return user === undefined ? {} : { requestInit: { headers: { Authorization: `Bearer ${user}` } } };
}

/** The per-request envelope a 2026-07-28 request carries. */
export function envelope(withTasks = true): Record<string, unknown> {
  return {
    [PROTOCOL_VERSION_META_KEY]: MODERN,
    [CLIENT_INFO_META_KEY]: { name: "ts-test", version: "0.0.0" },
    [CLIENT_CAPABILITIES_META_KEY]: withTasks ? { extensions: { [TASKS_EXTENSION]: {} } } : {},
  };
}

/**
 * Raw JSON-RPC over the official StreamableHTTPClientTransport (it sets MCP-Protocol-Version,
 * Mcp-Method and Mcp-Name): what @modelcontextprotocol/ext-tasks calls a rawDispatch.
 */
export class RawSession {
  private readonly transport: StreamableHTTPClientTransport;
  private nextId = 1;
  private readonly pending = new Map<string | number, (msg: JSONRPCMessage) => void>();
  readonly notifications: JSONRPCMessage[] = [];
  private readonly noteWaiters = new Set<() => void>();

  constructor(url: URL, user?: string) {
    this.transport = new StreamableHTTPClientTransport(url, userInit(user));
    this.transport.onmessage = (msg) => {
      const id = (msg as { id?: string | number }).id;
      if (id !== undefined && "method" in msg === false) {
        this.pending.get(id)?.(msg);
        this.pending.delete(id);
      } else {
        this.notifications.push(msg);
        for (const w of [...this.noteWaiters]) w();
      }
    };
  }

  async start(): Promise<void> {
    await this.transport.start();
    this.transport.setProtocolVersion?.(MODERN);
  }

  /** Sends a request; resolves with the whole JSON-RPC response (result or error). */
  request(method: string, params: Record<string, unknown>, withTasks = true): Promise<Record<string, unknown>> {
    const id = `raw-${this.nextId++}`;
    const message = {
      jsonrpc: "2.0" as const,
      id,
      method,
      params: { ...params, _meta: envelope(withTasks) },
    };
    return new Promise((resolve, reject) => {
      this.pending.set(id, (msg) => resolve(msg as unknown as Record<string, unknown>));
      this.transport.send(message as JSONRPCMessage).catch(reject);
    });
  }

  /** Resolves with the first notification `match` accepts (seen before or after the call). */
  notification(match: (msg: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    return new Promise((resolve) => {
      const check = (): void => {
        const hit = this.notifications.find((m) => match(m as unknown as Record<string, unknown>));
        if (hit !== undefined) {
          this.noteWaiters.delete(check);
          resolve(hit as unknown as Record<string, unknown>);
        }
      };
      this.noteWaiters.add(check);
      check();
    });
  }

  async close(): Promise<void> {
    await this.transport.close();
  }
}
