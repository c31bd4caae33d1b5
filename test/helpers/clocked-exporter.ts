/**
 * The exporter in-process against a simulator, with a fake wall clock (staleness and auth
 * back-off deadlines are reached by advancing it, not by waiting) and an optional log capture.
 * Polls are driven by the test (`exporter.poll()`); the cron schedule is off.
 */
import { Writable } from 'node:stream';
import { parseConfig } from '../../src/config/load.js';
import type { Credentials } from '../../src/cph/types.js';
import { type RunningExporter, startExporter } from '../../src/exporter.js';
import { createLogger, type Logger, silentLogger } from '../../src/log/logger.js';
import type { WebConfig } from '../../src/server/web-config.js';
import type { Simulator } from '../../src/simulator/server.js';
import { DEMO_CREDENTIALS, type HarnessTarget } from './harness.js';

export class FakeClock {
  constructor(public ms = Date.now()) {}
  readonly now = (): number => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

/** A debug-level logger whose JSON lines are kept in `lines`. */
export function captureLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      cb();
    },
  });
  return { log: createLogger('debug', stream), lines };
}

export interface ClockedExporterOptions {
  targets: HarnessTarget[];
  /** Merged into the config file's sections. */
  raw?: { poll?: Record<string, unknown>; api?: Record<string, unknown>; metrics?: Record<string, unknown>; resources?: readonly string[] };
  credentials?: { get(): Credentials };
  clock?: FakeClock;
  log?: Logger;
  web?: WebConfig;
  /** Every target's endpoint, instead of the simulator's (a server with its own faults). */
  endpoint?: string;
  /** Wait for the start-up poll (default true). */
  awaitFirstPoll?: boolean;
}

export async function startClockedExporter(sim: Simulator, options: ClockedExporterOptions): Promise<RunningExporter> {
  const raw = options.raw ?? {};
  const config = parseConfig({
    targets: options.targets.map((t) => ({ project_id: t.projectId, region: t.region ?? 'cn-north-4', endpoint: options.endpoint ?? sim.url })),
    poll: { schedule: '0 0 * * * *', ...raw.poll },
    api: { ...raw.api },
    ...(raw.metrics ? { metrics: raw.metrics } : {}),
    ...(raw.resources ? { resources: raw.resources } : {}),
  });
  const exporter = await startExporter({
    config,
    credentials: options.credentials ?? { get: () => DEMO_CREDENTIALS },
    listen: { host: '127.0.0.1', port: 0 },
    log: options.log ?? silentLogger(),
    schedule: false,
    processMetrics: false,
    web: options.web,
    now: options.clock?.now,
  });
  if (options.awaitFirstPoll !== false) await exporter.firstPoll;
  return exporter;
}
