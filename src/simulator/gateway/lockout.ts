/**
 * The gateway's AK lockout (NOTES.md section 5): consecutive failed authentications per AK; any authenticated answer
 * of that AK resets the run; the `maxFailures`-th consecutive failure locks the AK for `durationMs`, so that no more
 * than 5 failures in a row ever go unpunished ("more than 5 consecutive failures" are refused).
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

  /** Counts a failed authentication; returns true when this failure locked the AK. */
  failed(accessKey: string): boolean {
    if (!this.policy) return false;
    let s = this.states.get(accessKey);
    if (!s) {
      s = { consecutive: 0, lockedUntil: 0 };
      this.states.set(accessKey, s);
    }
    s.consecutive++;
    if (s.consecutive < this.policy.maxFailures) return false;
    s.consecutive = 0;
    s.lockedUntil = this.clock.now() + this.policy.durationMs;
    return true;
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
