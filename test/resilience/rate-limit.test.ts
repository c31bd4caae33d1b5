import { afterEach, describe, expect, it } from 'vitest';
import type { RunningExporter } from '../../src/exporter.js';
import type { Simulator } from '../../src/simulator/server.js';
import { startClockedExporter } from '../helpers/clocked-exporter.js';
import { samplesOf, sumOf } from '../helpers/exposition.js';
import { startSimulator } from '../helpers/harness.js';
import { scrapeValid } from '../helpers/validity.js';

/*
 * The gateway allows 200 calls/s per API (NOTES.md §5). The simulator enforces that rate as a token
 * bucket whose burst is only 50 (much stricter than "200 in any second"), and a default-configured
 * exporter polls a fleet that takes almost two hundred requests. It must get no 429 at all: its own
 * token bucket (the api.requests_per_second and api.burst defaults, 50 and 50), shared by every
 * target on the endpoint, keeps it below. The control run, the same exporter without that pacing
 * and with a wide window, is throttled by a stricter gateway (20/s, burst 5) that no unpaced poll stays
 * under on any machine, so the first test passes because of the limiter, not because the machine is slow.
 */

const TARGETS = Array.from({ length: 6 }, (_, i) => `e00000000000000000000000000000${String(i + 1).padStart(2, '0')}`);
const GATEWAY = { requestsPerSecond: 200, burst: 50 };

let sim: Simulator | undefined;
let exporter: RunningExporter | undefined;
afterEach(async () => {
  await exporter?.stop();
  await sim?.close();
  exporter = undefined;
  sim = undefined;
});

async function run(api: Record<string, unknown>, poll: Record<string, unknown> = {}, gateway = GATEWAY): Promise<{ requests: number; throttled: number; seconds: number; text: string }> {
  sim = await startSimulator({
    seed: 8,
    // 6 projects x 1,500 encode servers, default page size 100: 16 pages each, 96 requests per poll.
    projects: Object.fromEntries(TARGETS.map((p) => [p, { encodeServers: 1500, cloudPhoneServers: 40 }])),
    rateLimit: gateway,
  });
  const started = performance.now();
  exporter = await startClockedExporter(sim, { targets: TARGETS.map((projectId) => ({ projectId })), raw: { api, poll, resources: ['encode_servers'] } });
  await exporter.poll(); // a second poll starts with the exporter's bucket already drained
  const seconds = (performance.now() - started) / 1000;
  const { text } = await scrapeValid(exporter.url);
  return { requests: sim.stats.totalRequests, throttled: sim.stats.responsesWithStatus(429), seconds, text };
}

describe('client-side rate limit against a gateway-like limit', () => {
  it('a default-configured exporter polling a large fleet gets no 429', async () => {
    const { requests, throttled, seconds, text } = await run({});
    expect(requests).toBeGreaterThanOrEqual(2 * TARGETS.length * 16);
    expect(throttled).toBe(0);
    expect(sumOf(samplesOf(text, 'cph_api_requests_total'), { code: '429' })).toBe(0);
    expect(sumOf(samplesOf(text, 'cph_api_retries_total'))).toBe(0);
    for (const s of samplesOf(text, 'cph_up')) expect(s.value).toBe(1);
    expect(sumOf(samplesOf(text, 'cph_encode_servers'))).toBe(TARGETS.length * 1500);
    // Paced by the default 50/s with a burst of 50, shared by all six targets on the endpoint.
    expect(requests).toBeLessThanOrEqual(50 + 50 * seconds + 1);
    console.info(`rate limit: ${requests} requests in ${seconds.toFixed(2)} s (${(requests / seconds).toFixed(1)}/s), ${throttled} throttled`);
  });

  it('control: without client-side pacing the same fleet is throttled', async () => {
    // A stricter gateway than above (20/s, burst 5), so that the control does not depend on how fast this
    // machine is: an unpaced poll of 96+ requests would have to take over 4 s to stay under it.
    const { throttled, requests, seconds } = await run({ requests_per_second: 200, burst: 1000, max_retries: 0 }, { concurrency: 64 }, { requestsPerSecond: 20, burst: 5 });
    console.info(`rate limit control: ${requests} requests in ${seconds.toFixed(2)} s, ${throttled} throttled`);
    expect(throttled).toBeGreaterThan(0);
  });
});
