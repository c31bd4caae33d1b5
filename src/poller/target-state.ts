import type { Target } from '../config/load.js';
import type { ResourceName } from '../config/schema.js';
import type { FailureReason } from '../cph/errors.js';
import type { TargetSeries } from '../metrics/convert.js';
import type { ResourceSeries } from '../metrics/estate.js';
import type { ResourceHealth, TargetHealth } from '../metrics/self.js';
import type { KeyName } from '../credentials/keys.js';

export type { ResourceName };

/**
 * Per (target, resource): what the next listing needs from the last one, and the resource's own outcome. Each
 * resource is listed, and fails, on its own: a key without `cph:phones:list` gets 403 on the phones only, which
 * backs off that listing and leaves the others published and fresh.
 */
export interface ListingState {
  /** Pages of the last complete listing: how far the next one looks ahead. */
  horizonPages?: number | undefined;
  /** The last complete listing of a phone-server or phone resource (the encode servers' is `TargetState.series`). */
  estate?: ResourceSeries | undefined;
  lastSuccessMs?: number | undefined;
  /** Why its last listing failed; undefined when it completed. */
  error?: { reason: FailureReason; message: string } | undefined;
  /** Refused (403) for itself: not listed before this Unix ms. */
  backoffUntilMs?: number | undefined;
  /** Refusals of this listing in a row: its back-off doubles with each, up to 8×. */
  refusals?: number | undefined;
}

/** What one poll did to one resource of a target. */
export type ResourceResult =
  | { kind: 'ok'; series?: TargetSeries | undefined; estate?: ResourceSeries | undefined }
  /** `backoffMs` when the API refused this resource only (403): not listed again before it, doubling per refusal. */
  | { kind: 'failed'; reason: FailureReason; message: string; backoffMs?: number | undefined }
  /** Not listed: still in its own back-off. */
  | { kind: 'skipped' };

/** Where a target stands. Exactly one of these; each says what the target reports. */
export type TargetPhase =
  /** Not polled yet. */
  | { kind: 'new' }
  | { kind: 'ok' }
  /** Polled, its key answered, but some of its resources failed (each says why). */
  | { kind: 'partial'; reason: FailureReason; message: string }
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
    /** What it lists, in `RESOURCE_NAMES` order (a reload may change it). */
    public resources: readonly ResourceName[] = ['encode_servers'],
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

  /** The last complete listings of its phone servers and phones that are still shown. */
  get estate(): ResourceSeries[] {
    return this.resources.flatMap((r) => this.listings.get(r)?.estate ?? []);
  }

  /**
   * A poll listed its resources (each result applies to that resource only). The target is ok when every resource
   * is; `partial` when some failed; `failing` when none completed.
   */
  listed(nowMs: number, results: ReadonlyMap<ResourceName, ResourceResult>, durationSeconds: number): void {
    const first = this.applyResults(nowMs, results, durationSeconds);
    const completed = [...results.values()].some((r) => r.kind === 'ok');
    if (completed || !first) this.refusals = 0; // its credentials were accepted: a later refusal starts over
    if (!first) {
      this.phase = { kind: 'ok' };
      this.lastSuccessMs = nowMs;
    } else {
      this.phase = completed ? { kind: 'partial', ...first } : { kind: 'failing', ...first };
    }
  }

  /**
   * Each resource's own outcome, without deciding the target's phase (a refusal of the whole target, or its key
   * held, decides it next). Returns the first resource error that stands.
   */
  applyResults(nowMs: number, results: ReadonlyMap<ResourceName, ResourceResult>, durationSeconds: number): { reason: FailureReason; message: string } | undefined {
    this.lastDurationSeconds = durationSeconds;
    let first: { reason: FailureReason; message: string } | undefined;
    for (const resource of this.resources) {
      const state = this.listing(resource);
      const result = results.get(resource) ?? { kind: 'skipped' };
      if (result.kind === 'ok') {
        if (resource === 'encode_servers') this.series = result.series;
        else state.estate = result.estate;
        state.lastSuccessMs = nowMs;
        state.error = undefined;
        state.backoffUntilMs = undefined;
        state.refusals = 0;
      } else if (result.kind === 'failed') {
        state.error = { reason: result.reason, message: result.message };
        if (result.backoffMs !== undefined) {
          state.backoffUntilMs = nowMs + result.backoffMs * 2 ** Math.min(state.refusals ?? 0, 3);
          state.refusals = (state.refusals ?? 0) + 1;
        }
      }
      if (state.error) first ??= state.error;
    }
    return first;
  }

  /** Unix ms before which this resource must not be listed (0 when it may). */
  resourceBackoffUntil(resource: ResourceName, nowMs: number): number {
    const until = this.listings.get(resource)?.backoffUntilMs ?? 0;
    return until > nowMs ? until : 0;
  }

  /** Unix ms before which the target itself must not be tried (0 when it may). */
  backoffUntil(nowMs: number): number {
    return this.phase.kind === 'backing-off' && this.phase.untilMs > nowMs ? this.phase.untilMs : 0;
  }

  /** Whether it succeeded last time (every resource): its requests get the key's probe first. */
  get succeededLastTime(): boolean {
    return this.phase.kind === 'ok';
  }

  /** Its encode servers listed (the only resource it lists). */
  succeeded(nowMs: number, series: TargetSeries, durationSeconds: number): void {
    this.listed(nowMs, new Map([['encode_servers', { kind: 'ok', series }]]), durationSeconds);
  }

  /**
   * A poll of the whole target failed (no usable credentials, or a 401 the key survived): every resource with it.
   * `backoffMs` when the API refused it, doubling per refusal in a row.
   */
  failed(nowMs: number, reason: FailureReason, message: string, durationSeconds: number, backoffMs?: number): void {
    this.lastDurationSeconds = durationSeconds;
    for (const resource of this.resources) this.listing(resource).error = { reason, message };
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

  /** A listing not complete for longer than `maxStalenessMs` may no longer be true: stop showing it. */
  expireStale(nowMs: number, maxStalenessMs: number): void {
    const targetDown = this.phase.kind !== 'ok' && this.phase.kind !== 'partial';
    for (const resource of this.resources) {
      const state = this.listing(resource);
      if (!(targetDown || state.error) || nowMs - (state.lastSuccessMs ?? 0) <= maxStalenessMs) continue;
      if (resource === 'encode_servers') this.series = undefined;
      else state.estate = undefined;
    }
  }

  /** When every resource is refused (403) for itself, the target as a whole waits until the first of them may go. */
  private resourcesBackoffUntil(): number | undefined {
    const until = this.resources.map((r) => this.listings.get(r)?.backoffUntilMs);
    return until.every((u) => u !== undefined) ? Math.min(...(until as number[])) : undefined;
  }

  /** What the health gauges say; undefined before the first poll. */
  health(): TargetHealth | undefined {
    const p = this.phase;
    if (p.kind === 'new') return undefined;
    // Held or backing off: nothing was listed, whatever each resource's last outcome was.
    const targetReason = p.kind === 'held' || p.kind === 'backing-off' ? p.reason : undefined;
    const resources: ResourceHealth[] = this.resources.map((resource) => {
      const state = this.listing(resource);
      const reason = targetReason ?? state.error?.reason;
      return { resource, up: reason === undefined, lastSuccessMs: state.lastSuccessMs, errorReason: reason };
    });
    return {
      projectId: this.target.projectId,
      region: this.target.region,
      up: p.kind === 'ok',
      lastDurationSeconds: this.lastDurationSeconds,
      resources,
      authBackoffUntilMs: p.kind === 'backing-off' || p.kind === 'held' ? p.untilMs : this.resourcesBackoffUntil(),
    };
  }
}
