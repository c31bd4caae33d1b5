import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { HEALTH_FAMILIES as H } from './catalog.js';

/** prom-client default metrics that are gauges with a counter's suffix; see the constructor. */
export const REDUNDANT_TOTAL_GAUGES = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'] as const;

/** Health of one resource (`encode_servers`, `phone_servers`, `phones`) of a target as of the last poll. */
export interface ResourceHealth {
  resource: string;
  up: boolean;
  /** Unix ms of its last complete listing. */
  lastSuccessMs?: number | undefined;
  errorReason?: string | undefined;
}

/** Health of one target as of the last poll, as the poller publishes it. */
export interface TargetHealth {
  projectId: string;
  region: string;
  /** Every resource of the target completed. */
  up: boolean;
  lastDurationSeconds?: number | undefined;
  /** Every enabled resource, each up or failing on its own. */
  resources: readonly ResourceHealth[];
  /** Unix ms until which the target is in authentication back-off. */
  authBackoffUntilMs?: number | undefined;
}

export interface BuildInfo {
  version: string;
  revision: string;
}

/**
 * The exporter's own metrics, on a registry of our own (never prom-client's global one).
 * OpenMetrics is produced from its text by `toOpenMetrics`. Health gauges are set in one synchronous step per poll, and prom-client reads all of them
 * synchronously when rendering, so a scrape never sees half of one poll and half of another.
 */
export class SelfMetrics {
  readonly registry = new Registry();

  private readonly up: Gauge;
  private readonly resourceUp: Gauge;
  private readonly pollDuration: Gauge;
  private readonly lastSuccess: Gauge;
  private readonly failures: Counter;
  private readonly disagreements: Counter;
  private readonly error: Gauge;
  private readonly requests: Counter;
  private readonly cancelled: Counter;
  private readonly requestDuration: Histogram;
  private readonly retries: Counter;
  private readonly apiErrors: Counter;
  private readonly skipped: Counter;
  private readonly reloadSuccessful: Gauge;
  private readonly discoveryUp: Gauge;
  private readonly reloadSuccessTime: Gauge;
  private readonly clock: () => number;
  private health: readonly TargetHealth[] = [];
  private accessPorts: () => readonly { projectId: string; region: string; unaddressable: number }[] = () => [];

  constructor(
    build: BuildInfo,
    options: { processMetrics?: boolean; now?: () => number; shard?: { index: number; count: number; targets: number } } = {},
  ) {
    const registers = [this.registry];
    const now = options.now ?? Date.now;
    this.up = new Gauge({ ...H.up, registers });
    this.resourceUp = new Gauge({ ...H.resourceUp, registers });
    this.pollDuration = new Gauge({ ...H.pollDuration, registers });
    this.lastSuccess = new Gauge({ ...H.lastSuccess, registers });
    this.failures = new Counter({ ...H.failures, registers });
    this.disagreements = new Counter({ ...H.disagreements, registers });
    this.error = new Gauge({ ...H.error, registers });
    const self = this;
    new Gauge({
      ...H.authBackoff,
      registers,
      // Remaining time depends on when the scrape happens, so it is computed then.
      collect() {
        this.reset();
        for (const t of self.health) {
          const remaining = t.authBackoffUntilMs === undefined ? 0 : Math.max(0, (t.authBackoffUntilMs - now()) / 1000);
          this.set({ project_id: t.projectId, region: t.region }, Math.ceil(remaining));
        }
      },
    });
    new Gauge({
      ...H.accessPortsUnaddressable,
      registers,
      // Read from the publication a scrape sees, so that it always matches /sd/access-ports.
      collect() {
        this.reset();
        for (const t of self.accessPorts()) this.set({ project_id: t.projectId, region: t.region }, t.unaddressable);
      },
    });
    this.requests = new Counter({ ...H.apiRequests, registers });
    this.cancelled = new Counter({ ...H.apiRequestsCancelled, registers });
    this.requestDuration = new Histogram({
      ...H.apiRequestDuration,
      registers,
      buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    });
    this.retries = new Counter({ ...H.apiRetries, registers });
    this.apiErrors = new Counter({ ...H.apiErrors, registers });
    this.skipped = new Counter({ ...H.pollsSkipped, registers });
    this.clock = now;
    this.reloadSuccessful = new Gauge({ ...H.reloadSuccessful, registers });
    this.discoveryUp = new Gauge({ ...H.discoveryUp, registers });
    this.reloadSuccessTime = new Gauge({ ...H.reloadSuccessTime, registers });
    this.configLoaded(true);
    new Gauge({ ...H.buildInfo, registers }).set({ ...build, nodejs_version: process.version }, 1);
    if (options.shard) {
      new Gauge({ ...H.shardInfo, registers }).set({ shard_index: String(options.shard.index), shard_count: String(options.shard.count) }, 1);
      new Gauge({ ...H.shardTargets, registers }).set(options.shard.targets);
    }
    if (options.processMetrics !== false) {
      collectDefaultMetrics({ register: this.registry });
      // prom-client also serves these three as gauges named *_total, which `promtool check metrics` rejects
      // (a _total suffix promises a counter). Each is the sum of the per-type gauge beside it
      // (e.g. sum(nodejs_active_handles)), so nothing is lost by leaving them out.
      for (const name of REDUNDANT_TOTAL_GAUGES) this.registry.removeSingleMetric(name);
    }
  }

  /** The client's observer: request, retry and API error counts. */
  readonly observer = {
    request: (operation: string, code: string, seconds: number): void => {
      this.requests.inc({ operation, code });
      this.requestDuration.observe({ operation }, seconds);
    },
    cancelled: (operation: string, reason: string): void => {
      this.cancelled.inc({ operation, reason });
    },
    retry: (operation: string, reason: string): void => {
      this.retries.inc({ operation, reason });
    },
    apiError: (operation: string, errorCode: string): void => {
      this.apiErrors.inc({ operation, error_code: errorCode });
    },
  };

  /** Declares the series of a target so that counters start at 0 (an alert on increase() needs that). */
  declareTarget(projectId: string, region: string, resources: readonly string[], reasons: readonly string[]): void {
    for (const resource of resources) {
      for (const reason of reasons) this.failures.inc({ project_id: projectId, region, resource, reason }, 0);
      if (resource !== 'encode_servers') this.disagreements.inc({ project_id: projectId, region, resource }, 0);
    }
  }

  /** Removes a target's counters (it left the configuration): its series vanish from the next scrape. */
  forgetTarget(projectId: string, region: string, resources: readonly string[], reasons: readonly string[]): void {
    for (const resource of resources) {
      for (const reason of reasons) this.failures.remove({ project_id: projectId, region, resource, reason });
      if (resource !== 'encode_servers') this.disagreements.remove({ project_id: projectId, region, resource });
    }
  }

  /** A listing disagreed with its total (it is listed again). */
  countDisagreement(projectId: string, region: string, resource: string): void {
    this.disagreements.inc({ project_id: projectId, region, resource });
  }

  countFailure(projectId: string, region: string, resource: string, reason: string): void {
    this.failures.inc({ project_id: projectId, region, resource, reason });
  }

  /** Discovery outcome of every target without project_id, replacing the previous ones (`account` "" is the top-level key). */
  publishDiscovery(targets: ReadonlyArray<{ account: string; region: string; up: boolean }>): void {
    this.discoveryUp.reset();
    for (const t of targets) this.discoveryUp.set({ account: t.account, region: t.region }, t.up ? 1 : 0);
  }

  /** A configuration load (start-up or reload) succeeded or was rejected. */
  configLoaded(success: boolean): void {
    this.reloadSuccessful.set(success ? 1 : 0);
    if (success) this.reloadSuccessTime.set(Math.floor(this.clock() / 1000));
  }

  countSkippedPoll(): void {
    this.skipped.inc();
  }

  /** Replaces every target's health gauges in one synchronous step. */
  /** Where cph_access_ports_unaddressable reads its values: the current publication's access ports, per target. */
  observeAccessPorts(read: () => readonly { projectId: string; region: string; unaddressable: number }[]): void {
    this.accessPorts = read;
  }

  publishHealth(targets: readonly TargetHealth[]): void {
    this.health = targets;
    this.up.reset();
    this.resourceUp.reset();
    this.pollDuration.reset();
    this.lastSuccess.reset();
    this.error.reset();
    for (const t of targets) {
      const labels = { project_id: t.projectId, region: t.region };
      this.up.set(labels, t.up ? 1 : 0);
      if (t.lastDurationSeconds !== undefined) this.pollDuration.set(labels, t.lastDurationSeconds);
      for (const r of t.resources) {
        const resourceLabels = { ...labels, resource: r.resource };
        this.resourceUp.set(resourceLabels, r.up ? 1 : 0);
        if (r.lastSuccessMs !== undefined) this.lastSuccess.set(resourceLabels, r.lastSuccessMs / 1000);
        if (!r.up && r.errorReason) this.error.set({ ...resourceLabels, reason: r.errorReason }, 1);
      }
    }
  }
}
