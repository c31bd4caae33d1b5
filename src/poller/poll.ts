import { setMaxListeners } from 'node:events';
import pLimit from 'p-limit';
import type { Config, Target } from '../config/load.js';
import { formatDuration } from '../config/units.js';
import { RESOURCE_NAMES } from '../config/schema.js';
import type { ListApi } from '../cph/apis.js';
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
import { type ResourceName, type ResourceResult, TargetState } from './target-state.js';
import { type EstateListingContext, listPhoneServers, listPhones } from './estate.js';
import { TargetProbe } from './target-probe.js';

/** The part of the API client the poller uses (a fake can stand in for it in tests). */
export interface EncodeServerLister {
  listEncodeServers(target: TargetRef, query: ListEncodeServersQuery, call: CallOptions): Promise<PageResult>;
  /** One page of any list API (phone servers, phones). */
  list<R>(api: ListApi<R>, target: TargetRef, query: Readonly<Record<string, string | number | undefined>>, call: CallOptions): Promise<PageResult<R>>;
}

function isResult(v: unknown): v is ResourceResult {
  return typeof v === 'object' && v !== null && 'kind' in v && !(v instanceof Error);
}

/** What a poll did to one target, applied when the poll publishes (all targets in one step, at one time). */
type Transition = (state: TargetState, nowMs: number) => void;

export interface PollerDeps {
  config: Pick<Config, 'poll' | 'metrics'> & { targets: readonly Target[]; resources?: Config['resources'] | undefined };
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
    const resources = deps.config.resources ?? RESOURCE_NAMES;
    this.states = deps.config.targets.map((t) => new TargetState(t, keyOf(t), resources));
    for (const s of this.states) {
      this.policyOf(s.key);
      deps.metrics.declareTarget(s.target.projectId, s.target.region, resources, FAILURE_REASONS);
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
    const resources = next.config.resources ?? RESOURCE_NAMES;
    const states = next.config.targets.map((t) => kept.get(identity(t)) ?? new TargetState(t, keyOf(t), resources));
    for (const s of states) {
      const gone = s.resources.filter((r) => !resources.includes(r));
      if (gone.length > 0) this.deps.metrics.forgetTarget(s.target.projectId, s.target.region, gone, FAILURE_REASONS);
      // A kept target lists what the new configuration says from the next poll on; counters of new resources start at 0.
      s.resources = resources;
      this.deps.metrics.declareTarget(s.target.projectId, s.target.region, resources, FAILURE_REASONS);
      kept.delete(identity(s.target));
    }
    for (const gone of kept.values()) this.deps.metrics.forgetTarget(gone.target.projectId, gone.target.region, gone.resources, FAILURE_REASONS);
    this.states = states;
    // Policies are kept for keys that no target uses any more: the gateway keeps counting a removed key's failures,
    // and a key added back (or still used for project discovery) must not start with a clean run.
    for (const policy of this.policies.values()) policy.backoffMs = next.config.poll.authFailureBackoffMs;
    for (const s of states) this.policyOf(s.key);
    if (kept.size > 0) this.republish();
  }

  /**
   * The gate of a key for requests made outside polling (IAM project discovery): they count toward the
   * same gateway run, so they pass the same policy, with the lowest probe priority.
   */
  keyGate(key: KeyName): AttemptGate {
    return this.policyOf(key).gateFor(PROBE_PRIORITY.other);
  }

  private policyOf(key: KeyName): KeyPolicy {
    let policy = this.policies.get(key);
    if (!policy) {
      policy = new KeyPolicy(key, this.deps.config.poll.authFailureBackoffMs, this.now);
      this.policies.set(key, policy);
    }
    return policy;
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
    const inUse = new Set(this.states.map((s) => s.key));
    await Promise.all(
      [...inUse].map(async (key) => {
        const policy = this.policyOf(key);
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
   * Lists one target (or finds that it must wait); never throws. Each of its resources is listed on its own, all at
   * once under the poll's one p-limit, and fails on its own. Returns the target's transition, applied with every
   * other target's in the poll's one publishing step.
   */
  private async pollTarget(state: TargetState, credentials: Credentials | Error, limit: ReturnType<typeof pLimit>, signal: AbortSignal): Promise<Transition> {
    const { target } = state;
    if (credentials instanceof Error) {
      for (const resource of state.resources) this.deps.metrics.countFailure(target.projectId, target.region, resource, 'auth');
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
    const gate = policy.gateFor(state.succeededLastTime ? PROBE_PRIORITY.succeededLastTime : PROBE_PRIORITY.other);
    const now = this.now();
    const probe = new TargetProbe();
    const outcomes = await Promise.all(
      state.resources.map(async (resource): Promise<[ResourceName, ResourceResult | unknown]> => {
        // Refused (403) for itself: its own back-off, while the target's other resources are listed.
        if (state.resourceBackoffUntil(resource, now) > 0) return [resource, { kind: 'skipped' }];
        try {
          return [resource, await this.listResource(resource, state, credentials, gate, probe, limit, signal)];
        } catch (err) {
          return [resource, err];
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const results = new Map<ResourceName, ResourceResult>();
    let held: KeyHeldError | undefined;
    let refused: { message: string } | undefined;
    for (const [resource, outcome] of outcomes) {
      if (isResult(outcome)) {
        results.set(resource, outcome);
        continue;
      }
      if (outcome instanceof KeyHeldError) {
        // Another target's answer blocked the key while this one was listing: nothing more was sent.
        held = outcome;
        continue;
      }
      const reason = failureReasonOf(outcome);
      const message = outcome instanceof Error ? outcome.message : String(outcome);
      const status = isCphApiError(outcome) ? outcome.status : undefined;
      // A 401 the key survived is about the target (its project, its region); a 403 about this resource only
      // (the key's policy lacks the resource's action): each backs off what it is about.
      if (status === 401) refused = { message };
      results.set(resource, { kind: 'failed', reason, message, backoffMs: status === 403 ? this.deps.config.poll.authFailureBackoffMs : undefined });
      this.deps.metrics.countFailure(target.projectId, target.region, resource, reason);
      if (!this.shutdown.signal.aborted) {
        const fields = isCphApiError(outcome) ? outcome.toLogFields() : { err: String(outcome) };
        const last = state.listing(resource).lastSuccessMs;
        this.deps.log.warn(
          { project_id: target.projectId, region: target.region, endpoint: new URL(target.endpoint).host, resource, reason, ...fields },
          `listing failed; ${last === undefined ? 'no listing yet' : 'keeping its last complete listing until poll.max_staleness'}`,
        );
      }
    }
    if (held) {
      const { message, untilMs } = held;
      return (s, at) => {
        s.applyResults(at, results, seconds);
        s.held('auth', message, untilMs);
      };
    }
    if (refused) {
      const { message } = refused;
      const backoffMs = this.deps.config.poll.authFailureBackoffMs;
      return (s, at) => {
        s.applyResults(at, results, seconds);
        s.failed(at, 'auth', message, seconds, backoffMs);
      };
    }
    return (s, at) => s.listed(at, results, seconds);
  }

  /** Lists one resource of a target into its series, or throws why it could not. */
  private async listResource(
    resource: ResourceName,
    state: TargetState,
    credentials: Credentials,
    gate: AttemptGate,
    probe: TargetProbe,
    limit: ReturnType<typeof pLimit>,
    signal: AbortSignal,
  ): Promise<ResourceResult> {
    const { target } = state;
    const ids = { project_id: target.projectId, region: target.region, resource };
    if (resource === 'encode_servers') {
      const horizon = state.listing('encode_servers');
      const { series, listing } = await this.listEncodeServers(state, { endpoint: target.endpoint, projectId: target.projectId }, credentials, gate, probe, horizon.horizonPages, limit, signal);
      horizon.horizonPages = listing.pages;
      if (listing.duplicates > 0) this.deps.log.info({ ...ids, duplicates: listing.duplicates }, 'listing returned records twice; duplicates dropped');
      this.deps.log.debug({ ...ids, items: series.count, pages: listing.pages }, 'resource listed');
      return { kind: 'ok', series };
    }
    const ref: TargetRef = { endpoint: target.endpoint, projectId: target.projectId };
    const ctx: EstateListingContext = {
      target,
      maxPages: this.deps.config.poll.maxPages,
      signal,
      send: (api, query, pageSignal) =>
        probe.run(() => limit(async () => (await this.deps.client.list(api, ref, { ...query }, { signal: pageSignal, credentials: () => credentials, gate, key: state.key })).response), pageSignal),
      onShift: (err) => {
        this.deps.metrics.countDisagreement(target.projectId, target.region, resource);
        this.deps.log.info({ ...ids, ...err.disagreement }, 'listing disagreed with its total (records created or deleted meanwhile); listing it again');
      },
    };
    const listing = resource === 'phone_servers' ? await listPhoneServers(ctx) : await listPhones(ctx, this.deps.config.metrics.phoneInfo);
    this.deps.log.debug({ ...ids, items: listing.series.count, pages: listing.pages }, 'resource listed');
    return { kind: 'ok', estate: listing.series };
  }

  /** The encode-server listing of one target, listed again once if it shifted; converted as pages arrive. */
  private async listEncodeServers(
    state: TargetState,
    ref: TargetRef,
    credentials: Credentials,
    gate: AttemptGate,
    probe: TargetProbe,
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
            probe.run(
              () =>
                limit(async () => {
                  const page = await this.deps.client.listEncodeServers(ref, { offset, limit: pageSize }, { signal: pageSignal, credentials: () => credentials, gate, key: state.key });
                  return page.response.encode_servers;
                }),
              pageSignal,
            ),
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
      this.states.flatMap((s) => s.estate),
    );
    this.deps.metrics.publishHealth(this.health());
  }
}

/** What makes a target "the same" across a reload: its key, project, region and endpoint. */
function identity(t: Target): string {
  return `${keyOf(t)}\0${t.projectId}\0${t.region}\0${t.endpoint}`;
}
