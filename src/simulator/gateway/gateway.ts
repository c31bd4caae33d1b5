/**
 * The API gateway in front of every API route: rate limit (429 `APIGW.0308`), then AK/SK authentication with the AK
 * lockout (401 `APIGW.0301`), in this order as on Huawei Cloud. It also watches each authenticated request's answer:
 * a 401 (an auth fault) counts as a failed authentication of the AK, any other answer resets its run.
 */
import { TokenBucket } from '../../cph/ratelimit.js';
import type { SimAccounts } from '../accounts/accounts.js';
import type { Exchange } from '../exchange.js';
import type { Clock, RateLimitOptions } from '../options.js';
import type { AuthFailureEvent, SimulatorStats } from '../stats.js';
import { AkLockout, type LockoutPolicy } from './lockout.js';
import { verifySignature } from './verify.js';

export const ERR_SIGNATURE = 'verify aksk signature fail';
export const ERR_LOCKED = 'AK access failed to reach the limit,forbidden';
export const ERR_TOKEN_EXPIRED = 'token expires';

/** The AK named in an Authorization header, however malformed the rest is. */
export function accessKeyOf(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  const m = /Access=([^\s,]+)/.exec(authorization);
  return m ? m[1] : undefined;
}

/** Lowercase names in the SignedHeaders part of an Authorization header. */
export function signedHeaderNames(authorization: string | undefined): string[] {
  if (!authorization) return [];
  const m = /SignedHeaders=([^\s,]+)/.exec(authorization);
  return m ? (m[1] as string).toLowerCase().split(';') : [];
}

/** Answers that prove the AK authenticated: 2xx, 400, 403, 404. */
const RESETS_LOCKOUT = (status: number): boolean => (status >= 200 && status < 300) || status === 400 || status === 403 || status === 404;

interface RateLimit {
  bucket: TokenBucket;
  options: RateLimitOptions;
}

export class Gateway {
  readonly credentials = new Map<string, string>();
  readonly lockout: AkLockout;
  verifySignatures: boolean;
  private rateLimit: RateLimit | undefined;

  constructor(
    options: {
      credentials: Record<string, string>;
      verifySignatures: boolean;
      rateLimit: RateLimitOptions | undefined;
      lockout: LockoutPolicy | undefined;
    },
    private readonly stats: SimulatorStats,
    private readonly clock: Clock,
    /** Temporary keys (metadata service): verified with their own secret, security token and expiry. */
    private readonly accounts?: SimAccounts,
  ) {
    for (const [ak, sk] of Object.entries(options.credentials)) this.credentials.set(ak, sk);
    this.verifySignatures = options.verifySignatures;
    this.lockout = new AkLockout(options.lockout, clock);
    this.setRateLimit(options.rateLimit);
  }

  /** Replaces (or with undefined removes) the rate limit; the bucket starts full. */
  setRateLimit(options: RateLimitOptions | undefined): void {
    if (!options) {
      this.rateLimit = undefined;
      return;
    }
    if (!(options.requestsPerSecond > 0)) throw new Error('rateLimit.requestsPerSecond must be > 0');
    const burst = Math.max(1, options.burst ?? options.requestsPerSecond);
    this.rateLimit = { bucket: new TokenBucket(options.requestsPerSecond, burst, () => this.clock.now()), options };
  }

  get rateLimitOptions(): RateLimitOptions | undefined {
    return this.rateLimit?.options;
  }

  /**
   * Lets the request through (true) or answers it (false). Once through, the answer the route gives is watched for
   * the lockout's counter.
   */
  admit(ex: Exchange): boolean {
    if (this.rateLimit) {
      const waitMs = this.rateLimit.bucket.tryTake();
      if (waitMs > 0) {
        const { options } = this.rateLimit;
        const headers: Record<string, string | number> = {};
        if (options.retryAfter !== false) headers['Retry-After'] = Math.max(1, Math.ceil(waitMs / 1000));
        const limit = Math.round(options.requestsPerSecond * 60);
        ex.error(429, 'APIGW.0308', `The throttling threshold has been reached: policy user over ratelimit,limit:${limit},time:1 minute`, headers);
        return false;
      }
    }

    const accessKey = accessKeyOf(ex.header('authorization'));
    let verified: string | undefined;
    if (this.verifySignatures) {
      if (accessKey !== undefined && this.lockout.lockedUntil(accessKey) !== undefined) {
        this.stats.countAuthFailure(this.failureEvent(ex, accessKey, true), 0);
        ex.error(401, 'APIGW.0301', ERR_LOCKED);
        return false;
      }
      const secretOf = (ak: string): string | undefined => this.credentials.get(ak) ?? this.accounts?.temporarySecret(ak);
      const result = verifySignature({ method: ex.method, url: ex.url, headers: ex.req.headers }, secretOf, new Date(this.clock.now()));
      if (!result.ok) {
        this.authFailed(ex, accessKey ?? '');
        ex.error(401, 'APIGW.0301', ERR_SIGNATURE);
        return false;
      }
      const temporary = this.accounts?.checkTemporary(
        result.accessKey,
        ex.header('x-security-token'),
        signedHeaderNames(ex.header('authorization')).includes('x-security-token'),
      );
      if (temporary === 'bad-token' || temporary === 'expired') {
        this.authFailed(ex, result.accessKey);
        ex.error(401, 'APIGW.0301', temporary === 'expired' ? ERR_TOKEN_EXPIRED : ERR_SIGNATURE);
        return false;
      }
      verified = result.accessKey;
    }
    ex.accessKey = verified ?? accessKey;

    // Authentication faults answer 401 after the signature passed: they count as failures of the named AK. An
    // authenticated answer resets the run; 429 and 5xx (throttling, backend trouble) leave it as it is.
    ex.onAnswer = (status) => {
      if (status === 401) this.authFailed(ex, verified ?? accessKey ?? '');
      else if (verified !== undefined && RESETS_LOCKOUT(status)) this.lockout.succeeded(verified);
    };
    return true;
  }

  private failureEvent(ex: Exchange, accessKey: string, whileLocked: boolean): AuthFailureEvent {
    return { at: this.clock.now(), accessKey, projectId: ex.params.project_id ?? null, whileLocked };
  }

  private authFailed(ex: Exchange, accessKey: string): void {
    const { consecutive, locked } = this.lockout.failed(accessKey);
    this.stats.countAuthFailure(this.failureEvent(ex, accessKey, false), consecutive);
    if (locked) this.stats.countLockout(accessKey, this.clock.now());
  }
}
