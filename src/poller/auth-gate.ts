import { createHash } from 'node:crypto';
import { CphApiError } from '../cph/errors.js';
import type { Credentials } from '../cph/types.js';

/**
 * How long requests wait for the probe's first answer before the next one probes as well. Long
 * enough for one round trip to the API, short enough that a hung endpoint costs little.
 */
const PROBE_PATIENCE_MS = 3000;

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
  /** Settles when the current probe's outcome is known (or it ran out of patience); undefined when no probe runs. */
  private verdict: Promise<void> | undefined;
  private blockedUntil = 0;
  private blockedFingerprint: string | undefined;
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
    this.verdict = undefined;
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

  /**
   * Runs `send` once the credentials are known to work in this poll, or as the probe that finds
   * out. `send` must report the outcome of each of its HTTP attempts to `observe` (the client's
   * `onAttempt`): the first answer decides, not the end of the probe's retry loop. A 401 from any
   * request blocks the key; any other answer that only an authenticated request gets proves it.
   * An inconclusive probe (no answer, 429 or 5xx, or no answer within PROBE_PATIENCE_MS) hands the
   * probe to the next waiting request, so one hung or failing target never holds back the others.
   */
  async run<T>(credentials: Credentials, send: (observe: (status: number | undefined) => void) => Promise<T>): Promise<T> {
    for (;;) {
      this.assertOpen();
      if (this.verified) return send((status) => this.observe(credentials, status));
      if (this.verdict === undefined) return this.probe(credentials, send);
      await this.verdict;
    }
  }

  /**
   * Throws when the key is in back-off. Call it again right before sending a request that waited
   * in a queue: the key may have been refused meanwhile.
   */
  assertOpen(): void {
    if (this.backoffUntil() > 0) {
      throw new CphApiError('CPH_AUTH', 'authentication back-off: not calling the API with credentials that were just refused', { status: 401 });
    }
  }

  private probe<T>(credentials: Credentials, send: (observe: (status: number | undefined) => void) => Promise<T>): Promise<T> {
    let settle!: () => void;
    const verdict = new Promise<void>((resolve) => {
      settle = resolve;
    });
    this.verdict = verdict;
    let decided = false;
    const decide = (): void => {
      if (decided) return;
      decided = true;
      clearTimeout(patience);
      if (this.verdict === verdict) this.verdict = undefined;
      settle();
    };
    const patience = setTimeout(decide, PROBE_PATIENCE_MS);
    return send((status) => {
      this.observe(credentials, status);
      decide();
    }).finally(decide);
  }

  private observe(credentials: Credentials, status: number | undefined): void {
    if (status === 401) {
      // Count one failure per back-off window, however many requests were in flight.
      if (this.backoffUntil() === 0) this.consecutiveFailures++;
      this.blockedUntil = this.now() + this.backoffMs * 2 ** Math.min(this.consecutiveFailures - 1, 3);
      this.blockedFingerprint = fingerprint(credentials);
    } else if (status !== undefined && status < 500 && status !== 429) {
      // The gateway checks the signature before anything else answers (a 403, 400 or 404 included).
      this.verified = true;
      this.consecutiveFailures = 0;
    }
  }
}

/** A one-way digest of the credentials, kept only in memory to notice a rotated key. */
function fingerprint(c: Credentials): string {
  return createHash('sha256').update(`${c.accessKey}\0${c.secretKey}\0${c.securityToken ?? ''}`).digest('hex');
}
