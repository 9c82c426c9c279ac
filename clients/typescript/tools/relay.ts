// The TypeScript step of the cross-language relay test (tests/relay/test_relay.py):
// merges two variables into a task and prints the task's new version.
//
//   TASKSTATE_ADDRESS=127.0.0.1:50051 TASKSTATE_TOKEN=... \
//     node clients/typescript/build/tools/relay.js <task_id>
//
// stdout carries only the version; errors go to stderr with exit code 1 (2 for bad usage).

import { createClient } from "../src/client.js";
import { optionsFromEnv } from "../src/env.js";
import { TaskStateError } from "../src/errors.js";

async function main(argv: readonly string[]): Promise<number> {
  const taskId = argv[0];
  if (taskId === undefined || argv.length !== 1) {
    process.stderr.write("usage: relay.js <task_id>\n");
    return 2;
  }
  if (!process.env.TASKSTATE_ADDRESS) {
    process.stderr.write("relay: TASKSTATE_ADDRESS is not set\n");
    return 2;
  }
  // The address, token and TLS settings (TASKSTATE_TLS, TASKSTATE_CA_CERT, ...) as every client reads them.
  const client = createClient({ ...optionsFromEnv(), defaultTimeoutMs: 10_000 });
  try {
    const task = await client.setVariables(taskId, { ts_note: "set by typescript", ts_count: 2 });
    process.stdout.write(`${task.version}\n`);
    return 0;
  } finally {
    client.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof TaskStateError) {
      process.stderr.write(`relay: ${err.code} ${err.reason ?? "-"}: ${err.message}\n`);
    } else {
      process.stderr.write(`relay: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    }
    process.exitCode = 1;
  },
);
