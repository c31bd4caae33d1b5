import { setMaxListeners } from 'node:events';
import pLimit from 'p-limit';
import type { Config, Target } from '../config/load.js';
import { formatDuration } from '../config/units.js';
import type { AttemptGate, CallOptions, PageResult, TargetRef } from '../cph/client.js';
import { CphApiError, FAILURE_REASONS, failureReasonOf, isCphApiError } from '../cph/errors.js';
import { listConsistently, listPages } from '../cph/paging.js';
import type { Credentials, EncodeServer, ListEncodeServersQuery } from '../cph/types.js';
import { DEFAULT_KEY, describeKey, type KeyName, keyOf } from '../credentials/keys.js';
import type { CredentialProvider } from '../credentials/provider.js';
import type { Logger } from '../log/logger.js';
import { TargetSeriesBuilder } from '../metrics/convert.js';
import type { SelfMetrics, TargetHealth } from '../metrics/self.js';
import { KeyHeldError, KeyPolicy, PROBE_PRIORITY } from './key-policy.js';
import type { SnapshotStore } from './store.js';
import { TargetState } from './target-state.js';

/** The part of the API client the poller uses (a fake can stand in for it in tests). */
export interface EncodeServerLister {
  listEncodeServers(target: TargetRef, query: ListEncodeServersQuery, call: CallOptions): Promise<PageResult>;
}

/** What a poll did to one target, applied when the poll publishes (all targets in one step, at one time). */
type Transition = (state: TargetState, nowMs: number) => void;

export interface PollerDeps {
  config: Pick<Config, 'poll' | 'metrics'> & { targets: readonly Target[] };
  client: EncodeServerLister;
  /** The top-level credentials: the key of targets without `account`. */
  credentials: CredentialProvider;
  /** The keys of `accounts:`, by name. */
  accounts?: { provider(key: KeyName): CredentialProvider } | undefined;
  store: SnapshotStore;
  metrics: SelfMetrics;
  log: Logger;
  now?: () => number;
}

/**
 * One poll = every target listed once, all API calls of the poll bounded by one p-limit,
 * under one deadline. Never two polls at once. Each target has one state (`TargetState`: ok,
 * failing, backing off, held by its key) and each key one policy (`KeyPolicy`: may it send now?);
 * the poll ends with one transition per target, and the listings and health gauges are
 * published in one synchronous step.
 */
export class Poller {
  private running: Promise<void> | undefined;
  private readonly shutdown = new AbortController();
  private readonly now: () => number;
  private states: TargetState[];
  /** One policy per key: one account's refused key never holds back another account's targets. */
  private readonly policies = new Map<KeyName, KeyPolicy>();

  constructor(private deps: PollerDeps) {
    this.now = deps.now ?? Date.now;
    this.states = deps.config.targets.map((t) => new TargetState(t, keyOf(t)));
    for (const s of this.states) {
      if (!this.policies.has(s.key)) this.policies.set(s.key, new KeyPolicy(s.key, deps.config.poll.authFailureBackoffMs, this.now));
      deps.metrics.declareTarget(s.target.projectId, s.target.region, FAILURE_REASONS);
    }
  }

  /** Runs a poll, or skips it (and says so) when the previous one is still running. */
  poll(): Promise<void> {
    if (this.shutdown.signal.aborted) return Promise.resolve();
    if (this.running) {
      this.deps.metrics.countSkippedPoll();
      this.deps.log.warn('previous poll still running; skipping this one');
      return this.running;
    }
    this.running = this.runPoll().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Resolves when no poll is running (at once if none is). */
  async settled(): Promise<void> {
    await this.running;
  }

  /** Aborts the poll in flight (if any) and waits for it to wind down. No poll starts afterwards. */
  async stop(): Promise<void> {
    this.shutdown.abort(new CphApiError('CPH_ABORTED', 'exporter is shutting down'));
    await this.running;
  }

  /**
   * Takes a new configuration (a reload, or targets whose project was just discovered) for the next
   * poll. A target that stays (same key, project, region and endpoint) keeps its state: its listing,
   * back-off and page horizons; a new one starts fresh; a removed one's series vanish from the
   * publication now. A poll still running finishes under the old settings; what it finds about
   * removed targets is dropped.
   */
  reconfigure(next: Pick<PollerDeps, 'config' | 'client' | 'credentials' | 'accounts'>): void {
    const kept = new Map(this.states.map((s) => [identity(s.target), s]));
    this.deps = { ...this.deps, ...next };
    const states = next.config.targets.map((t) => kept.get(identity(t)) ?? new TargetState(t, keyOf(t)));
    for (const s of states) {
      if (kept.get(identity(s.target)) !== s) this.deps.metrics.declareTarget(s.target.projectId, s.target.region, FAILURE_REASONS);
      kept.delete(identity(s.target));
    }
    for (const gone of kept.values()) this.deps.metrics.forgetTarget(gone.target.projectId, gone.target.region, FAILURE_REASONS);
    this.states = states;
    const keys = new Set(states.map((s) => s.key));
    for (const key of this.policies.keys()) if (!keys.has(key)) this.policies.delete(key);
    for (const key of keys) {
      // A key whose back-off setting changed starts a new policy; the others keep their run and block.
      const policy = this.policies.get(key);
      if (!policy || policy.backoffMs !== next.config.poll.authFailureBackoffMs) {
        this.policies.set(key, new KeyPolicy(key, next.config.poll.authFailureBackoffMs, this.now));
      }
    }
    if (kept.size > 0) this.republish();
  }

  /** Health of every target polled at least once, as the gauges show it. */
  health(): TargetHealth[] {
    return this.states.flatMap((s) => s.health() ?? []);
  }

  private async runPoll(): Promise<void> {
    const { poll } = this.deps.config;
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(new CphApiError('CPH_TIMEOUT', `poll deadline reached after ${formatDuration(poll.timeoutMs)} (poll.timeout)`)), poll.timeoutMs);
    const signal = AbortSignal.any([deadline.signal, this.shutdown.signal]);
    // Every target's listing listens on it; more than 10 targets is normal, not a leak.
    setMaxListeners(0, signal);
    const started = performance.now();
    try {
      const credentials = await this.beginPoll();
      const limit = pLimit(poll.concurrency);
      // Targets that succeeded last time first: their requests get the key's probe, and p-limit's queue is FIFO.
      const order = [...this.states].sort((a, b) => Number(b.succeededLastTime) - Number(a.succeededLastTime));
      const transitions = await Promise.all(order.map((state) => this.pollTarget(state, credentials.get(state.key) as Credentials | Error, limit, signal)));
      if (this.shutdown.signal.aborted) return; // nobody will read it; don't publish a poll cut short by shutdown
      this.publish(order, transitions);
      this.deps.log.debug({ seconds: (performance.now() - started) / 1000 }, 'poll finished');
    } finally {
      clearTimeout(timer);
    }
  }

  /** Each key's credentials for this poll (or why there are none); a rotated key lifts its targets' back-offs. */
  private async beginPoll(): Promise<Map<KeyName, Credentials | Error>> {
    const out = new Map<KeyName, Credentials | Error>();
    await Promise.all(
      [...this.policies].map(async ([key, policy]) => {
        try {
          const credentials = await this.providerOf(key).get();
          // A rotated key may be accepted where the old one was refused (401, or 403 for a project): try again now.
          if (policy.beginPoll(credentials)) for (const s of this.states) if (s.key === key) s.liftBackoff();
          out.set(key, credentials);
        } catch (err) {
          // A secret file rotated to something unusable, metadata keys out of reach: this key's targets fail, visibly.
          const error = err instanceof Error ? err : new Error(String(err));
          this.deps.log.error({ err: error.message, account: key === DEFAULT_KEY ? undefined : key }, `no usable credentials for ${describeKey(key)}; its targets are not polled`);
          out.set(key, error);
        }
      }),
    );
    return out;
  }

  private providerOf(key: KeyName): CredentialProvider {
    if (key === DEFAULT_KEY) return this.deps.credentials;
    if (!this.deps.accounts) throw new Error(`no credentials for ${describeKey(key)}`);
    return this.deps.accounts.provider(key);
  }

  /**
   * Lists one target (or finds that it must wait); never throws. Returns the target's transition,
   * applied with every other target's in the poll's one publishing step.
   */
  private async pollTarget(state: TargetState, credentials: Credentials | Error, limit: ReturnType<typeof pLimit>, signal: AbortSignal): Promise<Transition> {
    const { target } = state;
    if (credentials instanceof Error) {
      this.deps.metrics.countFailure(target.projectId, target.region, 'auth');
      return (s, now) => s.failed(now, 'auth', credentials.message, 0);
    }
    const policy = this.policies.get(state.key) as KeyPolicy;
    const keyBlockedUntil = policy.blockedUntil();
    if (keyBlockedUntil > 0) {
      const message = new KeyHeldError(state.key, keyBlockedUntil).message;
      return (s) => s.held('auth', message, keyBlockedUntil);
    }
    if (state.backoffUntil(this.now()) > 0) return () => undefined; // refused for itself: its phase already says so, until when

    const started = performance.now();
    const ref: TargetRef = { endpoint: target.endpoint, projectId: target.projectId };
    const gate = policy.gateFor(state.succeededLastTime ? PROBE_PRIORITY.succeededLastTime : PROBE_PRIORITY.other);
    const horizon = state.listing('encode_servers');
    try {
      const { series, listing } = await this.listEncodeServers(state, ref, credentials, gate, horizon.horizonPages, limit, signal);
      horizon.horizonPages = listing.pages;
      if (listing.duplicates > 0) {
        this.deps.log.info({ project_id: target.projectId, region: target.region, duplicates: listing.duplicates }, 'listing returned records twice; duplicates dropped');
      }
      this.deps.log.debug({ project_id: target.projectId, region: target.region, encode_servers: series.count, pages: listing.pages }, 'target listed');
      const seconds = (performance.now() - started) / 1000;
      return (s, now) => s.succeeded(now, series, seconds);
    } catch (err) {
      const seconds = (performance.now() - started) / 1000;
      if (err instanceof KeyHeldError) {
        // Another target's answer blocked the key while this one was listing: nothing more was sent.
        return (s) => s.held('auth', err.message, err.untilMs);
      }
      const reason = failureReasonOf(err);
      const message = err instanceof Error ? err.message : String(err);
      // Refused for itself (401 the key survived, or 403 for this project): not tried again before the back-off.
      const backoffMs = isCphApiError(err) && (err.status === 401 || err.status === 403) ? this.deps.config.poll.authFailureBackoffMs : undefined;
      this.deps.metrics.countFailure(target.projectId, target.region, reason);
      if (!this.shutdown.signal.aborted) {
        const fields = isCphApiError(err) ? err.toLogFields() : { err: String(err) };
        const kept = state.lastSuccessMs === undefined ? 'no listing yet' : state.series ? 'keeping its last complete listing' : 'its last listing is stale and no longer shown';
        this.deps.log.warn({ project_id: target.projectId, region: target.region, endpoint: new URL(target.endpoint).host, reason, ...fields }, `poll of target failed; ${kept}`);
      }
      return (s, now) => s.failed(now, reason, message, seconds, backoffMs);
    }
  }

  /** The encode-server listing of one target, listed again once if it shifted; converted as pages arrive. */
  private async listEncodeServers(
    state: TargetState,
    ref: TargetRef,
    credentials: Credentials,
    gate: AttemptGate,
    expectedPages: number | undefined,
    limit: ReturnType<typeof pLimit>,
    signal: AbortSignal,
  ) {
    const { poll, metrics } = this.deps.config;
    const { target } = state;
    let builder!: TargetSeriesBuilder;
    const listing = await listConsistently(
      () => {
        // A fresh builder per attempt: what a shifted attempt consumed is a mix and is dropped.
        builder = new TargetSeriesBuilder(target, metrics.encodeServerInfo);
        return listPages<EncodeServer>(
          (offset, pageSize, pageSignal) =>
            limit(async () => {
              const page = await this.deps.client.listEncodeServers(ref, { offset, limit: pageSize }, { signal: pageSignal, credentials: () => credentials, gate, key: state.key });
              return page.response.encode_servers;
            }),
          (s) => s.encode_server_id,
          { pageSize: poll.pageSize, maxPages: poll.maxPages, window: poll.concurrency, firstPageAlone: true, expectedPages, signal },
          (items) => builder.add(items),
        );
      },
      (shift) => this.deps.log.info({ project_id: target.projectId, region: target.region, err: shift.message }, 'listing shifted under changes; listing the target again'),
    );
    return { series: builder.finish(), listing };
  }

  /** One synchronous step: every target's transition, staleness, store, health gauges. A scrape sees all of it or none of it. */
  private publish(states: readonly TargetState[], transitions: readonly Transition[]): void {
    const now = this.now();
    const { maxStalenessMs } = this.deps.config.poll;
    states.forEach((s, i) => transitions[i]?.(s, now));
    for (const s of this.states) s.expireStale(now, maxStalenessMs);
    this.republish();
  }

  /** The current states' listings, readiness and health, published in one synchronous step. */
  private republish(): void {
    this.deps.store.publish(
      this.states.flatMap((s) => s.series ?? []),
      // Once ready, a reload that adds targets does not make the exporter unready again.
      this.deps.store.isReady() || this.states.every((s) => s.phase.kind !== 'new'),
    );
    this.deps.metrics.publishHealth(this.health());
  }
}

/** What makes a target "the same" across a reload: its key, project, region and endpoint. */
function identity(t: Target): string {
  return `${keyOf(t)}\0${t.projectId}\0${t.region}\0${t.endpoint}`;
}
