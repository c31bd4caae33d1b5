import type { Target } from '../config/load.js';
import type { FailureReason } from '../cph/errors.js';
import type { TargetSeries } from '../metrics/convert.js';
import type { TargetHealth } from '../metrics/self.js';
import type { KeyName } from '../credentials/keys.js';

/** What a target lists. Each resource has its own listing state (issue 11 adds phone servers and phones). */
export type ResourceName = 'encode_servers';

/** Per (target, resource): what the next listing needs from the last one. */
export interface ListingState {
  /** Pages of the last complete listing: how far the next one looks ahead. */
  horizonPages?: number | undefined;
}

/** Where a target stands. Exactly one of these; each says what the target reports. */
export type TargetPhase =
  /** Not polled yet. */
  | { kind: 'new' }
  | { kind: 'ok' }
  /** The last poll failed; the next one tries again. */
  | { kind: 'failing'; reason: FailureReason; message: string }
  /** Refused (401/403) for itself: not polled until `untilMs`, doubling per refusal in a row. */
  | { kind: 'backing-off'; reason: FailureReason; message: string; untilMs: number }
  /** Its key is blocked: not polled until the key may send again. */
  | { kind: 'held'; reason: FailureReason; message: string; untilMs: number };

export function targetKey(t: { projectId: string; region: string }): string {
  return `${t.projectId}/${t.region}`;
}

/**
 * The one state of a target in the poller: its phase (which decides when it is tried next and
 * what health it reports), its last complete listing and how old it is, and its listings' page
 * horizons. Every poll ends with exactly one transition per target, whether it was polled,
 * backing off or held, so health never lags and staleness applies to all alike.
 */
export class TargetState {
  readonly id: string;
  phase: TargetPhase = { kind: 'new' };
  /** The last complete listing, converted; undefined before the first success or once stale. */
  series: TargetSeries | undefined;
  lastSuccessMs: number | undefined;
  lastDurationSeconds: number | undefined;
  /** Refusals of this target in a row: its back-off doubles with each, up to 8×. */
  private refusals = 0;
  private readonly listings = new Map<ResourceName, ListingState>();

  constructor(
    readonly target: Target,
    readonly key: KeyName,
  ) {
    this.id = targetKey(target);
  }

  listing(resource: ResourceName): ListingState {
    let state = this.listings.get(resource);
    if (!state) {
      state = {};
      this.listings.set(resource, state);
    }
    return state;
  }

  /** Unix ms before which the target itself must not be tried (0 when it may). */
  backoffUntil(nowMs: number): number {
    return this.phase.kind === 'backing-off' && this.phase.untilMs > nowMs ? this.phase.untilMs : 0;
  }

  /** Whether it succeeded last time: its requests get the key's probe first. */
  get succeededLastTime(): boolean {
    return this.phase.kind === 'ok';
  }

  succeeded(nowMs: number, series: TargetSeries, durationSeconds: number): void {
    this.phase = { kind: 'ok' };
    this.series = series;
    this.lastSuccessMs = nowMs;
    this.lastDurationSeconds = durationSeconds;
    this.refusals = 0;
  }

  /** A poll of the target failed; `backoffMs` when the API refused it (401/403), doubling per refusal in a row. */
  failed(nowMs: number, reason: FailureReason, message: string, durationSeconds: number, backoffMs?: number): void {
    this.lastDurationSeconds = durationSeconds;
    if (backoffMs === undefined) {
      this.phase = { kind: 'failing', reason, message };
      return;
    }
    const untilMs = nowMs + backoffMs * 2 ** Math.min(this.refusals, 3);
    this.refusals++;
    this.phase = { kind: 'backing-off', reason, message, untilMs };
  }

  /** Not polled: the key is blocked until `untilMs`. */
  held(reason: FailureReason, message: string, untilMs: number): void {
    if (this.phase.kind === 'backing-off' && this.phase.untilMs >= untilMs) return; // its own, longer wait says more
    this.phase = { kind: 'held', reason, message, untilMs };
  }

  /** The credentials changed: a refusal of the old ones says nothing about the new. */
  liftBackoff(): void {
    this.refusals = 0;
    if (this.phase.kind === 'backing-off' || this.phase.kind === 'held') {
      this.phase = { kind: 'failing', reason: this.phase.reason, message: this.phase.message };
    }
  }

  /** A fleet not seen for longer than `maxStalenessMs` may no longer exist: stop showing it. */
  expireStale(nowMs: number, maxStalenessMs: number): void {
    if (this.series && this.phase.kind !== 'ok' && nowMs - (this.lastSuccessMs ?? 0) > maxStalenessMs) this.series = undefined;
  }

  /** What the health gauges say; undefined before the first poll. */
  health(): TargetHealth | undefined {
    const p = this.phase;
    if (p.kind === 'new') return undefined;
    return {
      projectId: this.target.projectId,
      region: this.target.region,
      up: p.kind === 'ok',
      lastDurationSeconds: this.lastDurationSeconds,
      lastSuccessMs: this.lastSuccessMs,
      errorReason: p.kind === 'ok' ? undefined : p.reason,
      authBackoffUntilMs: p.kind === 'backing-off' || p.kind === 'held' ? p.untilMs : undefined,
    };
  }
}
