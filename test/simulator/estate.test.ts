import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Estate, PHONE_SERVER_STATUSES, PHONE_STATUSES, UNDOCUMENTED_PHONE_SERVER_STATUS, UNDOCUMENTED_PHONE_STATUSES } from '../../src/simulator/estate.js';
import { createSimulator, type Simulator } from '../../src/simulator/server.js';
import { admin, call, P1, P2 } from './helpers.js';

/*
 * The simulator's ListCloudPhoneServers and ListCloudPhones over real HTTP: documented paging (count, each API's
 * limit range, CPS.0002), both status enums, churn during a listing, and an estate that agrees with the encode
 * servers on server_id except for a few orphans on both sides.
 */

let sim: Simulator;
let base: string;

beforeAll(async () => {
  sim = createSimulator({ projects: { [P1]: { encodeServers: 300, cloudPhoneServers: 120, phones: 1000 }, [P2]: { encodeServers: 2, cloudPhoneServers: 1 } } });
  base = await sim.listen(0);
});
afterAll(() => sim.close());

const get = (pid: string, path: string, query = '') => call(new URL(`${base}/v1/${pid}/cloud-phone/${path}${query ? `?${query}` : ''}`));

describe('the estate model', () => {
  it('agrees with the encode servers on server_id, except the orphans on both sides', () => {
    const fleetIds = new Set(sim.fleet(P1).items.map((e) => e.server_id));
    const estate = sim.estate(P1);
    const phoneServerIds = new Set(estate.phoneServers.map((s) => s.server_id));
    const missing = [...fleetIds].filter((id) => !phoneServerIds.has(id));
    const extra = [...phoneServerIds].filter((id) => !fleetIds.has(id));
    expect(missing.sort()).toEqual([...estate.orphans.encodeServersWithoutPhoneServer].sort());
    expect(extra.sort()).toEqual([...estate.orphans.phoneServersWithoutEncodeServer].sort());
    expect(missing.length).toBeGreaterThan(0);
    expect(extra.length).toBeGreaterThan(0);
    expect(missing.length).toBeLessThan(fleetIds.size / 20);
    // Every phone is on a phone server of the listing.
    expect(estate.phones.every((p) => phoneServerIds.has(p.server_id))).toBe(true);
  });

  it('holds every documented status and undocumented ones, negative phone codes included', () => {
    const estate = sim.estate(P1);
    const serverStatuses = new Set(estate.phoneServers.map((s) => s.status));
    for (const s of [...PHONE_SERVER_STATUSES, UNDOCUMENTED_PHONE_SERVER_STATUS]) expect(serverStatuses).toContain(s);
    const phoneStatuses = new Set(estate.phones.map((p) => p.status));
    for (const s of [...PHONE_STATUSES, ...UNDOCUMENTED_PHONE_STATUSES]) expect(phoneStatuses).toContain(s);
  });

  it('is deterministic for a seed', () => {
    const a = new Estate({ seed: 7, encodeServerIds: ['a', 'b', 'c', 'd'], phones: 20 });
    const b = new Estate({ seed: 7, encodeServerIds: ['a', 'b', 'c', 'd'], phones: 20 });
    expect(a.phones).toEqual(b.phones);
    expect(a.phoneServers).toEqual(b.phoneServers);
  });
});

describe('ListCloudPhones and ListCloudPhoneServers over HTTP', () => {
  it('pages with the total in count', async () => {
    const first = await get(P1, 'phones', 'offset=0&limit=200');
    expect(first.status).toBe(200);
    expect(first.json.count).toBe(1000);
    expect(first.json.phones).toHaveLength(200);
    const last = await get(P1, 'phones', 'offset=900&limit=200');
    expect(last.json.phones).toHaveLength(100);
    expect(last.json.phones.at(-1).phone_id).toBe(sim.estate(P1).phones.at(-1)?.phone_id);
    const servers = await get(P1, 'servers', 'offset=100&limit=100');
    expect(servers.json.count).toBe(sim.estate(P1).phoneServers.length);
    expect(servers.json.servers[0].server_id).toBe(sim.estate(P1).phoneServers[100]?.server_id);
    // The documented default of both APIs.
    expect((await get(P1, 'phones')).json.phones).toHaveLength(100);
  });

  it.each([
    ['phones', 'limit=201'],
    ['phones', 'limit=0'],
    ['servers', 'limit=101'],
    ['phones', 'offset=-1'],
    ['servers', 'offset=x'],
  ])('%s?%s is 400 CPS.0002, as on the real API', async (path, query) => {
    const r = await get(P1, path, query);
    expect(r.status).toBe(400);
    expect(r.json.error_code).toBe('CPS.0002');
  });

  it('filters by status (negative codes too) and server_id; an undocumented status filter is CPS.0010', async () => {
    const estate = sim.estate(P1);
    const abnormal = await get(P1, 'phones', 'status=-7&limit=200');
    expect(abnormal.json.count).toBe(estate.phones.filter((p) => p.status === -7).length);
    const sid = estate.phoneServers[0]?.server_id as string;
    const ofServer = await get(P1, 'phones', `server_id=${sid}&limit=200`);
    expect(ofServer.json.phones.every((p: { server_id: string }) => p.server_id === sid)).toBe(true);
    expect((await get(P1, 'phones', 'status=5')).json.error_code).toBe('CPS.0010');
  });

  it('a shift fault on ListCloudPhones changes the total while a listing runs, and leaves the other APIs alone', async () => {
    const before = sim.estate(P2).phones.length;
    sim.faults.set({ kind: 'shift', by: 3, operation: 'ListCloudPhones', projectId: P2, count: 1 });
    expect((await call(new URL(`${base}/v1/${P2}/cloud-phone/encode-servers`))).status).toBe(200);
    expect(sim.faults.list()).toHaveLength(1); // not used up by the encode-server request
    const r = await get(P2, 'phones');
    expect(r.json.count).toBe(before + 3);
    expect(sim.faults.list()).toHaveLength(0);
  });

  it('a forbidden fault can be scoped to one API', async () => {
    sim.faults.set({ kind: 'forbidden', operation: 'ListCloudPhones' });
    try {
      expect((await get(P2, 'phones')).status).toBe(403);
      expect((await get(P2, 'servers')).status).toBe(200);
      expect((await call(new URL(`${base}/v1/${P2}/cloud-phone/encode-servers`))).status).toBe(200);
    } finally {
      sim.faults.clear();
    }
  });

  it('rejects record-level faults for the counted APIs instead of ignoring them', () => {
    expect(() => sim.faults.set({ kind: 'wrong-types', operation: 'ListCloudPhones' })).toThrow(/ListEncodeServers only/);
  });

  it('counts requests, round trips and the limits sent per operation', async () => {
    sim.resetStats();
    // Latency well above the spread of one round's arrivals, so that depth counts round trips.
    sim.latencyMs = 100;
    try {
      await get(P1, 'phones', 'offset=0&limit=200');
      await Promise.all([200, 400, 600, 800].map((o) => get(P1, 'phones', `offset=${o}&limit=200`)));
      await get(P1, 'servers', 'limit=100');
    } finally {
      sim.latencyMs = 0;
    }
    expect(sim.stats.operation('ListCloudPhones')).toMatchObject({ requests: 5, maxDepth: 2, limits: ['200'] });
    expect(sim.stats.operation('ListCloudPhoneServers')).toMatchObject({ requests: 1, limits: ['100'] });
  });

  it('admin routes set every phone of a server failing, and show the orphans', async () => {
    const sid = sim.estate(P2).phoneServers[0]?.server_id as string;
    const r = await admin(base, 'POST', `/_sim/estate/${P2}/phone-status`, { server_id: sid, status: -7 });
    expect(r.json.changed).toBeGreaterThan(0);
    const view = await admin(base, 'GET', `/_sim/estate/${P2}`);
    expect(view.json.phones.filter((p: { server_id: string; status: number }) => p.server_id === sid).every((p: { status: number }) => p.status === -7)).toBe(true);
    expect(view.json.orphans).toEqual(sim.estate(P2).orphans);
    expect((await admin(base, 'POST', `/_sim/estate/${P2}/phone-server-status`, { server_id: 'nope', status: 2 })).status).toBe(404);
  });
});
