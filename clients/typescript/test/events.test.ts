// The owner feed: watchAll() events and cursors, and events({resume: true}) surviving dropped
// connections and a compacted feed.

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { FeedCompactedError } from "../src/index.js";
import type { TaskEvent } from "../src/index.js";
import { eventually, live } from "./server.js";

const FAST_RETRY = { maxAttempts: 60, initialBackoffMs: 20, maxBackoffMs: 250 };

/** The next `n` events of `it` about `taskIds` (others, e.g. from earlier tests, are skipped). */
async function take(
  it: AsyncIterator<TaskEvent>,
  n: number,
  taskIds: readonly string[] = [],
): Promise<TaskEvent[]> {
  const out: TaskEvent[] = [];
  while (out.length < n) {
    const next = await it.next();
    assert.equal(next.done, false, "the feed ended");
    const event = next.value as TaskEvent;
    if (taskIds.length === 0 || taskIds.includes(event.taskId) || event.kind === "reset") {
      out.push(event);
    }
  }
  return out;
}

function brief(events: TaskEvent[], names: Record<string, string>): string[] {
  return events.map((e) => `${e.kind}:${names[e.taskId] ?? e.taskId}:${e.version}`);
}

describe("watchAll() events", () => {
  const suite = live();

  it("allEvents adds deletions; an event's resumeCursor resumes right after it", async () => {
    const stream = suite.client.watchAll({ allEvents: true });
    await stream.ready;
    const t = await suite.client.create();
    await suite.client.delete(t.taskId);
    const it = stream.events()[Symbol.asyncIterator]();
    const events = await take(it, 2, [t.taskId]);
    stream.close();
    assert.deepEqual(brief(events, { [t.taskId]: "t" }), ["write:t:1", "deleted:t:1"]);
    assert.equal(events[0]!.task?.taskId, t.taskId);
    assert.ok(!("task" in events[1]!));
    assert.ok(events.every((e) => e.resumeCursor !== ""));

    const resumed = suite.client.watchAll({ resumeCursor: events[0]!.resumeCursor });
    const next = await resumed.events().next();
    resumed.close();
    assert.equal(next.value?.kind, "deleted");
    assert.equal(next.value?.taskId, t.taskId);
  });

  it("list() gives the first page's resumeCursor only", async () => {
    await suite.client.create();
    await suite.client.create();
    const first = await suite.client.list({ pageSize: 1 });
    assert.notEqual(first.resumeCursor, "");
    const second = await suite.client.list({ pageSize: 1, pageToken: first.nextPageToken });
    assert.equal(second.resumeCursor, "");
  });
});

describe("events({resume: true})", () => {
  const suite = live();

  it("resumes from its cursor after a dropped connection: nothing missed, nothing twice", async () => {
    const client = suite.connectViaProxy({ watchRetry: FAST_RETRY });
    const writer = suite.client;
    const { resumeCursor } = await writer.list({ pageSize: 1 });
    const feed = client.events({ resume: true, cursor: resumeCursor });
    const it = feed[Symbol.asyncIterator]();
    try {
      const t = await writer.create();
      const gone = await writer.create();
      const ids = [t.taskId, gone.taskId];
      const names = { [t.taskId]: "t", [gone.taskId]: "gone" };
      assert.deepEqual(brief(await take(it, 2, ids), names), ["write:t:1", "write:gone:1"]);
      const accepted = suite.proxy.accepted;
      suite.proxy.dropAll();
      // Changes while the feed is down; it reads them from its cursor once reconnected.
      await writer.setVariables(t.taskId, { a: 1 });
      await writer.delete(gone.taskId);
      const u = await writer.create();
      ids.push(u.taskId);
      names[u.taskId] = "u";
      assert.deepEqual(brief(await take(it, 3, ids), names), [
        "write:t:2",
        "deleted:gone:1",
        "write:u:1",
      ]);
      assert.ok(suite.proxy.accepted > accepted, "the feed reconnected");
    } finally {
      await it.return?.();
    }
  });
});

describe("events({resume: true}) on a compacted feed", () => {
  const suite = live({ args: ["--feed-retention", "1s"] });

  it("re-lists on FEED_COMPACTED: a reset, a write per task, then the feed goes on", async () => {
    const client = suite.connect({ watchRetry: FAST_RETRY });
    const writer = suite.client;
    const { resumeCursor } = await writer.list({ pageSize: 1 });
    const a = await writer.create({ variables: { name: "a" } });
    const b = await writer.create({ variables: { name: "b" } });
    // The 1 s retention trims the two creations: the cursor then reads as compacted.
    const compacted = async (): Promise<boolean> => {
      const stream = writer.watchAll({ resumeCursor });
      try {
        await stream.events().next();
        return false;
      } catch (err) {
        if (err instanceof FeedCompactedError) return true;
        throw err;
      } finally {
        stream.close();
      }
    };
    await eventually(compacted, 15_000, "the feed's compaction");

    const it = client.events({ resume: true, cursor: resumeCursor })[Symbol.asyncIterator]();
    try {
      const ids = [a.taskId, b.taskId];
      const names = { [a.taskId]: "a", [b.taskId]: "b" };
      const listed = await take(it, 3, ids);
      assert.deepEqual(brief(listed, names), ["reset::0", "write:b:1", "write:a:1"]);
      const cursor = listed[0]!.resumeCursor;
      assert.notEqual(cursor, "");
      assert.notEqual(cursor, resumeCursor);
      assert.ok(listed.every((e) => e.resumeCursor === cursor));
      assert.deepEqual(listed[1]!.task?.variables, { name: "b" });
      await writer.setVariables(a.taskId, { more: true });
      const [write] = await take(it, 1, ids);
      assert.deepEqual(brief([write!], names), ["write:a:2"]);
      assert.notEqual(write!.resumeCursor, cursor);
    } finally {
      await it.return?.();
    }
  });
});
