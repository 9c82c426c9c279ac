// Jittered exponential backoff, shared by update() retries and watch() resumption.

/** How often and how patiently to retry. */
export interface RetryPolicy {
  /** Total attempts including the first; at least 1. */
  maxAttempts: number;
  /** Cap of the first delay, in milliseconds. */
  initialBackoffMs: number;
  /** No delay is longer than this, in milliseconds. */
  maxBackoffMs: number;
  /** Growth of the cap per retry (>= 1). */
  multiplier: number;
}

/** update(): many quick attempts, since contention clears fast. */
export const DEFAULT_UPDATE_RETRY: Readonly<RetryPolicy> = Object.freeze({
  maxAttempts: 20,
  initialBackoffMs: 10,
  maxBackoffMs: 1_000,
  multiplier: 2,
});

/** watch(): reconnect patiently (a restarting server, a rolling deploy). */
export const DEFAULT_WATCH_RETRY: Readonly<RetryPolicy> = Object.freeze({
  maxAttempts: 12,
  initialBackoffMs: 100,
  maxBackoffMs: 5_000,
  multiplier: 2,
});

/** Fills a partial policy from defaults and checks it. */
export function resolvePolicy(
  partial: Partial<RetryPolicy> | undefined,
  defaults: Readonly<RetryPolicy>,
): RetryPolicy {
  const p: RetryPolicy = { ...defaults, ...stripUndefined(partial ?? {}) };
  if (!Number.isInteger(p.maxAttempts) || p.maxAttempts < 1) {
    throw new RangeError("retry.maxAttempts must be an integer >= 1");
  }
  if (!(p.initialBackoffMs >= 0) || !(p.maxBackoffMs >= 0) || !(p.multiplier >= 1)) {
    throw new RangeError("retry backoffs must be >= 0 and multiplier >= 1");
  }
  return p;
}

/**
 * The sleep before each retry: maxAttempts - 1 delays with "full jitter"
 * (uniform in [0, capped exponential]), which spreads competing writers out
 * better than fixed or equal-jitter backoff.
 */
export function* backoffDelays(policy: RetryPolicy): Generator<number, void, void> {
  let cap = policy.initialBackoffMs;
  for (let i = 1; i < policy.maxAttempts; i++) {
    yield Math.random() * Math.min(cap, policy.maxBackoffMs);
    cap *= policy.multiplier;
  }
}

/** Resolves after `ms`; rejects with the signal's reason if it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function stripUndefined<T extends object>(obj: T): Partial<T> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as Partial<T>;
}
