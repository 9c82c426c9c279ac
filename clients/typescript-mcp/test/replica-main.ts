// A replica in a process of its own (for the crash test): `node replica-main.js ADDRESS LEASE_MS`
// serves a "hang" tool that never returns and prints its MCP URL on stdout.

import { createClient } from "@taskstate/client";

import { replica } from "./harness.js";

const [address, leaseMs] = process.argv.slice(2);
if (address === undefined || leaseMs === undefined) throw new Error("usage: replica-main ADDRESS LEASE_MS");
const served = await replica(
  createClient({ address }),
  (mcp, tasks) => {
    tasks.registerTaskTool(mcp, "hang", { description: "never returns" }, () => new Promise(() => {}));
  },
  { leaseMs: Number(leaseMs) },
);
process.stdout.write(`${served.url.href}\n`);
