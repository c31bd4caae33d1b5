/**
 * GET /sd/access-ports against the simulator's fleet, over real HTTP: the answer equals a count of the fleet's
 * ports made here, independently of src/ (the empty-public_ip and deprecated-field records on the right side,
 * ListEncodeServers.md contradiction 2), comes from the same publication as /metrics, keeps a failing target's
 * list until max_staleness and has nothing for a target that never completed a poll.
 */
import http from 'node:http';
import { gunzipSync } from 'node:zlib';
import bcrypt from 'bcryptjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AccessInfo, EncodeServer } from '../../src/cph/types.js';
import type { RunningExporter } from '../../src/exporter.js';
import type { Simulator } from '../../src/simulator/server.js';
import { FakeClock, startClockedExporter } from '../helpers/clocked-exporter.js';
import { parseExposition } from '../helpers/exposition.js';
import { scrape, startSimulator } from '../helpers/harness.js';
import { assertValidSdAnswer, type TargetGroup } from '../helpers/http-sd.js';

const P1 = { projectId: 'sd000000000000000000000000000001', region: 'cn-north-4' };
const P2 = { projectId: 'sd000000000000000000000000000002', region: 'ap-southeast-1' };
/** Not a project of the simulator: every poll of it is refused (403), so it never completes one. */
const NEVER = { projectId: 'sd0000000000000000000000000000ff', region: 'cn-east-3' };

// ---- the independent count ------------------------------------------------------------------------------------

/** The document's reading, written out again: a present public_ip decides; else access_ip counts only if it is not the intranet IP. */
function sideOf(p: AccessInfo): 'public' | 'private' {
  if (Object.hasOwn(p, 'public_ip') && p.public_ip !== undefined) return p.public_ip.length > 0 ? 'public' : 'private';
  if (!p.access_ip) return 'private';
  return p.access_ip === p.intranet_ip || p.access_ip === p.server_ip ? 'private' : 'public';
}
const STATUS: Record<number, string> = { 1: 'running', 2: 'abnormal', 3: 'restarting', 0: 'creating', 4: 'creating', 5: 'creating', 100: 'creating', 1014: 'creating' };
const DOCUMENTED = ['adb', 'vnc', 'cph_app_server', 'cph_h5_server'];

function expectedGroups(target: { projectId: string; region: string }, items: readonly EncodeServer[]): TargetGroup[] {
  return items.flatMap((s) =>
    s.access_infos.map((p) => {
      const side = sideOf(p);
      const address = side === 'public' ? `${p.public_ip || p.access_ip}:${p.access_port}` : `${p.server_ip ?? p.intranet_ip}:${p.listen_port}`;
      return {
        targets: [address],
        labels: {
          __meta_cph_project_id: target.projectId,
          __meta_cph_region: target.region,
          __meta_cph_encode_server_id: s.encode_server_id,
          __meta_cph_encode_server_name: s.encode_server_name,
          __meta_cph_server_id: s.server_id,
          __meta_cph_port_type: DOCUMENTED.includes(p.type) ? p.type : 'custom',
          __meta_cph_exposure: side,
          __meta_cph_listen_port: String(p.listen_port),
          __meta_cph_status: STATUS[s.status] ?? 'unknown',
        },
      };
    }),
  );
}

/** Order-free comparison: one string per group, sorted. */
const canon = (groups: TargetGroup[]): string[] =>
  groups.map((g) => JSON.stringify([g.targets, Object.entries(g.labels).sort(([a], [b]) => a.localeCompare(b))])).sort();

// ---- HTTP --------------------------------------------------------------------------------------------------------

async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      })
      .on('error', reject);
  });
}

async function sd(exporter: RunningExporter, query = ''): Promise<TargetGroup[]> {
  const res = await get(`${exporter.url}/sd/access-ports${query}`);
  expect(res.status, res.body.toString()).toBe(200);
  expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
  return assertValidSdAnswer(res.body.toString('utf8'));
}

let sim: Simulator;
let exporter: RunningExporter | undefined;

beforeAll(async () => {
  sim = await startSimulator({
    seed: 7,
    projects: { [P1.projectId]: { encodeServers: 240, cloudPhoneServers: 20 }, [P2.projectId]: { encodeServers: 60, cloudPhoneServers: 6 } },
  });
});
afterAll(async () => {
  await sim.close();
});
afterEach(async () => {
  await exporter?.stop();
  exporter = undefined;
  sim.faults.clear();
});

describe('GET /sd/access-ports', () => {
  it("equals an independent count of the fleet's public and private ports, with the documented labels", async () => {
    exporter = await startClockedExporter(sim, { targets: [P1, P2, NEVER] });
    const expected = [...expectedGroups(P1, sim.fleet(P1.projectId).items), ...expectedGroups(P2, sim.fleet(P2.projectId).items)];
    const isPublic = (g: TargetGroup): boolean => g.labels.__meta_cph_exposure === 'public';

    const all = await sd(exporter, '?exposure=all');
    expect(canon(all)).toEqual(canon(expected));
    expect(canon(await sd(exporter))).toEqual(canon(expected.filter(isPublic))); // public is the default
    expect(canon(await sd(exporter, '?exposure=private'))).toEqual(canon(expected.filter((g) => !isPublic(g))));

    // The fleet has the records contradiction 2 is about, on both sides: legacy-only public and private ports,
    // and ports whose access_ip is set while public_ip is empty.
    const ports = [P1, P2].flatMap((t) => sim.fleet(t.projectId).items.flatMap((s) => s.access_infos));
    const legacy = ports.filter((p) => !Object.hasOwn(p, 'public_ip'));
    expect(legacy.filter((p) => sideOf(p) === 'public').length).toBeGreaterThan(0);
    expect(legacy.filter((p) => sideOf(p) === 'private').length).toBeGreaterThan(0);
    expect(ports.filter((p) => p.public_ip === '' && p.access_ip).length).toBeGreaterThan(0);

    // The target that never completed a poll contributes nothing.
    expect(all.some((g) => g.labels.__meta_cph_project_id === NEVER.projectId)).toBe(false);

    // Same publication as /metrics: its port counts by exposure agree.
    const families = parseExposition(await scrape(exporter.url));
    const portSamples = families.get('cph_encode_server_ports')!.samples;
    for (const side of ['public', 'private']) {
      const counted = portSamples.filter((s) => s.labels.exposure === side).reduce((n, s) => n + s.value, 0);
      expect(all.filter((g) => g.labels.__meta_cph_exposure === side), side).toHaveLength(counted);
    }
  });

  it('filters by port_type (repeatable), project_id and region; rejects a bad query with 400', async () => {
    exporter = await startClockedExporter(sim, { targets: [P1, P2] });
    const expected = [...expectedGroups(P1, sim.fleet(P1.projectId).items), ...expectedGroups(P2, sim.fleet(P2.projectId).items)];
    const pick = (f: (l: Record<string, string>) => boolean): string[] => canon(expected.filter((g) => f(g.labels)));

    const adbVnc = await sd(exporter, '?port_type=adb&port_type=vnc');
    expect(adbVnc.length).toBeGreaterThan(0);
    expect(canon(adbVnc)).toEqual(pick((l) => l.__meta_cph_exposure === 'public' && ['adb', 'vnc'].includes(l.__meta_cph_port_type!)));
    expect(canon(await sd(exporter, `?exposure=all&project_id=${P2.projectId}`))).toEqual(pick((l) => l.__meta_cph_project_id === P2.projectId));
    expect(canon(await sd(exporter, `?region=${P1.region}&port_type=cph_h5_server`))).toEqual(
      pick((l) => l.__meta_cph_region === P1.region && l.__meta_cph_port_type === 'cph_h5_server' && l.__meta_cph_exposure === 'public'),
    );

    const bad = await get(`${exporter.url}/sd/access-ports?port_type=telnet`);
    expect(bad.status).toBe(400);
    expect(bad.body.toString()).toMatch(/port_type must be one of/);
  });

  it('is gzip-compressed when asked, the same bytes', async () => {
    exporter = await startClockedExporter(sim, { targets: [P1, P2] });
    const plain = await get(`${exporter.url}/sd/access-ports?exposure=all`, { 'Accept-Encoding': 'identity' });
    const gz = await get(`${exporter.url}/sd/access-ports?exposure=all`, { 'Accept-Encoding': 'gzip' });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.body.length).toBeLessThan(plain.body.length / 4);
    expect(gunzipSync(gz.body).equals(plain.body)).toBe(true);
    expect(Number(plain.headers['content-length'])).toBe(plain.body.length);
    const head = await fetch(`${exporter.url}/sd/access-ports?exposure=all`, { method: 'HEAD', headers: { 'Accept-Encoding': 'identity' } });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBe(plain.body.length);
  });

  it('serves the last publication: a fleet change shows after the next poll, not before', async () => {
    exporter = await startClockedExporter(sim, { targets: [P1] });
    const rec = sim.fleet(P1.projectId).items.find((s) => s.access_infos.some((p) => p.type === 'adb' && sideOf(p) === 'private'))!;
    const adbOf = (groups: TargetGroup[]): TargetGroup[] =>
      groups.filter((g) => g.labels.__meta_cph_encode_server_id === rec.encode_server_id && g.labels.__meta_cph_port_type === 'adb');
    sim.fleet(P1.projectId).setPublicIp(rec.encode_server_id, 'adb', '198.51.100.200');
    try {
      expect(adbOf(await sd(exporter))).toEqual([]);
      await exporter.poll();
      const after = adbOf(await sd(exporter));
      expect(after.map((g) => g.targets[0]!.split(':')[0])).toEqual(['198.51.100.200']);
    } finally {
      sim.fleet(P1.projectId).setPublicIp(rec.encode_server_id, 'adb', null);
    }
  });

  it("keeps a failing target's list until max_staleness, like its series; then drops only that target", async () => {
    const clock = new FakeClock();
    exporter = await startClockedExporter(sim, { targets: [P1, P2], clock, raw: { poll: { schedule: '0 * * * * *', max_staleness: '5m' } } });
    const byProject = async (): Promise<Record<string, number>> => {
      const counts: Record<string, number> = {};
      for (const g of await sd(exporter!, '?exposure=all')) counts[g.labels.__meta_cph_project_id!] = (counts[g.labels.__meta_cph_project_id!] ?? 0) + 1;
      return counts;
    };
    const before = await byProject();
    expect(Object.keys(before).sort()).toEqual([P1.projectId, P2.projectId]);

    sim.faults.set({ kind: 'malformed-json', projectId: P2.projectId });
    clock.advance(4 * 60_000);
    await exporter.poll();
    expect(await byProject()).toEqual(before); // failing, within max_staleness: unchanged

    clock.advance(2 * 60_000);
    await exporter.poll();
    expect(await byProject()).toEqual({ [P1.projectId]: before[P1.projectId] }); // stale: gone, P1 untouched
    // Its encode-server series go with it (its phone servers and phones, listed fine, stay).
    expect((await scrape(exporter.url)).includes(`cph_encode_servers{project_id="${P2.projectId}"`)).toBe(false);
  });

  it('leaves out a port without a usable address and counts it in cph_access_ports_unaddressable', async () => {
    exporter = await startClockedExporter(sim, { targets: [P1, P2] });
    const unaddressable = async (): Promise<Record<string, number>> =>
      Object.fromEntries(
        parseExposition(await scrape(exporter!.url))
          .get('cph_access_ports_unaddressable')!
          .samples.map((s) => [s.labels.project_id!, s.value]),
      );
    expect(await unaddressable()).toEqual({ [P1.projectId]: 0, [P2.projectId]: 0 });
    const fleet = sim.fleet(P1.projectId);
    const rec = fleet.items.find((s) => s.access_infos.some((p) => p.type === 'adb' && sideOf(p) === 'public'))!;
    const before = (await sd(exporter, '?port_type=adb')).length;
    fleet.replace(rec.encode_server_id, {
      ...rec,
      access_infos: rec.access_infos.map((p) => (p.type === 'adb' ? { ...p, access_port: undefined } : p)),
    });
    try {
      await exporter.poll();
      expect(await unaddressable()).toEqual({ [P1.projectId]: rec.access_infos.filter((p) => p.type === 'adb').length, [P2.projectId]: 0 });
      expect((await sd(exporter, '?port_type=adb')).length).toBe(before - rec.access_infos.filter((p) => p.type === 'adb').length);
      // The inventory still counts it.
      const ports = parseExposition(await scrape(exporter.url)).get('cph_encode_server_ports')!.samples;
      expect(ports.some((p) => p.labels.server_id === rec.server_id && p.labels.port_type === 'adb' && p.labels.exposure === 'public')).toBe(true);
    } finally {
      fleet.replace(rec.encode_server_id, rec);
    }
  });

  it('needs the same basic auth as /metrics; refuses an unauthenticated request', async () => {
    const hash = bcrypt.hashSync('sd-secret', 4);
    exporter = await startClockedExporter(sim, { targets: [P1], web: { basicAuthUsers: { prometheus: hash } } });
    const none = await get(`${exporter.url}/sd/access-ports`);
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/^Basic/);
    expect(none.body.toString()).not.toContain('__meta_cph');
    const wrong = await get(`${exporter.url}/sd/access-ports`, { Authorization: `Basic ${Buffer.from('prometheus:nope').toString('base64')}` });
    expect(wrong.status).toBe(401);
    const right = await get(`${exporter.url}/sd/access-ports`, { Authorization: `Basic ${Buffer.from('prometheus:sd-secret').toString('base64')}` });
    expect(right.status).toBe(200);
    expect(assertValidSdAnswer(right.body.toString()).length).toBeGreaterThan(0);
  });
});
