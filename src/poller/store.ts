import type { Target } from '../config/load.js';
import type { FailureReason } from '../cph/errors.js';
import type { TargetSeries } from '../metrics/convert.js';
import { type PreparedExposition, prepareExposition } from '../metrics/prepared.js';
import { resourceChunks } from '../metrics/resources.js';
import type { TargetHealth } from '../metrics/self.js';
import { PreparedAccessPorts } from '../sd/prepared.js';

/** What one poll found out about one target. */
export type TargetOutcome =
  | { kind: 'ok'; series: TargetSeries; durationSeconds: number; pages: number; duplicates: number }
  | { kind: 'failed'; reason: FailureReason; message: string; durationSeconds: number; authBackoffUntilMs?: number | undefined };

interface TargetState {
  readonly target: Target;
  /** The last complete listing, converted; undefined before the first success or once stale. */
  series?: TargetSeries | undefined;
  lastSuccessMs?: number | undefined;
  lastDurationSeconds?: number | undefined;
  error?: { reason: FailureReason; message: string } | undefined;
  authBackoffUntilMs?: number | undefined;
  /** At least one poll of this target has finished (successfully or not). */
  polled: boolean;
}

/** The resource exposition as of the last poll: what every scrape serves until the next one. */
export interface PublishedResources {
  /** Increases with every publication. */
  readonly generation: number;
  readonly text: string;
  /** The exposition as scrapes send it, plain and gzip, prepared once per publication. */
  readonly prepared: PreparedExposition;
  /** The same listings' access ports as HTTP service discovery answers (/sd/access-ports). */
  readonly accessPorts: PreparedAccessPorts;
}

/** A publication; its text is decoded from the chunks on demand, so the store keeps the bytes only. */
function publication(generation: number, chunks: Buffer[], series: readonly TargetSeries[]): PublishedResources {
  return {
    generation,
    prepared: prepareExposition(chunks),
    accessPorts: new PreparedAccessPorts(series.map((s) => s.accessPorts)),
    get text() {
      return Buffer.concat(chunks).toString('utf8');
    },
  };
}

export function targetKey(t: { projectId: string; region: string }): string {
  return `${t.projectId}/${t.region}`;
}

/**
 * Per-target state and the published exposition built from it. A poll's outcomes are applied
 * in one synchronous step, so the published text is always one consistent snapshot. A failed
 * target keeps its last complete listing until it is older than `maxStalenessMs`.
 */
export class SnapshotStore {
  private readonly states = new Map<string, TargetState>();
  private current: PublishedResources;

  constructor(
    targets: readonly Target[],
    private readonly options: { maxStalenessMs: number; withInfo: boolean },
  ) {
    for (const target of targets) this.states.set(targetKey(target), { target, polled: false });
    this.current = publication(0, resourceChunks([], options.withInfo), []);
  }

  get resources(): PublishedResources {
    return this.current;
  }

  /** Ready once every target has finished its first poll, whatever the result. */
  isReady(): boolean {
    for (const s of this.states.values()) if (!s.polled) return false;
    return true;
  }

  authBackoffUntil(target: Target): number | undefined {
    return this.states.get(targetKey(target))?.authBackoffUntilMs;
  }

  /** Forgets these targets' authentication back-off: their key changed, so the refusal may no longer hold. */
  liftAuthBackoffs(targets: readonly Target[]): void {
    for (const target of targets) {
      const state = this.states.get(targetKey(target));
      if (state) state.authBackoffUntilMs = undefined;
    }
  }

  /** Applies a poll's outcomes and re-renders; returns the new publication. Synchronous by design. */
  apply(outcomes: ReadonlyMap<string, TargetOutcome>, nowMs: number): PublishedResources {
    for (const [key, outcome] of outcomes) {
      const state = this.states.get(key);
      if (!state) continue;
      state.polled = true;
      state.lastDurationSeconds = outcome.durationSeconds;
      if (outcome.kind === 'ok') {
        state.series = outcome.series;
        state.lastSuccessMs = nowMs;
        state.error = undefined;
        state.authBackoffUntilMs = undefined;
      } else {
        state.error = { reason: outcome.reason, message: outcome.message };
        state.authBackoffUntilMs = outcome.authBackoffUntilMs;
      }
    }
    for (const state of this.states.values()) {
      // A fleet we have not seen for too long may no longer exist: stop showing it.
      if (state.series && state.error && nowMs - (state.lastSuccessMs ?? 0) > this.options.maxStalenessMs) {
        state.series = undefined;
      }
    }
    const series: TargetSeries[] = [];
    for (const s of this.states.values()) if (s.series) series.push(s.series);
    this.current = publication(this.current.generation + 1, resourceChunks(series, this.options.withInfo), series);
    return this.current;
  }

  /** Health of every target that has been polled at least once. */
  health(): TargetHealth[] {
    const out: TargetHealth[] = [];
    for (const s of this.states.values()) {
      if (!s.polled) continue;
      out.push({
        projectId: s.target.projectId,
        region: s.target.region,
        up: s.error === undefined,
        lastDurationSeconds: s.lastDurationSeconds,
        lastSuccessMs: s.lastSuccessMs,
        errorReason: s.error?.reason,
        authBackoffUntilMs: s.authBackoffUntilMs,
      });
    }
    return out;
  }
}
