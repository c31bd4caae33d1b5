import { createHash } from 'node:crypto';
import { CphApiError } from '../cph/errors.js';
import type { Credentials } from '../cph/types.js';

/**
 * Protects the AK from the gateway's lockout: after 5 consecutive failed authentications an AK
 * is locked for 5 minutes for every user of it (Huawei's pages say "more than 5"; we take the
 * stricter reading).
 *
 * Each poll sends exactly one request first (the probe); the others wait for it. If the probe
 * is refused with 401, no further request is sent with those credentials for `backoffMs`,
 * so a wrong key costs one failed attempt per back-off window, whatever the number of targets
 * and pages. Each further consecutive failure of the same key doubles the window, up to
 * 8 × `backoffMs`: should the gateway count failures across windows, a key that stays wrong
 * reaches its fifth failure after 5 + 10 + 20 + 40 minutes rather than 20. A rotated key
 * (different credentials) lifts the back-off at once; a success resets the doubling.
 */
export class AuthGate {
  private verified = false;
  private probe: Promise<unknown> | undefined;
  private blockedUntil = 0;
  private blockedFingerprint: string | undefined;
  private blockError: CphApiError | undefined;
  private lastFingerprint: string | undefined;
  /** Consecutive 401s of the credentials in `blockedFingerprint`. */
  private consecutiveFailures = 0;

  constructor(
    private readonly backoffMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Starts a poll with these credentials: the next request proves them again. Returns true when
   * they differ from the previous poll's (a rotated key), so that callers can lift their own back-offs.
   */
  beginPoll(credentials: Credentials): boolean {
    this.verified = false;
    this.probe = undefined;
    const current = fingerprint(credentials);
    const rotated = this.lastFingerprint !== undefined && this.lastFingerprint !== current;
    this.lastFingerprint = current;
    if (this.blockedFingerprint !== undefined && this.blockedFingerprint !== current) {
      this.blockedUntil = 0;
      this.blockedFingerprint = undefined;
      this.consecutiveFailures = 0;
    }
    return rotated;
  }

  /** Unix ms until which requests are held back (0 when they are not). */
  backoffUntil(): number {
    return this.blockedUntil > this.now() ? this.blockedUntil : 0;
  }

  /** The error that started the current back-off. */
  lastError(): CphApiError | undefined {
    return this.blockError;
  }

  /** Runs `send` once the credentials are known to work in this poll, or as the probe that finds out. */
  async run<T>(credentials: Credentials, send: () => Promise<T>): Promise<T> {
    for (;;) {
      if (this.backoffUntil() > 0) {
        throw new CphApiError('CPH_AUTH', 'authentication back-off: not calling the API with credentials that were just refused', {
          status: this.blockError?.status,
          apiErrorCode: this.blockError?.apiErrorCode,
        });
      }
      if (this.verified) return send();
      if (this.probe === undefined) {
        const attempt = send();
        this.probe = attempt.then(
          () => {
            this.verified = true;
            this.consecutiveFailures = 0;
          },
          (err: unknown) => {
            this.probe = undefined; // another request may probe next (the failure was not about the key)
            if (err instanceof CphApiError && err.code === 'CPH_AUTH' && err.status === 401) {
              this.consecutiveFailures++;
              this.blockedUntil = this.now() + this.backoffMs * 2 ** Math.min(this.consecutiveFailures - 1, 3);
              this.blockedFingerprint = fingerprint(credentials);
              this.blockError = err;
            }
          },
        );
        return attempt;
      }
      await this.probe;
    }
  }
}

/** A one-way digest of the credentials, kept only in memory to notice a rotated key. */
function fingerprint(c: Credentials): string {
  return createHash('sha256').update(`${c.accessKey}\0${c.secretKey}\0${c.securityToken ?? ''}`).digest('hex');
}
