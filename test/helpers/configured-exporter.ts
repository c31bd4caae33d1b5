/**
 * The exporter in-process from a configuration object written as in the YAML file (accounts and all), with the
 * cron schedule off and a fake wall clock; and a bare API client for tests that call the simulator directly.
 */
import { parseConfig } from '../../src/config/load.js';
import { CphClient } from '../../src/cph/client.js';
import { type RunningExporter, startExporter } from '../../src/exporter.js';
import { silentLogger } from '../../src/log/logger.js';
import type { FakeClock } from './clocked-exporter.js';
import { DEMO_CREDENTIALS } from './harness.js';

export async function startConfiguredExporter(raw: Record<string, unknown>, options: { env?: NodeJS.ProcessEnv; clock: FakeClock }): Promise<RunningExporter> {
  const exporter = await startExporter({
    config: parseConfig({ ...raw, poll: { schedule: '0 0 * * * *', ...(raw['poll'] as object | undefined) } }),
    // The top-level key, for targets without `account`.
    credentials: { get: () => DEMO_CREDENTIALS },
    ...(options.env ? { env: options.env } : {}),
    listen: { host: '127.0.0.1', port: 0 },
    log: silentLogger(),
    schedule: false,
    processMetrics: false,
    now: options.clock.now,
  });
  await exporter.firstPoll;
  return exporter;
}

/** A client without retries, for requests a test makes itself. */
export function testClient(rateLimit = { requestsPerSecond: 100, burst: 100 }): CphClient {
  return new CphClient({ connectTimeoutMs: 2000, requestTimeoutMs: 5000, maxRetries: 0, maxResponseBytes: 1 << 20, rateLimit, connectionsPerEndpoint: 4 });
}
