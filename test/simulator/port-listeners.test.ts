/** The simulator's real TCP listeners for access ports: opened by option and admin route, closed one by one and on stop. */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { EncodeServer } from '../../src/cph/types.js';
import { createSimulator, type Simulator } from '../../src/simulator/server.js';
import { call, listUrl, P1 } from './helpers.js';

/** Resolves to whether a TCP connection to 127.0.0.1:port is accepted. */
function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** One HTTP/1.1 request over a raw socket; resolves to the status line. */
function httpStatusLine(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    let data = '';
    socket.on('data', (c: Buffer) => (data += c.toString()));
    socket.on('end', () => resolve(data.split('\r\n')[0] ?? ''));
    socket.on('error', reject);
  });
}

/** A record with ADB on a private IP, in each field-set layout the fleet has. */
function pick(sim: Simulator, layout: 'both' | 'legacy' | 'new-only'): EncodeServer {
  return sim.fleet(P1).items.find((s) => {
    const adb = s.access_infos.find((p) => p.type === 'adb');
    if (!adb) return false;
    const has = (k: string): boolean => Object.hasOwn(adb, k);
    if (layout === 'legacy') return !has('public_ip') && adb.access_ip === adb.intranet_ip;
    if (layout === 'new-only') return has('public_ip') && !has('access_ip') && adb.public_ip === '';
    return has('public_ip') && has('access_ip') && adb.public_ip === '';
  })!;
}

let sim: Simulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

describe('simulator port listeners', () => {
  it('open: a listener per chosen port type, and the record lists it as public 127.0.0.1:port, in every field layout', async () => {
    sim = createSimulator({ projects: { [P1]: { encodeServers: 60, cloudPhoneServers: 6 } } });
    const base = await sim.listen(0, '127.0.0.1');
    for (const layout of ['both', 'legacy', 'new-only'] as const) {
      const rec = pick(sim, layout);
      const [opened] = await sim.listeners.open({ projectId: P1, encodeServerId: rec.encode_server_id, portTypes: ['adb'] });
      expect(opened).toMatchObject({ projectId: P1, encodeServerId: rec.encode_server_id, portType: 'adb', host: '127.0.0.1', open: true });
      const after = sim.fleet(P1).find(rec.encode_server_id)!;
      const adb = after.access_infos.find((p) => p.type === 'adb')!;
      expect(adb.access_port, layout).toBe(opened!.port);
      if (layout !== 'legacy') expect(adb.public_ip, layout).toBe('127.0.0.1');
      if (layout !== 'new-only') expect(adb.access_ip, layout).toBe('127.0.0.1');
      expect(Object.hasOwn(adb, 'public_ip'), `${layout}: no new field added to a legacy record`).toBe(layout !== 'legacy');
      // Other ports untouched.
      expect(after.access_infos.filter((p) => p.type !== 'adb')).toEqual(rec.access_infos.filter((p) => p.type !== 'adb'));
      expect(await connects(opened!.port), layout).toBe(true);
    }
    // The API serves the changed records.
    const listed = (await call(listUrl(base, P1, 'offset=0&limit=100'))).json.encode_servers as EncodeServer[];
    expect(listed.filter((s) => s.access_infos.some((p) => p.type === 'adb' && (p.public_ip ?? p.access_ip) === '127.0.0.1'))).toHaveLength(3);
  });

  it('answers an HTTP request with 200 (H5 probes) and counts connections', async () => {
    sim = createSimulator({ projects: { [P1]: { encodeServers: 30, cloudPhoneServers: 3 } } });
    await sim.listen(0, '127.0.0.1');
    const rec = sim.fleet(P1).items.find((s) => s.access_infos.some((p) => p.type === 'cph_h5_server'))!;
    const [h5] = await sim.listeners.open({ projectId: P1, encodeServerId: rec.encode_server_id, portTypes: ['cph_h5_server'] });
    expect(await httpStatusLine(h5!.port)).toBe('HTTP/1.1 200 OK');
    expect(sim.listeners.list()[0]!.connections).toBe(1);
  });

  it('close: the listener stops, the record keeps the address (a probe now fails); stop closes the rest', async () => {
    sim = createSimulator({ projects: { [P1]: { encodeServers: 30, cloudPhoneServers: 3 } } });
    await sim.listen(0, '127.0.0.1');
    const rec = sim.fleet(P1).items.find((s) => ['adb', 'vnc'].every((t) => s.access_infos.some((p) => p.type === t)))!;
    const opened = await sim.listeners.open({ projectId: P1, encodeServerId: rec.encode_server_id, portTypes: ['adb', 'vnc'] });
    const port = (t: string): number => opened.find((o) => o.portType === t)!.port;
    const recordBefore = sim.fleet(P1).find(rec.encode_server_id);

    expect(await sim.listeners.close({ portType: 'vnc' })).toBe(1);
    expect(await connects(port('vnc'))).toBe(false);
    expect(await connects(port('adb'))).toBe(true);
    expect(sim.fleet(P1).find(rec.encode_server_id)).toBe(recordBefore);
    expect(sim.listeners.list().map((l) => [l.portType, l.open])).toEqual([
      ['adb', true],
      ['vnc', false],
    ]);

    await sim.close();
    sim = undefined;
    expect(await connects(port('adb'))).toBe(false);
  });

  it('refuses an unknown encode server or port type, opening nothing', async () => {
    sim = createSimulator({ projects: { [P1]: { encodeServers: 30, cloudPhoneServers: 3 } } });
    await sim.listen(0, '127.0.0.1');
    await expect(sim.listeners.open({ projectId: P1, encodeServerId: 'f'.repeat(32) })).rejects.toThrow(/no encode server/);
    const rec = sim.fleet(P1).items.find((s) => s.access_infos.length > 0 && !s.access_infos.some((p) => p.type === 'cph_h5_server'))!;
    await expect(sim.listeners.open({ projectId: P1, encodeServerId: rec.encode_server_id, portTypes: ['cph_h5_server'] })).rejects.toThrow(/has no port of type/);
    expect(sim.listeners.list()).toEqual([]);
  });

  it('openPorts option: opened when the simulator starts listening', async () => {
    const probe = createSimulator({ projects: { [P1]: { encodeServers: 30, cloudPhoneServers: 3 } } });
    const id = probe.fleet(P1).items.find((s) => s.access_infos.length >= 2)!.encode_server_id;
    sim = createSimulator({ projects: { [P1]: { encodeServers: 30, cloudPhoneServers: 3 } }, openPorts: [{ projectId: P1, encodeServerId: id }] });
    expect(sim.listeners.list()).toEqual([]);
    await sim.listen(0, '127.0.0.1');
    const ports = sim.listeners.list();
    expect(ports.map((p) => p.portType).sort()).toEqual([...new Set(sim.fleet(P1).find(id)!.access_infos.map((p) => p.type))].sort());
    for (const p of ports) expect(await connects(p.port)).toBe(true);
  });

  it('admin routes: POST opens, GET lists, DELETE closes; errors are 400/404 with a reason', async () => {
    sim = createSimulator({ projects: { [P1]: { encodeServers: 30, cloudPhoneServers: 3 } } });
    const base = await sim.listen(0, '127.0.0.1');
    const rec = sim.fleet(P1).items.find((s) => s.access_infos.some((p) => p.type === 'adb'))!;
    const post = (body: unknown): Promise<Response> =>
      fetch(`${base}/_sim/listeners`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });

    const res = await post({ project_id: P1, encode_server_id: rec.encode_server_id, port_types: ['adb'] });
    expect(res.status).toBe(200);
    const { opened } = (await res.json()) as { opened: { port: number; portType: string }[] };
    expect(opened.map((o) => o.portType)).toEqual(['adb']);
    expect(await connects(opened[0]!.port)).toBe(true);

    const listed = (await (await fetch(`${base}/_sim/listeners`)).json()) as { listeners: { port: number; open: boolean }[] };
    expect(listed.listeners).toEqual([expect.objectContaining({ port: opened[0]!.port, open: true })]);

    const del = await fetch(`${base}/_sim/listeners?encode_server_id=${rec.encode_server_id}`, { method: 'DELETE' });
    expect(await del.json()).toEqual({ closed: 1 });
    expect(await connects(opened[0]!.port)).toBe(false);

    expect((await post({ project_id: P1 })).status).toBe(400);
    expect((await post({ project_id: P1, encode_server_id: rec.encode_server_id, port_types: 'adb' })).status).toBe(400);
    const unknown = await post({ project_id: P1, encode_server_id: 'f'.repeat(32) });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: string }).error).toMatch(/no encode server/);
    expect((await post({ project_id: 'nope', encode_server_id: rec.encode_server_id })).status).toBe(404);
  });
});
