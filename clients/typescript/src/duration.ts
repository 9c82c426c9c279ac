// Durations: the client takes milliseconds (number) or strings like "500ms", "90s", "1h30m".

import { create } from "@bufbuild/protobuf";
import { DurationSchema } from "@bufbuild/protobuf/wkt";
import type { Duration } from "@bufbuild/protobuf/wkt";

/**
 * A duration: a number of milliseconds, or a string of one or more
 * `<number><unit>` parts with unit `ms`, `s`, `m` or `h` ("500ms", "1.5s", "1h30m").
 */
export type DurationInput = number | string;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
const PART = /(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h)/y;

/** Parses a duration to milliseconds (may be fractional). Throws a TypeError if malformed. */
export function durationToMs(input: DurationInput): number {
  if (typeof input === "number") {
    if (!Number.isFinite(input)) throw new TypeError(`duration ${input} is not finite`);
    return input;
  }
  if (typeof input !== "string") {
    throw new TypeError(`duration must be milliseconds or a string like "90s", not ${typeof input}`);
  }
  const text = input.trim();
  let sign = 1;
  let pos = 0;
  if (text.startsWith("-")) {
    sign = -1;
    pos = 1;
  }
  if (text.length === pos) throw new TypeError(`malformed duration ${JSON.stringify(input)}`);
  let total = 0;
  while (pos < text.length) {
    PART.lastIndex = pos;
    const m = PART.exec(text);
    if (m === null) {
      throw new TypeError(
        `malformed duration ${JSON.stringify(input)} (use e.g. "500ms", "90s", "5m", "1h")`,
      );
    }
    total += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
    pos = PART.lastIndex;
  }
  return sign * total;
}

/** A google.protobuf.Duration from milliseconds or a duration string (exact to the nanosecond). */
export function durationToProto(input: DurationInput): Duration {
  const ms = durationToMs(input);
  const totalNanos = BigInt(Math.round(ms * 1_000_000));
  const seconds = totalNanos / 1_000_000_000n; // truncates toward zero, as proto requires
  const nanos = Number(totalNanos - seconds * 1_000_000_000n);
  return create(DurationSchema, { seconds, nanos });
}

/** Milliseconds of a google.protobuf.Duration (fractional below 1 ms). */
export function durationFromProto(d: Duration): number {
  return Number(d.seconds) * 1_000 + d.nanos / 1_000_000;
}

/** Formats milliseconds compactly: 1500 -> "1.5s", 90000 -> "90s", 250 -> "250ms". */
export function formatDuration(ms: number): string {
  if (ms !== 0 && Math.abs(ms) < 1_000) return `${ms}ms`;
  return `${ms / 1_000}s`;
}
