// The client's reasons are the proto's ErrorReason names: the public type, and the subclass
// each reason picks.

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  FeedCompactedError,
  InvalidArgumentError,
  InvalidTransitionError,
  LeaseHeldError,
  LeaseLostError,
  QuotaExceededError,
  TaskNotFoundError,
  TaskStateError,
  TaskTerminalError,
  UnavailableError,
  UnsupportedByStoreError,
  VariablesTooLargeError,
  VersionMismatchError,
  toTaskStateError,
} from "../src/index.js";
import type { ErrorReason } from "../src/index.js";
import { reasonName } from "../src/errors.js";
import { ErrorInfoSchema } from "../src/gen/google/rpc/error_details_pb.js";
import { ErrorReason as Reason } from "../src/gen/taskstate/v1/taskstate_pb.js";

// The public ErrorReason type is exactly the union the client has always exported, plus the
// lease and feed reasons of issue 10.
type Exported =
  | "TASK_NOT_FOUND"
  | "VERSION_MISMATCH"
  | "INVALID_TRANSITION"
  | "TASK_TERMINAL"
  | "INVALID_ARGUMENT"
  | "TASK_QUOTA_EXCEEDED"
  | "VARIABLES_TOO_LARGE"
  | "BACKEND_UNAVAILABLE"
  | "VALUE_NOT_REPRESENTABLE"
  | "LEASE_LOST"
  | "LEASE_HELD"
  | "FEED_COMPACTED"
  | "LEASE_EXPIRED"
  | "UNSUPPORTED_BY_STORE";
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameType: Same<ErrorReason, Exported> = true;

// A server reason, its code, and the class the client makes of them.
const SERVER: [ErrorReason, Code, new (...args: never[]) => TaskStateError][] = [
  ["TASK_NOT_FOUND", Code.NotFound, TaskNotFoundError],
  ["VERSION_MISMATCH", Code.Aborted, VersionMismatchError],
  ["INVALID_TRANSITION", Code.FailedPrecondition, InvalidTransitionError],
  ["TASK_TERMINAL", Code.FailedPrecondition, TaskTerminalError],
  ["INVALID_ARGUMENT", Code.InvalidArgument, InvalidArgumentError],
  ["TASK_QUOTA_EXCEEDED", Code.ResourceExhausted, QuotaExceededError],
  ["VARIABLES_TOO_LARGE", Code.ResourceExhausted, VariablesTooLargeError],
  ["BACKEND_UNAVAILABLE", Code.Unavailable, UnavailableError],
  ["LEASE_LOST", Code.FailedPrecondition, LeaseLostError],
  ["LEASE_HELD", Code.FailedPrecondition, LeaseHeldError],
  ["FEED_COMPACTED", Code.OutOfRange, FeedCompactedError],
  ["UNSUPPORTED_BY_STORE", Code.Unimplemented, UnsupportedByStoreError],
];

describe("error reasons", () => {
  it("are the generated ErrorReason names", () => {
    assert.equal(sameType, true);
    const generated = Object.values(Reason)
      .filter((v): v is Reason => typeof v === "number" && v !== Reason.ERROR_REASON_UNSPECIFIED)
      .map((v) => {
        const name = reasonName(v as Exclude<Reason, Reason.ERROR_REASON_UNSPECIFIED>);
        assert.equal(name, Reason[v]);
        return name;
      });
    const known = [...SERVER.map(([reason]) => reason), "VALUE_NOT_REPRESENTABLE", "LEASE_EXPIRED"];
    assert.deepEqual([...generated].sort(), known.sort());
  });

  for (const [reason, code, cls] of SERVER) {
    it(`${reason} makes a ${cls.name}`, () => {
      const err = toTaskStateError(fromServer(reason, code));
      assert.ok(err instanceof cls, `${reason}: got ${err.name}`);
      assert.equal(err.reason, reason);
    });
  }

  it("read the lease metadata", () => {
    const lost = toTaskStateError(
      fromServer("LEASE_LOST", Code.FailedPrecondition, { fencing_token: "3", current_fencing_token: "0" }),
    );
    assert.ok(lost instanceof LeaseLostError);
    assert.equal(lost.fencingToken, 3);
    assert.equal(lost.currentFencingToken, 0);
    const at = "2026-12-03T10:00:01.500Z";
    const held = toTaskStateError(fromServer("LEASE_HELD", Code.FailedPrecondition, { lease_expire_time: at }));
    assert.ok(held instanceof LeaseHeldError);
    assert.equal(held.leaseExpireTime, at);
  });
});

/** A ConnectError as it arrives from the wire, with an ErrorInfo of our domain. */
function fromServer(reason: string, code: Code, metadata: Record<string, string> = {}): ConnectError {
  const err = new ConnectError("message", code, { "grpc-status": String(code) });
  const info = create(ErrorInfoSchema, { reason, domain: "taskstate.dev", metadata });
  err.details = [{ type: ErrorInfoSchema.typeName, value: toBinary(ErrorInfoSchema, info) }];
  return err;
}
