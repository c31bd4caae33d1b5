/**
 * The gateway's AK lockout (NOTES.md section 5): consecutive failed authentications per AK; any authenticated answer
 * of that AK (2xx, 400, 403, 404) resets the run; the `maxFailures`-th consecutive failure locks the AK for
 * `durationMs`, so that a 6th failure in a row is always refused (NOTES: locked after "more than 5 consecutive"
 * failures; the simulator takes the stricter reading).
 */
import type { Clock } from '../options.js';

export interface LockoutPolicy {
  maxFailures: number;
  durationMs: number;
}

interface AkState {
  consecutive: number;
  lockedUntil: number;
}

export class AkLockout {
  private readonly states = new Map<string, AkState>();

  constructor(
    /** undefined: failures are never punished. */
    readonly policy: LockoutPolicy | undefined,
    private readonly clock: Clock,
  ) {}

  /**
   * Counts a failed authentication: the AK's run of consecutive failures including this one, and whether this failure
   * locked the AK (the run then starts again at 0). Without a policy the run is still counted, for the statistics.
   */
  failed(accessKey: string): { consecutive: number; locked: boolean } {
    let s = this.states.get(accessKey);
    if (!s) {
      s = { consecutive: 0, lockedUntil: 0 };
      this.states.set(accessKey, s);
    }
    const consecutive = ++s.consecutive;
    if (!this.policy || consecutive < this.policy.maxFailures) return { consecutive, locked: false };
    s.consecutive = 0;
    s.lockedUntil = this.clock.now() + this.policy.durationMs;
    return { consecutive, locked: true };
  }

  /** An authenticated answer: the AK's run of failures starts again. */
  succeeded(accessKey: string): void {
    const s = this.states.get(accessKey);
    if (s) s.consecutive = 0;
  }

  /** Consecutive failed authentications of the AK so far (0 after a lock or a success). */
  consecutiveFailures(accessKey: string): number {
    return this.states.get(accessKey)?.consecutive ?? 0;
  }

  /** Epoch ms until which the AK is locked, or undefined if it is not locked now. */
  lockedUntil(accessKey: string): number | undefined {
    const s = this.states.get(accessKey);
    return s && s.lockedUntil > this.clock.now() ? s.lockedUntil : undefined;
  }

  clear(): void {
    this.states.clear();
  }
}
