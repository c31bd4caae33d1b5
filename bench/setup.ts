/** What the benchmark's children share: the project, the credentials and the exporter configuration. */
import { parseConfig, type ResolvedConfig, withConfiguredProjects } from '../src/config/load.js';
import type { ResourceName } from '../src/config/schema.js';
import type { Credentials } from '../src/cph/types.js';
import { DEMO_ACCESS_KEY, DEMO_SECRET_KEY } from '../src/simulator/demo-credentials.js';

export const BENCH_PROJECT = 'b0000000000000000000000000000001';
export const BENCH_REGION = 'cn-north-4';
export const BENCH_CREDENTIALS: Credentials = { accessKey: DEMO_ACCESS_KEY, secretKey: DEMO_SECRET_KEY };

export interface PollSettings {
  concurrency?: number | undefined;
  /** Client-side token bucket; omitted = the shipped default (20/s, burst 20). */
  requestsPerSecond?: number | undefined;
  burst?: number | undefined;
  maxPages?: number | undefined;
  /** What to list; default the encode servers only (issue 6's scenarios), the estate scenario lists all three. */
  resources?: readonly ResourceName[] | undefined;
  phoneInfo?: boolean | undefined;
}

/**
 * The configuration file the exporter would be given, through the same validation. The schedule
 * never fires (the benchmark calls `poll()` itself); the deadline is long enough for 200,000 servers.
 */
export function benchConfig(simUrl: string, settings: PollSettings = {}): Readonly<ResolvedConfig> {
  const api: Record<string, number> = {};
  if (settings.requestsPerSecond !== undefined) api.requests_per_second = settings.requestsPerSecond;
  if (settings.burst !== undefined) api.burst = settings.burst;
  const poll: Record<string, unknown> = { schedule: '0 0 0 1 1 *', timeout: '240s' };
  if (settings.concurrency !== undefined) poll.concurrency = settings.concurrency;
  if (settings.maxPages !== undefined) poll.max_pages = settings.maxPages;
  return withConfiguredProjects(parseConfig({
    targets: [{ project_id: BENCH_PROJECT, region: BENCH_REGION, endpoint: simUrl }],
    resources: settings.resources ?? ['encode_servers'],
    poll,
    api,
    ...(settings.phoneInfo !== undefined ? { metrics: { phone_info: settings.phoneInfo } } : {}),
  }));
}
