import type { Config, ResolvedConfig, Target, TargetSpec } from './config/load.js';
import { type ClientObserver, CphClient } from './cph/client.js';
import { KeyRing } from './credentials/accounts.js';
import { DEFAULT_KEY } from './credentials/keys.js';
import { ProjectDiscovery } from './discovery/projects.js';
import type { CredentialProvider } from './credentials/provider.js';
import type { Logger } from './log/logger.js';
import { estateFamilies } from './metrics/resources.js';
import { SelfMetrics, type TargetHealth } from './metrics/self.js';
import { Poller } from './poller/poll.js';
import { routeCronLogs, type Schedule, startSchedule } from './poller/schedule.js';
import { SnapshotStore } from './poller/store.js';
import { createApp } from './server/app.js';
import { BasicAuth } from './server/basic-auth.js';
import { type ListenAddress, listen, type RunningServer } from './server/listen.js';
import type { WebConfig } from './server/web-config.js';
import { REVISION, VERSION } from './version.js';

export interface ExporterOptions {
  config: Readonly<Config>;
  /** The top-level credentials (targets without `account`). */
  credentials: CredentialProvider;
  /** The keys of `accounts:`; built from the config (and `env`) when not given. */
  accounts?: KeyRing | undefined;
  env?: NodeJS.ProcessEnv | undefined;
  listen: ListenAddress;
  web?: WebConfig | undefined;
  /** Serves POST /-/reload with this (`--web.enable-lifecycle`). */
  reload?: (() => Promise<{ ok: true } | { ok: false; error: string }>) | undefined;
  log: Logger;
  /** Turn off the cron schedule (tests drive `poll()` themselves). */
  schedule?: boolean;
  processMetrics?: boolean;
  /** Wall clock in Unix ms (tests inject one to reach staleness and back-off deadlines without waiting). */
  now?: () => number;
  /** Set when this exporter is one shard of several: `config.targets` is already its share. */
  shard?: { index: number; count: number } | undefined;
}

export interface RunningExporter {
  url: string;
  server: RunningServer;
  store: SnapshotStore;
  metrics: SelfMetrics;
  /** Every polled target's health, as the gauges show it. */
  health(): TargetHealth[];
  /** Runs one poll now (or joins the running one). */
  poll(): Promise<void>;
  /** The first poll, started at start-up. */
  firstPoll: Promise<void>;
  /**
   * Takes a new, already validated configuration at the next poll (see `Poller.reconfigure`): targets,
   * accounts, schedule, poll, api and metrics settings. Returns what changed, for the log.
   */
  applyConfig(next: Readonly<Config>, credentials?: CredentialProvider): string[];
  stop(): Promise<void>;
}

/** Top-level sections that differ between two configurations (targets and accounts included). */
function changedSections(a: Readonly<Config>, b: Readonly<Config>): string[] {
  return (Object.keys(b) as Array<keyof Config>).filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
}

/** The API client as the configuration describes it. */
export function createClient(config: Readonly<Config>, observer?: ClientObserver): CphClient {
  return new CphClient({
    connectTimeoutMs: config.api.connectTimeoutMs,
    requestTimeoutMs: config.api.requestTimeoutMs,
    maxRetries: config.api.maxRetries,
    maxResponseBytes: config.api.maxResponseBytes,
    rateLimit: { requestsPerSecond: config.api.requestsPerSecond, burst: config.api.burst },
    connectionsPerEndpoint: config.poll.concurrency,
    userAgent: `cph-exporter/${VERSION}`,
    ...(observer ? { observer } : {}),
  });
}

/** Wires client, poller, store, metrics and HTTP server together and starts them. */
export async function startExporter(options: ExporterOptions): Promise<RunningExporter> {
  const { log } = options;
  let config = options.config;
  routeCronLogs(log);
  const metrics = new SelfMetrics(
    { version: VERSION, revision: REVISION },
    {
      processMetrics: options.processMetrics ?? true,
      ...(options.now ? { now: options.now } : {}),
      ...(options.shard ? { shard: { ...options.shard, targets: config.targets.length } } : {}),
    },
  );
  const store = new SnapshotStore({ withInfo: config.metrics.encodeServerInfo, estateFamilies: estateFamilies(config.resources, config.metrics.phoneInfo) });
  metrics.observeAccessPorts(() => store.resources.accessPorts.targets);
  let client = createClient(config, metrics.observer);
  /** The top-level key; a reload that changes `credentials:` brings a new one. */
  let topLevel = options.credentials;
  const keyRing = (c: Readonly<Config>): KeyRing =>
    new KeyRing(
      c,
      {
        ...(options.env ? { env: options.env } : {}),
        ...(options.now ? { now: options.now } : {}),
        onMetadataEvent: (account, e) => {
          if (e.kind === 'fetched') log.info({ account, expires_at: new Date(e.expiresAtMs).toISOString() }, 'temporary credentials fetched from the metadata service');
          else log.warn({ account, err: e.message, expires_at: new Date(e.expiresAtMs).toISOString() }, 'refreshing temporary credentials failed; using the current ones until they expire');
        },
      },
      topLevel,
    );
  let accounts = options.accounts ?? keyRing(config);
  const now = options.now ?? Date.now;
  const discovery = new ProjectDiscovery({
    client: () => client,
    provider: (key) => (key === DEFAULT_KEY ? topLevel : accounts.provider(key)),
    env: options.env ?? process.env,
    now,
    authBackoffMs: () => config.poll.authFailureBackoffMs,
    // The poller is created below; discovery first asks for a gate when a poll begins.
    gate: (key) => poller.keyGate(key),
  });
  /** The targets whose project is known now (configured or discovered before); one per (project, region). */
  const knownTargets = (results: ReadonlyArray<{ spec: TargetSpec; target?: Target | undefined }>): Target[] => {
    const seen = new Set<string>();
    return results.flatMap(({ target }) => {
      if (!target || seen.has(`${target.projectId}/${target.region}`)) return [];
      seen.add(`${target.projectId}/${target.region}`);
      return [target];
    });
  };
  const resolved = (targets: readonly Target[]): Readonly<ResolvedConfig> => ({ ...config, targets });
  let polled = knownTargets(config.targets.map((spec) => ({ spec, target: discovery.known(spec) })));
  const poller = new Poller({ config: resolved(polled), client, credentials: topLevel, accounts, store, metrics, log, now: options.now });
  const lastProblems = new Map<TargetSpec, string>();
  /** Discovers the projects not known yet; newly found ones are polled from this poll on. */
  const discover = async (): Promise<void> => {
    if (config.targets.every((t) => t.projectId !== undefined)) {
      metrics.publishDiscovery([]);
      return;
    }
    const results = await discovery.resolve(config.targets);
    const taken = new Map(results.flatMap((r, i) => (r.ok && !r.discovered ? [[`${r.target.projectId}/${r.target.region}`, i] as const] : [])));
    const outcome = results.map((r): { spec: TargetSpec; target?: Target; problem?: string } => {
      if (!r.ok) return { spec: r.spec, problem: r.problem };
      const clash = r.discovered ? taken.get(`${r.target.projectId}/${r.target.region}`) : undefined;
      if (clash !== undefined) return { spec: r.spec, problem: `discovered project ${r.target.projectId}, which targets[${clash}] names already` };
      return { spec: r.spec, target: r.target };
    });
    metrics.publishDiscovery(
      outcome.filter((o) => o.spec.projectId === undefined).map((o) => ({ account: o.spec.account ?? '', region: o.spec.region, up: o.problem === undefined })),
    );
    const idOf = (t: Target): string => `${t.account ?? ''}/${t.projectId}/${t.region}/${t.endpoint}`;
    const before = new Set(polled.map(idOf));
    for (const o of outcome) {
      if (o.spec.projectId !== undefined) continue;
      const fields = { account: o.spec.account, region: o.spec.region };
      if (o.problem !== undefined && lastProblems.get(o.spec) !== o.problem) log.error({ ...fields, err: o.problem }, 'project discovery failed; this target is not polled');
      if (o.target && !before.has(idOf(o.target))) log.info({ ...fields, project_id: o.target.projectId }, 'project discovered');
      if (o.problem === undefined) lastProblems.delete(o.spec);
      else lastProblems.set(o.spec, o.problem);
    }
    const next = knownTargets(outcome);
    if (next.length !== polled.length || next.some((t, i) => idOf(t) !== idOf(polled[i] as Target))) {
      polled = next;
      poller.reconfigure({ config: resolved(polled), client, credentials: topLevel, accounts });
    }
  };
  const pollNow = async (): Promise<void> => {
    await discover();
    await poller.poll();
  };
  const app = createApp({
    store,
    metrics,
    version: VERSION,
    basicAuth: options.web?.basicAuthUsers ? new BasicAuth(options.web.basicAuthUsers) : undefined,
    headers: options.web?.headers,
    reload: options.reload,
  });
  const server = await listen(app, options.listen, options.web);
  log.info({ url: server.url, targets: config.targets.length, schedule: config.poll.schedule, version: VERSION }, 'cph-exporter listening');

  if (config.targets.length === 0) log.warn(options.shard ? { shard: options.shard } : {}, 'no targets to poll');

  const firstPoll = pollNow();
  let schedule: Schedule | undefined;
  let stopped = false;
  let ticking = false;
  const startTicking = (): void => {
    if (!stopped) schedule = startSchedule(config.poll.schedule, pollNow);
    ticking = true;
  };
  if (options.schedule !== false) {
    // Only once the first poll has settled: a tick during it would just be skipped, counted and warned about.
    void firstPoll.then(startTicking, startTicking);
  }

  const applyConfig = (next: Readonly<Config>, credentials?: CredentialProvider): string[] => {
    const changed = changedSections(config, next);
    // The top-level files may have changed (`credentials:`): the caller read them with the new configuration.
    if (credentials) topLevel = credentials;
    const previous = config;
    config = next;
    if (changed.includes('accounts') || changed.includes('credentials') || changed.includes('targets')) accounts = keyRing(next);
    if (changed.includes('api') || previous.poll.concurrency !== next.poll.concurrency) {
      // A poll still running finishes its requests on the old client; it is closed once that poll is done.
      const old = client;
      client = createClient(next, metrics.observer);
      void poller.settled().then(() => old.close());
    }
    store.configure({ withInfo: next.metrics.encodeServerInfo, estateFamilies: estateFamilies(next.resources, next.metrics.phoneInfo) });
    // Targets whose project is known take effect at once; the others are discovered before the next poll.
    polled = knownTargets(next.targets.map((spec) => ({ spec, target: discovery.known(spec) })));
    poller.reconfigure({ config: resolved(polled), client, credentials: topLevel, accounts });
    if (ticking && previous.poll.schedule !== next.poll.schedule) {
      const old = schedule;
      schedule = undefined;
      void old?.stop();
      startTicking();
    }
    return changed;
  };

  let stopping: Promise<void> | undefined;
  return {
    url: server.url,
    server,
    store,
    metrics,
    health: () => poller.health(),
    poll: pollNow,
    firstPoll,
    applyConfig,
    stop: () => {
      stopped = true;
      stopping ??= (async () => {
        // Each step runs even if the one before it failed: an open server or client keeps the process alive.
        try {
          await schedule?.stop();
        } finally {
          try {
            await poller.stop();
          } finally {
            await Promise.all([server.close(), client.close()]);
          }
        }
      })();
      return stopping;
    },
  };
}
