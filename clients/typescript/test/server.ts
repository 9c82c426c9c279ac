// Test helper: runs the REAL taskstate server as a subprocess on an ephemeral port.
//
// The command is $TASKSTATE_SERVER_CMD (interpreted by /bin/sh, e.g. "taskstate-server") if
// set, else <repo>/.venv/bin/python -m taskstate_server. A server that cannot start fails
// the test: there is no skipping.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before } from "node:test";

import { TaskStateError, createClient } from "../src/index.js";
import type { ClientOptions, TaskClient } from "../src/index.js";

export const TOKENS = { alice: "tok-alice", bob: "tok-bob" } as const;

/** The repository root: the nearest ancestor holding proto/taskstate/v1/taskstate.proto. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "proto", "taskstate", "v1", "taskstate.proto"))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error("cannot find the repository root (proto/taskstate/v1)");
    dir = parent;
  }
}

export interface ServerOptions {
  /** Store URL (default memory://; see `sqlite`). */
  store?: string;
  /** Use a SQLite store in the server's temporary directory (survives restarts). */
  sqlite?: boolean;
  /** Require tokens (alice, bob from TOKENS); default: anonymous access on loopback. */
  auth?: boolean;
  /** Listen address (default 127.0.0.1:0). */
  listen?: string;
  /** Extra flags, e.g. ["--max-active-tasks", "3"]. */
  args?: string[];
}

export class TestServer {
  address = "";
  private proc: ChildProcess | undefined;
  private stderr = "";
  private readonly tmp: string;

  private constructor(readonly options: ServerOptions) {
    this.tmp = mkdtempSync(join(tmpdir(), "taskstate-ts-"));
  }

  /** Starts a server and resolves once it logs `listening on HOST:PORT`. */
  static async start(options: ServerOptions = {}): Promise<TestServer> {
    const server = new TestServer(options);
    await server.spawn(options.listen ?? "127.0.0.1:0");
    return server;
  }

  private async spawn(listen: string): Promise<void> {
    const store = this.options.sqlite
      ? `sqlite:///${join(this.tmp, "taskstate.db")}`
      : (this.options.store ?? "memory://");
    const args = ["--listen", listen, "--store", store];
    if (this.options.auth) {
      const file = join(this.tmp, "tokens.json");
      writeFileSync(file, JSON.stringify({ alice: [TOKENS.alice], bob: [TOKENS.bob] }));
      args.push("--auth-tokens", file);
    }
    args.push(...(this.options.args ?? []));
    const custom = process.env["TASKSTATE_SERVER_CMD"];
    let proc: ChildProcess;
    if (custom) {
      proc = spawn("/bin/sh", ["-c", `exec ${custom} "$@"`, "taskstate-server", ...args], {
        stdio: ["ignore", "ignore", "pipe"],
      });
    } else {
      const python = resolve(repoRoot(), ".venv", "bin", "python");
      if (!existsSync(python)) {
        throw new Error(`${python} not found: run \`make setup\` or set TASKSTATE_SERVER_CMD`);
      }
      proc = spawn(python, ["-m", "taskstate_server", ...args], {
        stdio: ["ignore", "ignore", "pipe"],
      });
    }
    this.proc = proc;
    this.stderr = "";
    this.address = await new Promise<string>((ok, fail) => {
      const timer = setTimeout(() => {
        proc.kill("SIGKILL");
        fail(new Error(`taskstate server did not start within 30 s:\n${this.stderr}`));
      }, 30_000);
      proc.stderr?.setEncoding("utf8");
      proc.stderr?.on("data", (chunk: string) => {
        this.stderr += chunk;
        const m = /listening on (\S+):(\d+)/.exec(this.stderr);
        if (m && this.address === "") {
          clearTimeout(timer);
          ok(`${m[1]}:${m[2]}`);
        }
      });
      proc.once("error", (err) => {
        clearTimeout(timer);
        fail(new Error(`cannot run the taskstate server: ${err.message}`));
      });
      proc.once("exit", (code, signal) => {
        clearTimeout(timer);
        fail(new Error(`taskstate server exited (${code ?? signal}) before listening:\n${this.stderr}`));
      });
    });
  }

  /** SIGTERM (the server drains: watch streams end with UNAVAILABLE), SIGKILL after 10 s. */
  async stop(): Promise<void> {
    const proc = this.proc;
    this.proc = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((ok) => {
      const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
      proc.once("exit", () => {
        clearTimeout(timer);
        ok();
      });
      proc.kill("SIGTERM");
    });
  }

  /** Stops and starts the server again on the same address (same store). */
  async restart(): Promise<void> {
    const listen = this.address;
    await this.stop();
    this.address = "";
    await this.spawn(listen);
  }

  async close(): Promise<void> {
    await this.stop();
    rmSync(this.tmp, { recursive: true, force: true });
  }
}

/** What live() gives a suite: its server, a proxy in front of it, and clients to either. */
export interface LiveSuite {
  server: TestServer;
  proxy: DropProxy;
  /** A client of the server with the default options. */
  client: TaskClient;
  /** A client of the server (closed after the suite). */
  connect(options?: Partial<ClientOptions>): TaskClient;
  /** A client going through the proxy (closed after the suite). */
  connectViaProxy(options?: Partial<ClientOptions>): TaskClient;
}

/**
 * Registers the enclosing describe()'s hooks: a server (and a DropProxy in front of it) started
 * before its tests and closed after them with every client made through connect*().
 */
export function live(options: ServerOptions = {}): LiveSuite {
  const clients: TaskClient[] = [];
  const open = (address: string, extra: Partial<ClientOptions>): TaskClient => {
    const c = createClient({ ...extra, address });
    clients.push(c);
    return c;
  };
  const suite: LiveSuite = {
    server: undefined as unknown as TestServer,
    proxy: undefined as unknown as DropProxy,
    client: undefined as unknown as TaskClient,
    connect: (extra = {}) => open(suite.server.address, extra),
    connectViaProxy: (extra = {}) => open(suite.proxy.address, extra),
  };
  before(async () => {
    suite.server = await TestServer.start(options);
    suite.proxy = await DropProxy.start(suite.server.address);
    suite.client = suite.connect();
  });
  after(async () => {
    for (const c of clients) c.close();
    await suite.proxy?.close();
    await suite.server?.close();
  });
  return suite;
}

/** A TCP proxy in front of a server, to cut (or stall) every connection through it on demand. */
export class DropProxy {
  private readonly sockets = new Set<net.Socket>();
  private readonly pairs = new Set<[net.Socket, net.Socket]>();
  private paused = false;
  /** Connections accepted so far. */
  accepted = 0;
  private constructor(private readonly server: net.Server) {}

  static async start(target: string): Promise<DropProxy> {
    const i = target.lastIndexOf(":");
    const host = target.slice(0, i);
    const port = Number(target.slice(i + 1));
    let self: DropProxy | undefined;
    const server = net.createServer((client) => {
      const upstream = net.connect(port, host);
      self?.track(client, upstream);
    });
    self = new DropProxy(server);
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
    return self;
  }

  get address(): string {
    const a = this.server.address() as net.AddressInfo;
    return `127.0.0.1:${a.port}`;
  }

  get connections(): number {
    return this.sockets.size / 2;
  }

  private track(a: net.Socket, b: net.Socket): void {
    this.accepted++;
    this.sockets.add(a);
    this.sockets.add(b);
    const pair: [net.Socket, net.Socket] = [a, b];
    this.pairs.add(pair);
    if (!this.paused) connect(pair);
    const done = (): void => {
      a.destroy();
      b.destroy();
      this.sockets.delete(a);
      this.sockets.delete(b);
      this.pairs.delete(pair);
    };
    for (const s of [a, b]) {
      s.on("error", done);
      s.on("close", done);
    }
  }

  /** Stops forwarding in both directions (a stalled network): calls hang, nothing fails. */
  pause(): void {
    this.paused = true;
    for (const [a, b] of this.pairs) {
      a.unpipe(b);
      b.unpipe(a);
    }
  }

  /** Forwards again, including what was held back. */
  resume(): void {
    this.paused = false;
    for (const pair of this.pairs) connect(pair);
  }

  /** Destroys every open connection (like a network failure); new ones are accepted. */
  dropAll(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    this.pairs.clear();
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((ok) => this.server.close(() => ok()));
  }
}

function connect([a, b]: [net.Socket, net.Socket]): void {
  a.pipe(b);
  b.pipe(a);
}

export function delay(ms: number): Promise<void> {
  return new Promise((ok) => setTimeout(ok, ms));
}

/** Polls `cond` every 10 ms until it holds, failing after `ms`. */
export async function until(cond: () => boolean, ms = 10_000, what = "condition"): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await delay(10);
  }
}

/** Like until(), for a condition that needs a call (e.g. a read of the task). */
export async function eventually(
  cond: () => Promise<boolean>,
  ms = 10_000,
  what = "condition",
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await delay(10);
  }
}

/** Awaits a call that must fail with a TaskStateError, and returns that error. */
export async function failure(p: Promise<unknown>): Promise<TaskStateError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof TaskStateError, `not a TaskStateError: ${String(err)}`);
    return err;
  }
  assert.fail("the call succeeded");
}
