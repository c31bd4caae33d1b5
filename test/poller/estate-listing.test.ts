import pLimit from 'p-limit';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ListApi } from '../../src/cph/apis.js';
import { CphClient } from '../../src/cph/client.js';
import type { PageQuery } from '../../src/cph/types.js';
import { familyChunks } from '../../src/metrics/resources.js';
import { listPhoneServers, listPhones } from '../../src/poller/estate.js';
import { DEMO_ACCESS_KEY, DEMO_SECRET_KEY } from '../../src/simulator/demo-credentials.js';
import { createSimulator, type Simulator } from '../../src/simulator/server.js';
import { samplesOf } from '../helpers/exposition.js';

/*
 * The exporter's listings of phone servers and phones against the simulator over real HTTP: the series agree with
 * the simulator's estate, counted here from its records (not with the conversion code), whatever the status codes
 * and while the total changes; a listing of P pages costs 2 round trips when concurrency allows; every `limit` is in
 * the API's range.
 */

const PID = 'e0000000000000000000000000000001';
const TARGET = { projectId: PID, region: 'cn-north-4', endpoint: '' };
const CREDS = { accessKey: DEMO_ACCESS_KEY, secretKey: DEMO_SECRET_KEY };

let sim: Simulator;
let client: CphClient;

beforeAll(async () => {
  sim = createSimulator({ projects: { [PID]: { encodeServers: 400, cloudPhoneServers: 150, phones: 2000 } } });
  TARGET.endpoint = await sim.listen(0);
  client = new CphClient({
    connectTimeoutMs: 2000,
    requestTimeoutMs: 10_000,
    maxRetries: 0,
    maxResponseBytes: 8 << 20,
    rateLimit: { requestsPerSecond: 1000, burst: 1000 },
    connectionsPerEndpoint: 16,
  });
});
afterAll(async () => {
  await client.close();
  await sim.close();
});
beforeEach(() => {
  sim.faults.clear();
  sim.resetStats();
});

function context(concurrency = 16) {
  const limit = pLimit(concurrency);
  const shifts: unknown[] = [];
  return {
    shifts,
    ctx: {
      target: TARGET,
      maxPages: 1000,
      send: <R>(api: ListApi<R>, query: PageQuery, signal: AbortSignal) =>
        limit(async () => (await client.list(api, TARGET, { ...query }, { credentials: () => CREDS, signal })).response),
      onShift: (e: unknown) => shifts.push(e),
    },
  };
}

const text = (chunks: Buffer[]): string => Buffer.concat(chunks).toString('utf8');

/** Phones per (server_id, status label), from the simulator's own records and the table. */
function expectedPhones(): Map<string, number> {
  const table: Record<number, string> = { 0: 'creating', 1: 'creating', 2: 'running', 3: 'resetting', 4: 'restarting', 6: 'frozen', 7: 'shutting_down', 8: 'shutdown', [-5]: 'reset_failed', [-6]: 'restart_failed', [-7]: 'abnormal', [-8]: 'creation_failed', [-9]: 'shutdown_failed' };
  const out = new Map<string, number>();
  for (const p of sim.estate(PID).phones) {
    const key = `${p.server_id}/${table[p.status] ?? 'unknown'}`;
    out.set(key, (out.get(key) ?? 0) + 1);
  }
  return out;
}

function publishedPhones(exposition: string): Map<string, number> {
  return new Map(samplesOf(exposition, 'cph_phones').map((s) => [`${s.labels['server_id']}/${s.labels['status']}`, s.value]));
}

describe('listing the estate against the simulator', () => {
  it('phones: cph_phones equals the estate by server_id and status, negative and unknown codes included', async () => {
    const { ctx } = context();
    const listing = await listPhones(ctx, false);
    const published = publishedPhones(text(familyChunks([listing.series], ['phones'])));
    expect(published).toEqual(expectedPhones());
    const statuses = new Set([...published.keys()].map((k) => k.split('/')[1]));
    for (const s of ['abnormal', 'creation_failed', 'shutdown_failed', 'reset_failed', 'restart_failed', 'unknown']) expect(statuses).toContain(s);
  });

  it('phones: a total that changes mid-listing is listed again, and the result is the estate after the change', async () => {
    // Phones created while the listing runs: before the page at offset 1000 is served.
    sim.faults.set({ kind: 'shift', by: 7, operation: 'ListCloudPhones', offset: 1000, count: 1 });
    const { ctx, shifts } = context();
    const listing = await listPhones(ctx, false);
    expect(shifts).toHaveLength(1);
    expect(listing.attempts).toBe(2);
    expect(publishedPhones(text(familyChunks([listing.series], ['phones'])))).toEqual(expectedPhones());
  });

  it('phones: a total that keeps changing fails as inconsistent after two listings, never looping', async () => {
    sim.faults.set({ kind: 'shift', by: -1, operation: 'ListCloudPhones', offset: 200 });
    const { ctx, shifts } = context();
    const pages = Math.ceil(sim.estate(PID).phones.length / 200);
    await expect(listPhones(ctx, false)).rejects.toMatchObject({ code: 'CPH_INCONSISTENT' });
    expect(shifts).toHaveLength(2);
    // Each listing requests the pages its first page's total asks for, nothing more.
    expect(sim.stats.operation('ListCloudPhones').requests).toBeLessThanOrEqual(2 * pages);
  });

  it('phones: P pages with concurrency c >= P take 2 round trips, all at limit 200', async () => {
    sim.latencyMs = 150; // well above the spread of one round's arrivals, so that depth counts round trips
    try {
      const pages = Math.ceil(sim.estate(PID).phones.length / 200);
      expect(pages).toBeGreaterThan(8);
      const { ctx } = context(16);
      const listing = await listPhones(ctx, false);
      expect(listing.pages).toBe(pages);
      expect(sim.stats.operation('ListCloudPhones')).toEqual({ requests: pages, maxDepth: 2, limits: ['200'] });
      expect(sim.stats.responsesWithStatus(400)).toBe(0);
    } finally {
      sim.latencyMs = 0;
    }
  });

  it('phone servers: one series each with the status of the table, at limit 100', async () => {
    const { ctx } = context();
    const listing = await listPhoneServers(ctx);
    const exposition = text(familyChunks([listing.series], ['phoneServers', 'phoneServerInfo']));
    const table: Record<number, string> = { 0: 'creating', 1: 'creating', 3: 'creating', 4: 'creating', 2: 'abnormal', 5: 'running', 8: 'frozen', 10: 'shutdown', 11: 'shutting_down', 12: 'shutdown_failed', 13: 'starting' };
    const expected = new Map(sim.estate(PID).phoneServers.map((s) => [s.server_id, table[s.status] ?? 'unknown']));
    expect(new Map(samplesOf(exposition, 'cph_phone_servers').map((s) => [s.labels['server_id'], s.labels['status']]))).toEqual(expected);
    expect(new Map(samplesOf(exposition, 'cph_phone_server_info').map((s) => [s.labels['server_id'], s.labels['status_code']]))).toEqual(
      new Map(sim.estate(PID).phoneServers.map((s) => [s.server_id, String(s.status)])),
    );
    expect(sim.stats.operation('ListCloudPhoneServers').limits).toEqual(['100']);
  });
});
