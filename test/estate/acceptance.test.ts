import { describe, expect, it } from 'vitest';
import { FakeClock, startClockedExporter } from '../helpers/clocked-exporter.js';
import { type Sample, samplesOf } from '../helpers/exposition.js';
import { perTestRig, startSimulator } from '../helpers/harness.js';
import { scrapeValid } from '../helpers/validity.js';

/*
 * Issue 11, "What it must show", against the simulator over real HTTP with the whole exporter:
 * 1. the three families agree with the simulator's estate by server_id and status, counted here from the simulator's
 *    records with the tables written out again (not with the exporter's enums), including negative and
 *    unknown phone codes, a phone total that changes mid-listing, and orphans on both sides of the join;
 * 2. a phone listing of P pages at concurrency >= P takes 2 round trips at the simulator, every limit in range;
 * 3. a 403 on one resource leaves the other two up and fresh, and cph_resource_up says which one failed.
 */

const P = 'a1100000000000000000000000000001';
const rig = perTestRig();

/** The tables. */
const SERVER_STATUS: Record<number, string> = { 0: 'creating', 1: 'creating', 3: 'creating', 4: 'creating', 2: 'abnormal', 5: 'running', 8: 'frozen', 10: 'shutdown', 11: 'shutting_down', 12: 'shutdown_failed', 13: 'starting' };
const PHONE_STATUS: Record<number, string> = {
  0: 'creating', 1: 'creating', 2: 'running', 3: 'resetting', 4: 'restarting', 6: 'frozen', 7: 'shutting_down', 8: 'shutdown',
  [-5]: 'reset_failed', [-6]: 'restart_failed', [-7]: 'abnormal', [-8]: 'creation_failed', [-9]: 'shutdown_failed',
};

const bySample = (samples: Sample[], ...labels: string[]): Map<string, number> => {
  const out = new Map<string, number>();
  for (const s of samples) {
    const key = labels.map((l) => s.labels[l]).join('/');
    out.set(key, (out.get(key) ?? 0) + s.value);
  }
  return out;
};

function count<T>(items: readonly T[], key: (t: T) => string): Map<string, number> {
  const out = new Map<string, number>();
  for (const item of items) out.set(key(item), (out.get(key(item)) ?? 0) + 1);
  return out;
}

describe('the estate, end to end against the simulator', () => {
  it('1. the three families agree with the estate by server_id and status, orphans and a mid-listing total change included', async () => {
    const sim = (rig.sim = await startSimulator({ seed: 31, projects: { [P]: { encodeServers: 600, cloudPhoneServers: 150, phones: 1500 } } }));
    const estate = sim.estate(P);
    expect(estate.orphans.encodeServersWithoutPhoneServer.length).toBeGreaterThan(0);
    expect(estate.orphans.phoneServersWithoutEncodeServer.length).toBeGreaterThan(0);
    // Phones created in front while the listing runs: the page at offset 800 is served after 11 new phones.
    sim.faults.set({ kind: 'shift', by: 11, operation: 'ListCloudPhones', projectId: P, offset: 800, count: 1 });
    const exporter = (rig.exporter = await startClockedExporter(sim, { targets: [{ projectId: P }], raw: { poll: { concurrency: 16 } } }));
    const { text } = await scrapeValid(exporter.url);

    expect(sim.stats.faultsInjectedOf('shift')).toBe(1);
    expect(samplesOf(text, 'cph_listing_disagreements_total').find((s) => s.labels['resource'] === 'phones')?.value).toBe(1);
    expect(bySample(samplesOf(text, 'cph_resource_up'), 'resource')).toEqual(new Map([['encode_servers', 1], ['phone_servers', 1], ['phones', 1]]));

    // Encode servers by server_id and status... (their own table is tested elsewhere; here the join matters).
    const fleet = sim.fleet(P).items;
    expect(bySample(samplesOf(text, 'cph_encode_servers'), 'server_id')).toEqual(count(fleet, (e) => e.server_id));
    // Phone servers by server_id and status.
    expect(bySample(samplesOf(text, 'cph_phone_servers'), 'server_id', 'status')).toEqual(count(estate.phoneServers, (s) => `${s.server_id}/${SERVER_STATUS[s.status] ?? 'unknown'}`));
    // Phones by server_id and status, as the estate is after the 11 phones were created.
    expect(estate.phones).toHaveLength(1511);
    const phones = bySample(samplesOf(text, 'cph_phones'), 'server_id', 'status');
    expect(phones).toEqual(count(estate.phones, (p) => `${p.server_id}/${PHONE_STATUS[p.status] ?? 'unknown'}`));
    const statuses = new Set([...phones.keys()].map((k) => k.split('/')[1]));
    for (const s of ['abnormal', 'reset_failed', 'restart_failed', 'creation_failed', 'shutdown_failed', 'unknown']) expect(statuses).toContain(s);

    // The join, on both sides.
    const encodeIds = new Set(samplesOf(text, 'cph_encode_servers').map((s) => s.labels['server_id']));
    const phoneServerIds = new Set(samplesOf(text, 'cph_phone_servers').map((s) => s.labels['server_id']));
    expect([...encodeIds].filter((id) => !phoneServerIds.has(id)).sort()).toEqual([...estate.orphans.encodeServersWithoutPhoneServer].sort());
    expect([...phoneServerIds].filter((id) => !encodeIds.has(id)).sort()).toEqual([...estate.orphans.phoneServersWithoutEncodeServer].sort());
    // cph_phone_info is off by default.
    expect(samplesOf(text, 'cph_phone_info')).toEqual([]);
  });

  it('2. a phone listing of P pages at concurrency >= P takes 2 round trips, every limit within the API range', async () => {
    // 2,000 phones: 10 pages of 200. Latency well above the spread of one round's arrivals, so depth counts round trips.
    const sim = (rig.sim = await startSimulator({ seed: 32, latencyMs: 150, projects: { [P]: { encodeServers: 20, cloudPhoneServers: 20, phones: 2000 } } }));
    rig.exporter = await startClockedExporter(sim, { targets: [{ projectId: P }], raw: { poll: { concurrency: 16 } } });
    expect(sim.stats.operation('ListCloudPhones')).toEqual({ requests: 10, maxDepth: 2, limits: ['200'] });
    expect(sim.stats.operation('ListCloudPhoneServers')).toMatchObject({ requests: 1, maxDepth: 1, limits: ['100'] });
    expect(sim.stats.responsesWithStatus(400)).toBe(0);
  });

  it('3. a 403 on the phones leaves the encode servers and phone servers up and fresh; cph_resource_up says which failed', async () => {
    const sim = (rig.sim = await startSimulator({ seed: 33, projects: { [P]: { encodeServers: 40, cloudPhoneServers: 8, phones: 64 } } }));
    const clock = new FakeClock();
    const exporter = (rig.exporter = await startClockedExporter(sim, {
      targets: [{ projectId: P }],
      raw: { poll: { schedule: '*/10 * * * * *', timeout: '4s', max_staleness: '30s', auth_failure_backoff: '1m' }, api: { request_timeout: '1s' } },
      clock,
    }));
    const view = async () => (await scrapeValid(exporter.url)).text;
    const before = await view();
    const phonesBefore = bySample(samplesOf(before, 'cph_phones'), 'server_id', 'status');

    // The key's policy loses cph:phones:list; meanwhile a phone server and an encode server change.
    sim.faults.set({ kind: 'forbidden', operation: 'ListCloudPhones' });
    const server = sim.estate(P).phoneServers[0]!;
    sim.estate(P).setPhoneServerStatus(server.server_id, 10);
    const encode = sim.fleet(P).items[0]!;
    sim.fleet(P).setStatus(encode.encode_server_id, 2);
    clock.advance(10_000);
    await exporter.poll();
    const text = await view();

    const up = bySample(samplesOf(text, 'cph_resource_up'), 'resource');
    expect(up).toEqual(new Map([['encode_servers', 1], ['phone_servers', 1], ['phones', 0]]));
    expect(samplesOf(text, 'cph_up')[0]?.value).toBe(0);
    expect(samplesOf(text, 'cph_poll_error').map((s) => [s.labels['resource'], s.labels['reason']])).toEqual([['phones', 'auth']]);
    expect(samplesOf(text, 'cph_poll_failures_total').filter((s) => s.value > 0).map((s) => [s.labels['resource'], s.labels['reason'], s.value])).toEqual([['phones', 'auth', 1]]);
    // Fresh: the other two resources show the changes made after the 403 appeared, with this poll's timestamp.
    expect(samplesOf(text, 'cph_phone_servers').find((s) => s.labels['server_id'] === server.server_id)?.labels['status']).toBe('shutdown');
    expect(samplesOf(text, 'cph_encode_server_info').find((s) => s.labels['encode_server_id'] === encode.encode_server_id)?.labels['status']).toBe('abnormal');
    const lastSuccess = bySample(samplesOf(text, 'cph_poll_last_success_timestamp_seconds'), 'resource');
    expect(lastSuccess.get('encode_servers')).toBe(clock.ms / 1000);
    expect(lastSuccess.get('phone_servers')).toBe(clock.ms / 1000);
    expect(lastSuccess.get('phones')).toBe((clock.ms - 10_000) / 1000);
    // The phones keep their last complete listing until max_staleness, and are not asked for again within the back-off.
    expect(bySample(samplesOf(text, 'cph_phones'), 'server_id', 'status')).toEqual(phonesBefore);
    sim.resetStats();
    clock.advance(10_000);
    await exporter.poll();
    expect(sim.stats.operation('ListCloudPhones').requests).toBe(0);
    expect(sim.stats.operation('ListEncodeServers').requests).toBeGreaterThan(0);
    clock.advance(30_000);
    await exporter.poll();
    const stale = await view();
    expect(samplesOf(stale, 'cph_phones')).toEqual([]);
    expect(samplesOf(stale, 'cph_phone_servers').length).toBeGreaterThan(0);
    expect(bySample(samplesOf(stale, 'cph_resource_up'), 'resource').get('encode_servers')).toBe(1);

    // The permission comes back: after the back-off the phones are listed again and everything is up.
    sim.faults.clear();
    clock.advance(60_000);
    await exporter.poll();
    const healed = await view();
    expect(samplesOf(healed, 'cph_up')[0]?.value).toBe(1);
    expect(bySample(samplesOf(healed, 'cph_phones'), 'server_id', 'status').size).toBeGreaterThan(0);
  });
});
