/** Token bucket for the simulator's rate limit (one bucket for the whole simulator). */

export interface RateLimitOptions {
  /** Tokens added per second. */
  requestsPerSecond: number;
  /** Bucket capacity (default: `requestsPerSecond`, at least 1). */
  burst?: number | undefined;
  /** Send `Retry-After` (whole seconds until a token is available, at least 1) on 429 (default true). */
  retryAfter?: boolean | undefined;
}

export class TokenBucket {
  private tokens: number;
  private last: number;
  readonly capacity: number;

  constructor(
    readonly options: RateLimitOptions,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(options.requestsPerSecond > 0)) throw new Error('rateLimit.requestsPerSecond must be > 0');
    this.capacity = Math.max(1, options.burst ?? options.requestsPerSecond);
    this.tokens = this.capacity;
    this.last = this.now();
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((t - this.last) / 1000) * this.options.requestsPerSecond);
    this.last = t;
  }

  /** Takes one token; returns 0 on success, else the milliseconds until a token is available. */
  take(): number {
    this.refill();
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) / this.options.requestsPerSecond) * 1000);
  }
}
