/**
 * A token bucket shared by every target that talks to one endpoint, so that the
 * exporter stays below the gateway's per-API limit however many projects it polls.
 * Waiting callers reserve their token up front, so they are served in arrival order.
 * The simulator's gateway uses the same bucket (with `tryTake`) to answer 429 like the real one.
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;
  /** No token is handed out before this time (set after a 429 with Retry-After). */
  private pausedUntil = 0;

  constructor(
    readonly ratePerSecond: number,
    readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    if (!(ratePerSecond > 0) || !(burst >= 1)) throw new RangeError('rate must be > 0 and burst >= 1');
    this.tokens = burst;
    this.updatedAt = now();
  }

  private refill(): number {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.updatedAt) / 1000) * this.ratePerSecond);
    this.updatedAt = now;
    return now;
  }

  /** Milliseconds the caller must wait for its token (0 = go now). The token is taken either way. */
  reserve(): number {
    const now = this.refill();
    this.tokens -= 1;
    const refillWait = this.tokens >= 0 ? 0 : (-this.tokens / this.ratePerSecond) * 1000;
    return Math.max(refillWait, this.pausedUntil - now);
  }

  /**
   * Takes a token only if one is there now: 0 when taken, else the milliseconds until one will be (nothing is
   * reserved). For a server that refuses instead of queueing.
   */
  tryTake(): number {
    this.refill();
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) / this.ratePerSecond) * 1000);
  }

  /** Gives back a reserved token that was not used (the caller was aborted while waiting). */
  cancel(): void {
    this.tokens = Math.min(this.burst, this.tokens + 1);
  }

  /** Hands out nothing for `ms` (the server told us to back off). */
  pause(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, this.now() + ms);
  }

  /** Waits for a token; rejects with the signal's reason if aborted first. */
  async take(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const wait = this.reserve();
    if (wait <= 0) return;
    try {
      await sleep(wait, signal);
    } catch (err) {
      this.cancel();
      throw err;
    }
  }
}

/** setTimeout as a promise that clears its timer when aborted, so nothing is left behind. */
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
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
