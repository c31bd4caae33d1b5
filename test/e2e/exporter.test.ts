import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EncodeServer } from '../../src/cph/types.js';
import type { RunningExporter } from '../../src/exporter.js';
import type { Simulator } from '../../src/simulator/server.js';
import { parseExposition, samplesOf, sumOf } from '../helpers/exposition.js';
import { DEMO_CREDENTIALS, scrape, startSimulator, startTestExporter } from '../helpers/harness.js';

/*
 * The exporter against the simulator over real HTTP. Expected values are computed here from
 * the simulator's fleet with the rules as the API document states them, independently of the
 * exporter's conversion code.
 */

// From ListEncodeServers.md: the response table, plus the request table's extra creating codes.
const EXPECTED_STATUS: Record<number, string> = { 1: 'running', 2: 'abnormal', 3: 'restarting', 0: 'creating', 4: 'creating', 5: 'creating', 100: 'creating', 1014: 'creating' };
const EXPECTED_TYPE: Record<number, string> = { 0: 'server', 1: 'container' };
const DOCUMENTED_PORTS = ['adb', 'vnc', 'cph_app_server', 'cph_h5_server'];

function expectedExposure(p: EncodeServer['access_infos'][number]): string {
  if ('public_ip' in p && p.public_ip !== undefined) return p.public_ip !== '' ? 'public' : 'private';
  if (!p.access_ip) return 'private';
  return p.access_ip === p.intranet_ip || p.access_ip === p.server_ip ? 'private' : 'public';
}

const P1 = 'a0000000000000000000000000000001';
const P2 = 'a0000000000000000000000000000002';

describe('exporter against the simulator', () => {
  let sim: Simulator;
  let exporter: RunningExporter;
  let text: string;

  beforeAll(async () => {
    sim = await startSimulator({
      seed: 7,
      projects: { [P1]: { encodeServers: 437, cloudPhoneServers: 40 }, [P2]: { encodeServers: 120, cloudPhoneServers: 12 } },
    });
    exporter = await startTestExporter(sim, [{ projectId: P1 }, { projectId: P2, region: 'ap-southeast-1' }], { poll: { concurrency: 4, page_size: 50 } });
    text = await scrape(exporter.url);
  });
  afterAll(async () => {
    await exporter?.stop();
    await sim?.close();
  });

  it('serves every metric family with HELP and TYPE', () => {
    const families = parseExposition(text);
    for (const name of [
      'cph_encode_servers',
      'cph_encode_server_ports',
      'cph_encode_server_info',
      'cph_up',
      'cph_poll_duration_seconds',
      'cph_poll_last_success_timestamp_seconds',
      'cph_poll_failures',
      'cph_api_requests',
      'cph_api_request_duration_seconds',
      'cph_build_info',
    ]) {
      const f = families.get(name) ?? families.get(`${name}_total`);
      expect(f, name).toBeDefined();
      expect(f?.help, name).toBeTruthy();
      expect(f?.samples.length, name).toBeGreaterThan(0);
    }
    expect(families.get('cph_encode_servers')?.help).toMatch(/as of the last successful poll/);
  });

  it.each([
    [P1, 'cn-north-4'],
    [P2, 'ap-southeast-1'],
  ])('counts of project %s agree with the fleet', (projectId, region) => {
    const fleet = sim.fleet(projectId).items;
    const servers = samplesOf(text, 'cph_encode_servers').filter((s) => s.labels['project_id'] === projectId);
    expect(sumOf(servers)).toBe(fleet.length);
    for (const s of servers) expect(s.labels['region']).toBe(region);

    const expected = new Map<string, number>();
    for (const e of fleet) {
      const key = `${e.server_id}|${EXPECTED_TYPE[e.type] ?? 'unknown'}|${EXPECTED_STATUS[e.status] ?? 'unknown'}`;
      expected.set(key, (expected.get(key) ?? 0) + 1);
    }
    const actual = new Map(servers.map((s) => [`${s.labels['server_id']}|${s.labels['type']}|${s.labels['status']}`, s.value]));
    expect(actual).toEqual(expected);

    const expectedPorts = new Map<string, number>();
    for (const e of fleet) {
      for (const p of e.access_infos) {
        const key = `${e.server_id}|${DOCUMENTED_PORTS.includes(p.type) ? p.type : 'custom'}|${expectedExposure(p)}`;
        expectedPorts.set(key, (expectedPorts.get(key) ?? 0) + 1);
      }
    }
    const ports = samplesOf(text, 'cph_encode_server_ports').filter((s) => s.labels['project_id'] === projectId);
    const actualPorts = new Map<string, number>();
    for (const s of ports) {
      const key = `${s.labels['server_id']}|${s.labels['port_type']}|${s.labels['exposure']}`;
      actualPorts.set(key, (actualPorts.get(key) ?? 0) + s.value);
    }
    expect(actualPorts).toEqual(expectedPorts);

    const info = samplesOf(text, 'cph_encode_server_info').filter((s) => s.labels['project_id'] === projectId);
    expect(info).toHaveLength(fleet.length);
    const byId = new Map(info.map((s) => [s.labels['encode_server_id'], s.labels]));
    for (const e of fleet) {
      expect(byId.get(e.encode_server_id)).toEqual({
        project_id: projectId,
        region,
        encode_server_id: e.encode_server_id,
        encode_server_name: e.encode_server_name,
        server_id: e.server_id,
        encode_server_ip: e.encode_server_ip,
        keypair_name: e.keypair_name,
        type: EXPECTED_TYPE[e.type] ?? 'unknown',
        status: EXPECTED_STATUS[e.status] ?? 'unknown',
        status_code: String(e.status),
      });
    }
  });

  it('the fleet has the variety the simulator promises (so the checks above mean something)', () => {
    const samples = samplesOf(text, 'cph_encode_server_info');
    expect(new Set(samples.map((s) => s.labels['status']))).toEqual(new Set(['running', 'abnormal', 'restarting', 'creating', 'unknown']));
    expect(new Set(samples.map((s) => s.labels['type']))).toEqual(new Set(['server', 'container']));
    const ports = samplesOf(text, 'cph_encode_server_ports');
    expect(new Set(ports.map((s) => s.labels['port_type']))).toEqual(new Set([...DOCUMENTED_PORTS, 'custom']));
    expect(new Set(ports.map((s) => s.labels['exposure']))).toEqual(new Set(['public', 'private']));
  });

  it('reports both targets up and ready', async () => {
    for (const s of samplesOf(text, 'cph_up')) expect(s.value).toBe(1);
    expect(samplesOf(text, 'cph_up')).toHaveLength(2);
    expect((await fetch(`${exporter.url}/readyz`)).status).toBe(200);
  });

  it('drops vanished encode servers at the next successful poll', async () => {
    const fleet = sim.fleet(P2);
    const victim = fleet.items[0] as EncodeServer;
    fleet.remove([victim.encode_server_id]);
    await exporter.poll();
    const after = await scrape(exporter.url);
    const info = samplesOf(after, 'cph_encode_server_info');
    expect(info.some((s) => s.labels['encode_server_id'] === victim.encode_server_id)).toBe(false);
    expect(sumOf(samplesOf(after, 'cph_encode_servers'), { project_id: P2 })).toBe(fleet.size);
  });
});

describe('authentication', () => {
  let sim: Simulator;
  let exporter: RunningExporter | undefined;
  beforeAll(async () => {
    sim = await startSimulator({ seed: 3, projects: { [P1]: { encodeServers: 30, cloudPhoneServers: 3 } } });
  });
  afterEach(async () => {
    await exporter?.stop();
    exporter = undefined;
  });
  afterAll(async () => {
    await sim?.close();
  });

  it('signs requests the simulator accepts', async () => {
    exporter = await startTestExporter(sim, [{ projectId: P1 }]);
    expect(sumOf(samplesOf(await scrape(exporter.url), 'cph_up'))).toBe(1);
  });

  it('a wrong SK gives 401 at the API and cph_up 0 for the target', async () => {
    sim.resetStats();
    const wrong = { ...DEMO_CREDENTIALS, secretKey: 'WRONGSECRETKEY0000000000000000000000000X' };
    exporter = await startTestExporter(sim, [{ projectId: P1 }], {}, { get: () => wrong });
    const text = await scrape(exporter.url);
    expect(sim.stats.responsesWithStatus(401)).toBe(1);
    expect(samplesOf(text, 'cph_up')[0]?.value).toBe(0);
    // One request reached the API (the target's first: the others waited for its answer and were not sent), and
    // every resource of the target failed with it.
    for (const resource of ['encode_servers', 'phone_servers', 'phones']) {
      expect(sumOf(samplesOf(text, 'cph_poll_failures_total'), { reason: 'auth', resource })).toBe(1);
    }
    expect(new Set(samplesOf(text, 'cph_poll_error').map((s) => s.labels['reason']))).toEqual(new Set(['auth']));
    expect(sumOf(samplesOf(text, 'cph_api_requests_total'), { code: '401' })).toBe(1);
    expect(samplesOf(text, 'cph_encode_servers')).toHaveLength(0);
  });
});

describe('paging against the simulator', () => {
  let sim: Simulator;
  afterAll(async () => {
    await sim?.close();
  });

  it.each([
    // [encode servers, page size, concurrency]
    [0, 100, 4],
    [100, 100, 4],
    [101, 100, 4],
    [2000, 100, 4],
    [2000, 100, 16],
    [950, 50, 8],
  ])('%i servers, page size %i, concurrency %i: complete, in-flight bounded, about ceil(P/c) round trips', async (n, pageSize, concurrency) => {
    // Depth counts causality: a round trip is only "parallel" if the next requests arrive while the earlier ones are
    // still being answered. 200 ms of latency leaves a loaded CI machine ample room to fan out a window of requests
    // (with 15 ms a busy machine measured depth 10 where 5 was right); a slow machine can only make depth larger,
    // never smaller, so the lower bound is exact and the upper one is the check that the window really fans out.
    sim = await startSimulator({ seed: 11, projects: { [P1]: { encodeServers: n, cloudPhoneServers: Math.max(1, n / 10) } }, latencyMs: 200 });
    // The encode servers alone: the project's round trips and requests are theirs (phones: test/estate/acceptance.test.ts).
    const exporter = await startTestExporter(sim, [{ projectId: P1 }], {
      poll: { concurrency, page_size: pageSize },
      api: { requests_per_second: 200, burst: 200 },
      resources: ['encode_servers'],
    });
    try {
      const text = await scrape(exporter.url);
      expect(sumOf(samplesOf(text, 'cph_encode_servers'))).toBe(n);
      const stats = sim.stats.project(P1);
      expect(stats.maxInFlight).toBeLessThanOrEqual(concurrency);
      // P pages, including the short (or empty) last one; consecutive pages overlap by one record.
      const pages = n < pageSize ? 1 : Math.floor((n - pageSize) / (pageSize - 1)) + 2;
      // The first page goes alone (it proves the key before fanning out), then the window.
      const ideal = 1 + Math.ceil((pages - 1) / concurrency);
      expect(stats.maxDepth).toBeGreaterThanOrEqual(Math.ceil(pages / concurrency));
      expect(stats.maxDepth).toBeLessThanOrEqual(ideal + 1);
      // Requests beyond the end are bounded by the window.
      expect(stats.requests).toBeLessThanOrEqual(pages + concurrency - 1);
    } finally {
      await exporter.stop();
      await sim.close();
    }
  });

  it('lists again when the listing shifts between two pages, and publishes the fleet after the change', async () => {
    sim = await startSimulator({ seed: 5, projects: { [P1]: { encodeServers: 500, cloudPhoneServers: 20 } } });
    const exporter = await startTestExporter(sim, [{ projectId: P1 }], { poll: { concurrency: 1, page_size: 100 } });
    try {
      // New records appear at the front while the second page (offset 99) is requested: its first record is
      // not the last of page 1 any more.
      sim.faults.set({ kind: 'shift', by: 7, offset: 99, count: 1 });
      await exporter.poll();
      const text = await scrape(exporter.url);
      const ids = samplesOf(text, 'cph_encode_server_info').map((s) => s.labels['encode_server_id']);
      expect(ids.sort()).toEqual(sim.fleet(P1).items.map((e) => e.encode_server_id).sort());
      expect(samplesOf(text, 'cph_up')[0]?.value).toBe(1);
    } finally {
      await exporter.stop();
      await sim.close();
    }
  });
});
