import { setMaxListeners } from 'node:events';
import pLimit from 'p-limit';
import type { Config, Target } from '../config/load.js';
import type { PageResult, TargetRef, CallOptions } from '../cph/client.js';
import { CphApiError, FAILURE_REASONS, failureReasonOf, isCphApiError } from '../cph/errors.js';
import { listConsistently, listPages } from '../cph/paging.js';
import type { Credentials, EncodeServer, ListEncodeServersQuery } from '../cph/types.js';
import { DEFAULT_KEY, describeKey, type KeyName, keyOf } from '../credentials/keys.js';
import type { CredentialProvider } from '../credentials/provider.js';
import type { Logger } from '../log/logger.js';
import { TargetSeriesBuilder } from '../metrics/convert.js';
import type { SelfMetrics } from '../metrics/self.js';
import { AuthGate } from './auth-gate.js';
import { type SnapshotStore, type TargetOutcome, targetKey } from './store.js';

/** The part of the API client the poller uses (a fake can stand in for it in tests). */
export interface EncodeServerLister {
  listEncodeServers(target: TargetRef, query: ListEncodeServersQuery, call: CallOptions): Promise<PageResult>;
}

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
 * under one deadline. Never two polls at once. Outcomes are applied to the store in one step.
 */
export class Poller {
  private running: Promise<void> | undefined;
  private readonly shutdown = new AbortController();
  /** One gate per key: one account's refused key never holds back another account's targets. */
  private readonly gates = new Map<KeyName, AuthGate>();
  private readonly now: () => number;
  /** Pages of each target's last complete listing: how far the next listing looks ahead. */
  private readonly lastPages = new Map<string, number>();

  constructor(private readonly deps: PollerDeps) {
    this.now = deps.now ?? Date.now;
    for (const t of deps.config.targets) deps.metrics.declareTarget(t.projectId, t.region, FAILURE_REASONS);
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

  /** Aborts the poll in flight (if any) and waits for it to wind down. No poll starts afterwards. */
  async stop(): Promise<void> {
    this.shutdown.abort(new CphApiError('CPH_ABORTED', 'exporter is shutting down'));
    await this.running;
  }

  private async runPoll(): Promise<void> {
    const { poll } = this.deps.config;
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(new CphApiError('CPH_TIMEOUT', `poll deadline of ${poll.timeoutMs} ms reached`)), poll.timeoutMs);
    const signal = AbortSignal.any([deadline.signal, this.shutdown.signal]);
    // Every target's listing listens on it; more than 10 targets is normal, not a leak.
    setMaxListeners(0, signal);
    const started = performance.now();
    try {
      const limit = pLimit(poll.concurrency);
      const outcomes = new Map<string, TargetOutcome | 'held'>();
      const byKey = new Map<KeyName, Target[]>();
      for (const target of this.deps.config.targets) {
        const key = keyOf(target);
        byKey.set(key, [...(byKey.get(key) ?? []), target]);
      }
      await Promise.all(
        [...byKey].map(async ([key, targets]) => {
          let credentials: Credentials;
          try {
            credentials = await this.providerOf(key).get();
          } catch (err) {
            // A secret file rotated to something unusable, metadata keys out of reach: this key's targets fail, visibly.
            const message = (err as Error).message;
            this.deps.log.error({ err: message, account: key === DEFAULT_KEY ? undefined : key }, `no usable credentials for ${describeKey(key)}; its targets are not polled`);
            for (const t of targets) outcomes.set(targetKey(t), { kind: 'failed', reason: 'auth', message, durationSeconds: 0 });
            return;
          }
          const gate = this.gateOf(key);
          // A rotated key may be accepted where the old one was refused (401, or 403 for a project): try again now.
          if (gate.beginPoll(credentials)) this.deps.store.liftAuthBackoffs(targets);
          await Promise.all(
            targets.map(async (target) => {
              outcomes.set(targetKey(target), await this.pollTarget(target, credentials, gate, limit, signal));
            }),
          );
        }),
      );
      if (this.shutdown.signal.aborted) return; // nobody will read it; don't publish a poll cut short by shutdown
      this.publish(outcomes);
      this.deps.log.debug({ seconds: (performance.now() - started) / 1000 }, 'poll finished');
    } finally {
      clearTimeout(timer);
    }
  }

  private providerOf(key: KeyName): CredentialProvider {
    if (key === DEFAULT_KEY) return this.deps.credentials;
    if (!this.deps.accounts) throw new Error(`no credentials for ${describeKey(key)}`);
    return this.deps.accounts.provider(key);
  }

  private gateOf(key: KeyName): AuthGate {
    let gate = this.gates.get(key);
    if (!gate) this.gates.set(key, (gate = new AuthGate(this.deps.config.poll.authFailureBackoffMs, this.now)));
    return gate;
  }

  private async pollTarget(
    target: Target,
    credentials: Credentials,
    gate: AuthGate,
    limit: ReturnType<typeof pLimit>,
    signal: AbortSignal,
  ): Promise<TargetOutcome | 'held'> {
    const now = this.now();
    if (gate.backoffUntil() > 0 || (this.deps.store.authBackoffUntil(target) ?? 0) > now) return 'held';
    const started = performance.now();
    const ref: TargetRef = { endpoint: target.endpoint, projectId: target.projectId };
    const { poll, metrics } = this.deps.config;
    try {
      // Pages are converted as they arrive, in listing order; on failure (or a shift) the builder is dropped.
      let builder!: TargetSeriesBuilder;
      const listing = await listConsistently(
        () => {
          builder = new TargetSeriesBuilder(target, metrics.encodeServerInfo);
          return listPages<EncodeServer>(
            (offset, pageSize, pageSignal) =>
              gate.run(credentials, (observe) =>
                limit(async () => {
                  gate.assertOpen(); // it may have closed while this request waited for a slot
                  const page = await this.deps.client.listEncodeServers(
                    ref,
                    { offset, limit: pageSize },
                    { signal: pageSignal, credentials: () => credentials, onAttempt: observe, key: keyOf(target) },
                  );
                  return page.response.encode_servers;
                }),
              ),
            (s) => s.encode_server_id,
            {
              pageSize: poll.pageSize,
              maxPages: poll.maxPages,
              window: poll.concurrency,
              firstPageAlone: true,
              expectedPages: this.lastPages.get(targetKey(target)),
              signal,
            },
            (items) => builder.add(items),
          );
        },
        (shift) => this.deps.log.info({ project_id: target.projectId, region: target.region, err: shift.message }, 'listing shifted under changes; listing the target again'),
      );
      if (listing.duplicates > 0) {
        this.deps.log.info({ project_id: target.projectId, region: target.region, duplicates: listing.duplicates }, 'listing returned records twice; duplicates dropped');
      }
      this.lastPages.set(targetKey(target), listing.pages);
      const series = builder.finish();
      this.deps.log.debug({ project_id: target.projectId, region: target.region, encode_servers: series.count, pages: listing.pages }, 'target listed');
      return { kind: 'ok', series, durationSeconds: (performance.now() - started) / 1000, pages: listing.pages, duplicates: listing.duplicates };
    } catch (err) {
      const reason = failureReasonOf(err);
      let authBackoffUntilMs: number | undefined;
      if (reason === 'auth') {
        // 401 is about the key (the gate holds every target back); 403 is about this project.
        authBackoffUntilMs = gate.backoffUntil() || this.now() + poll.authFailureBackoffMs;
      }
      const fields = isCphApiError(err) ? err.toLogFields() : { err: String(err) };
      if (!this.shutdown.signal.aborted) {
        this.deps.log.warn({ project_id: target.projectId, region: target.region, reason, ...fields }, 'poll of target failed; keeping its last complete listing');
      }
      return {
        kind: 'failed',
        reason,
        message: err instanceof Error ? err.message : String(err),
        durationSeconds: (performance.now() - started) / 1000,
        authBackoffUntilMs,
      };
    }
  }

  /** One synchronous step: counters, store, health gauges. A scrape sees all of it or none of it. */
  private publish(outcomes: ReadonlyMap<string, TargetOutcome | 'held'>): void {
    const applied = new Map<string, TargetOutcome>();
    for (const [key, outcome] of outcomes) {
      if (outcome === 'held') continue;
      applied.set(key, outcome);
      if (outcome.kind === 'failed') {
        const [projectId, region] = key.split('/') as [string, string];
        this.deps.metrics.countFailure(projectId, region, outcome.reason);
      }
    }
    this.deps.store.apply(applied, this.now());
    this.deps.metrics.publishHealth(this.deps.store.health());
  }
}
