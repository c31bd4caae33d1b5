import { createHash } from 'node:crypto';
import type { AttemptAnswer, AttemptGate } from '../cph/client.js';
import { CphApiError, isKeyRejection } from '../cph/errors.js';
import type { Credentials } from '../cph/types.js';
import { describeKey, type KeyName } from '../credentials/keys.js';

/** What one answer meant for the key. */
export type KeyVerdict =
  /** 2xx, 400, 403, 404: only an authenticated request gets these. */
  | 'authenticated'
  /** 429, 5xx, no answer: says nothing about the key. */
  | 'inconclusive'
  /** A 401 the key survives: the target backs off, the key sends on. */
  | 'target-refused'
  /** A 401 that blocked the key: its body said the key is bad, or it was the second in a row. */
  | 'key-refused';

/** Thrown instead of sending while the key is blocked: the target is held, nothing was sent. */
export class KeyHeldError extends CphApiError {
  constructor(
    readonly key: KeyName,
    readonly untilMs: number,
  ) {
    super(
      'CPH_AUTH',
      Number.isFinite(untilMs)
        ? `not sent: ${describeKey(key)} is held after failed authentications until ${new Date(untilMs).toISOString()}`
        : `not sent: ${describeKey(key)} is held after ${RUN_THAT_HOLDS} failed authentications in a row until its credentials change`,
      { status: 401 },
    );
  }
}

/** Priority of a request waiting for the probe: lower goes first. */
export const PROBE_PRIORITY = { succeededLastTime: 0, other: 1 } as const;

/** The gateway's run of failures at which the key is blocked: also the bound on unproven requests in flight. */
const RUN_THAT_BLOCKS = 2;

/**
 * The run at which the key stops sending until its credentials change. Spacing failures out does not reset the
 * gateway's count (only an authenticated answer does), so a key that stays wrong would otherwise reach the lockout
 * after a few doubling back-offs (at about 75 minutes with the default 5 m); stopping at 3 leaves room for one
 * attempt after each rotation of the secret without ever reaching 5.
 */
export const RUN_THAT_HOLDS = 3;

/** How an attempt was let through: freely, as the key's probe, or as one of a verified key's few unproven requests. */
type Ticket = 'free' | 'probe' | 'unproven';

/** One target's gate in one poll: proven once the target has had an authenticated answer (or it succeeded last time). */
interface GateState {
  proven: boolean;
}

interface Waiter {
  priority: number;
  gate: GateState;
  resolve(ticket: Ticket): void;
  reject(err: unknown): void;
  signal?: AbortSignal | undefined;
  onAbort?: (() => void) | undefined;
}

/**
 * Answers one question for one key: may it send now? It protects the key from the gateway's
 * lockout (an AK is locked for 5 minutes, for every user of it, after 5 consecutive failed
 * authentications, NOTES.md §5) and from nothing else: a target's own trouble is the target's.
 *
 * - It mirrors the gateway's counter: consecutive 401s of the key, across all its targets; any
 *   authenticated answer (2xx, 400, 403, 404) from any target resets it.
 * - It blocks the whole key when that run reaches 2, or at once when the 401's body says the key
 *   itself is bad (`isKeyRejection`). The block lasts `backoffMs`, doubling per block in a row
 *   (up to 8×) until an authenticated answer. Any other 401 is the target's business.
 * - At a run of `RUN_THAT_HOLDS` the key is held until its credentials change (a rotated secret
 *   file, a reload with other keys, a restart): no amount of waiting resets the gateway's count.
 * - Until an authenticated answer in this poll, the key has at most one request out: the probe.
 *   The others wait for its answer, however long it takes; an answer that proves nothing (429,
 *   5xx, no answer) hands the probe to the next waiter, never the passing of time. Waiters of
 *   targets that succeeded last time get the probe first.
 * - Once the key is verified, targets that succeeded last time send freely; a target not known to be
 *   good (new, or failing) sends freely only after its own authenticated answer. Until then at most
 *   `RUN_THAT_BLOCKS - run` such requests are in flight for the key, so that 401s sent side by side
 *   can never take the gateway's run past the point where this policy blocks (five such 401s after
 *   one success would lock the key before any of them was answered).
 */
export class KeyPolicy {
  /** Consecutive 401s, as the gateway counts them. */
  private run = 0;
  private blockedUntilMs = 0;
  /** Blocks in a row without an authenticated answer between them. */
  private blocks = 0;
  /** An authenticated answer came since this poll began (and since the last block). */
  private verified = false;
  private probeOut = false;
  /** Requests of unproven targets in flight while the key is verified. */
  private unprovenOut = 0;
  private waiters: Waiter[] = [];
  private dispatchScheduled = false;
  private fingerprint: string | undefined;
  private accessKey: string | undefined;

  constructor(
    readonly id: KeyName,
    /** Length of a first block; a reload may change it (the block in force keeps its end). */
    public backoffMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * A poll begins: the key must prove itself again (a key can be revoked between polls). Returns
   * true when the credentials differ from the previous poll's (rotated): a block is lifted then, since
   * the refusal was about the old key. The run starts again only with a new AK: the gateway counts per AK,
   * so a new secret for the same AK continues its run.
   */
  beginPoll(credentials: Credentials): boolean {
    this.verified = false;
    const current = fingerprintOf(credentials);
    const rotated = this.fingerprint !== undefined && this.fingerprint !== current;
    this.fingerprint = current;
    if (rotated) {
      this.blockedUntilMs = 0;
      this.blocks = 0;
      if (credentials.accessKey !== this.accessKey) this.run = 0;
    }
    this.accessKey = credentials.accessKey;
    return rotated;
  }

  /** Unix ms until which the key sends nothing, or 0 when it may send. */
  blockedUntil(): number {
    return this.blockedUntilMs > this.now() ? this.blockedUntilMs : 0;
  }

  /** The gate one target's requests pass, each attempt (retries included) on its own. */
  gateFor(priority: number): AttemptGate {
    const gate: GateState = { proven: priority === PROBE_PRIORITY.succeededLastTime };
    return {
      enter: async (signal) => {
        const ticket = await this.enter(priority, gate, signal);
        let done = false;
        return (answer) => {
          if (done) return;
          done = true;
          this.answer(ticket, gate, answer);
        };
      },
    };
  }

  /** Resolves to how this attempt was let through; rejects with KeyHeldError while the key is blocked. */
  private enter(priority: number, gate: GateState, signal?: AbortSignal): Promise<Ticket> {
    const until = this.blockedUntil();
    if (until > 0) return Promise.reject(new KeyHeldError(this.id, until));
    if (this.verified && gate.proven) return Promise.resolve('free');
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { priority, gate, resolve, reject, signal };
      if (signal) {
        if (signal.aborted) return reject(signal.reason);
        waiter.onAbort = () => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          reject(signal.reason);
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.waiters.push(waiter);
      // Let every request that starts in this turn queue first, so that the best candidate probes.
      if (!this.dispatchScheduled) {
        this.dispatchScheduled = true;
        setImmediate(() => {
          this.dispatchScheduled = false;
          this.dispatch();
        });
      }
    });
  }

  /** Records an attempt's answer (undefined: none came); returns what it meant for the key. */
  private answer(ticket: Ticket, gate: GateState, answer: AttemptAnswer | undefined): KeyVerdict {
    if (ticket === 'probe') this.probeOut = false;
    if (ticket === 'unproven') this.unprovenOut--;
    const verdict = this.classify(answer);
    if (verdict === 'authenticated') {
      gate.proven = true;
      this.run = 0;
      this.blocks = 0;
      this.verified = true;
    } else if (verdict === 'target-refused' || verdict === 'key-refused') {
      this.run++;
      if (this.run >= RUN_THAT_HOLDS) {
        this.blockedUntilMs = Number.POSITIVE_INFINITY; // until beginPoll sees other credentials
        this.blocks++;
        this.verified = false;
      } else if (verdict === 'key-refused' || this.run >= RUN_THAT_BLOCKS) {
        this.blockedUntilMs = this.now() + this.backoffMs * 2 ** Math.min(this.blocks, 3);
        this.blocks++;
        this.verified = false;
      }
    }
    this.dispatch();
    return verdict;
  }

  private classify(answer: AttemptAnswer | undefined): KeyVerdict {
    if (answer === undefined) return 'inconclusive';
    const { status } = answer;
    if ((status >= 200 && status < 300) || status === 400 || status === 403 || status === 404) return 'authenticated';
    if (status === 401) return isKeyRejection(answer.apiErrorCode, answer.apiErrorMessage) || this.run + 1 >= RUN_THAT_BLOCKS ? 'key-refused' : 'target-refused';
    return 'inconclusive';
  }

  /**
   * Lets waiters go as the key's state allows: none (blocked, or a probe is out), the next probe
   * (not verified yet), or (verified) the proven targets' all and the unproven ones' as few as the run allows.
   */
  private dispatch(): void {
    const until = this.blockedUntil();
    if (until > 0) {
      for (const w of this.take(this.waiters.length)) w.reject(new KeyHeldError(this.id, until));
    } else if (this.verified) {
      for (const w of this.take(this.waiters.length, (x) => x.gate.proven)) w.resolve('free');
      const room = RUN_THAT_BLOCKS - this.run - this.unprovenOut;
      for (const w of this.take(Math.max(0, room))) {
        this.unprovenOut++;
        w.resolve('unproven');
      }
    } else if (!this.probeOut && this.waiters.length > 0) {
      this.probeOut = true;
      const [next] = this.take(1);
      next?.resolve('probe');
    }
  }

  /** Removes and returns the `n` first waiters (of those `which` picks) by priority (stable: arrival order within a priority). */
  private take(n: number, which: (w: Waiter) => boolean = () => true): Waiter[] {
    const order = this.waiters
      .filter(which)
      .map((w, i) => ({ w, i }))
      .sort((a, b) => a.w.priority - b.w.priority || a.i - b.i);
    const taken = order.slice(0, n).map((x) => x.w);
    this.waiters = this.waiters.filter((w) => !taken.includes(w));
    for (const w of taken) if (w.onAbort) w.signal?.removeEventListener('abort', w.onAbort);
    return taken;
  }
}

/** A one-way digest of the credentials, kept only in memory to notice a rotated key. */
function fingerprintOf(c: Credentials): string {
  return createHash('sha256').update(`${c.accessKey}\0${c.secretKey}\0${c.securityToken ?? ''}`).digest('hex');
}
