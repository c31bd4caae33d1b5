import type { Config } from './config/load.js';
import { type ClientObserver, CphClient } from './cph/client.js';
import { KeyRing } from './credentials/accounts.js';
import type { CredentialProvider } from './credentials/provider.js';
import type { Logger } from './log/logger.js';
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
  stop(): Promise<void>;
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
  const { config, log } = options;
  routeCronLogs(log);
  const metrics = new SelfMetrics(
    { version: VERSION, revision: REVISION },
    {
      processMetrics: options.processMetrics ?? true,
      ...(options.now ? { now: options.now } : {}),
      ...(options.shard ? { shard: { ...options.shard, targets: config.targets.length } } : {}),
    },
  );
  const store = new SnapshotStore({ withInfo: config.metrics.encodeServerInfo });
  metrics.observeAccessPorts(() => store.resources.accessPorts.targets);
  const client = createClient(config, metrics.observer);
  const accounts =
    options.accounts ??
    new KeyRing(config, {
      ...(options.env ? { env: options.env } : {}),
      ...(options.now ? { now: options.now } : {}),
      onMetadataEvent: (account, e) => {
        if (e.kind === 'fetched') log.info({ account, expires_at: new Date(e.expiresAtMs).toISOString() }, 'temporary credentials fetched from the metadata service');
        else log.warn({ account, err: e.message, expires_at: new Date(e.expiresAtMs).toISOString() }, 'refreshing temporary credentials failed; using the current ones until they expire');
      },
    }, options.credentials);
  const poller = new Poller({ config, client, credentials: options.credentials, accounts, store, metrics, log, now: options.now });
  const app = createApp({
    store,
    metrics,
    version: VERSION,
    basicAuth: options.web?.basicAuthUsers ? new BasicAuth(options.web.basicAuthUsers) : undefined,
    headers: options.web?.headers,
  });
  const server = await listen(app, options.listen, options.web);
  log.info({ url: server.url, targets: config.targets.length, schedule: config.poll.schedule, version: VERSION }, 'cph-exporter listening');

  if (config.targets.length === 0) log.warn(options.shard ? { shard: options.shard } : {}, 'no targets to poll');

  const firstPoll = poller.poll();
  let schedule: Schedule | undefined;
  let stopped = false;
  if (options.schedule !== false) {
    // Only once the first poll has settled: a tick during it would just be skipped, counted and warned about.
    const startTicking = (): void => {
      if (!stopped) schedule = startSchedule(config.poll.schedule, () => poller.poll());
    };
    void firstPoll.then(startTicking, startTicking);
  }

  let stopping: Promise<void> | undefined;
  return {
    url: server.url,
    server,
    store,
    metrics,
    health: () => poller.health(),
    poll: () => poller.poll(),
    firstPoll,
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
