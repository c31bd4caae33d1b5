import { describe, expect, it } from 'vitest';
import type { EncodeServer } from '../../src/cph/types.js';
import {
  DOCUMENTED_PORT_TYPES,
  DOCUMENTED_STATUSES,
  FULL_VARIETY_MIN_SIZE,
  Fleet,
  UNDOCUMENTED_STATUS,
  generateFleet,
  mulberry32,
} from '../../src/simulator/fleet.js';

const ports = (f: EncodeServer[]) => f.flatMap((r) => r.access_infos.map((p) => ({ r, p })));
const isLegacy = (r: EncodeServer) =>
  r.access_infos.length > 0 && r.access_infos.every((p) => !('public_ip' in p) && !('server_ip' in p) && 'access_ip' in p && 'intranet_ip' in p);

function checkVariety(fleet: EncodeServer[]): void {
  const types = new Set(fleet.map((r) => r.type));
  expect(types).toEqual(new Set([0, 1]));
  const statuses = new Set(fleet.map((r) => r.status));
  for (const s of [...DOCUMENTED_STATUSES, UNDOCUMENTED_STATUS]) expect(statuses, `status ${s}`).toContain(s);

  const all = ports(fleet);
  const portTypes = new Set(all.map(({ p }) => p.type));
  for (const t of [...DOCUMENTED_PORT_TYPES, 'port1', 'custom_rtc']) expect(portTypes, `port type ${t}`).toContain(t);

  // New fields: public and private ports.
  expect(all.some(({ p }) => typeof p.public_ip === 'string' && p.public_ip !== '')).toBe(true);
  expect(all.some(({ p }) => p.public_ip === '')).toBe(true);
  // Both field sets like the example: access_ip repeating the private IP beside an empty public_ip.
  expect(all.some(({ p }) => p.public_ip === '' && p.access_ip !== undefined && p.access_ip === p.server_ip)).toBe(true);
  // Legacy records: only deprecated fields, some public (access_ip != intranet_ip), some private.
  const legacyPorts = fleet.filter(isLegacy).flatMap((r) => r.access_infos);
  expect(legacyPorts.some((p) => p.access_ip !== p.intranet_ip)).toBe(true);
  expect(legacyPorts.some((p) => p.access_ip === p.intranet_ip)).toBe(true);
  // New-only records exist too.
  expect(fleet.some((r) => r.access_infos.length > 0 && r.access_infos.every((p) => !('access_ip' in p) && 'public_ip' in p))).toBe(true);
}

describe('generateFleet', () => {
  it('is deterministic for a seed and differs between seeds', () => {
    const a = generateFleet({ seed: 42, encodeServers: 300, cloudPhoneServers: 30 });
    const b = generateFleet({ seed: 42, encodeServers: 300, cloudPhoneServers: 30 });
    const c = generateFleet({ seed: 43, encodeServers: 300, cloudPhoneServers: 30 });
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
    expect(a).toHaveLength(300);
  });

  it('contains all the variety for a fixed seed', () => {
    checkVariety(generateFleet({ seed: 1, encodeServers: 50, cloudPhoneServers: 5 }));
  });

  it('contains all the variety for many seeds and sizes', () => {
    for (let seed = 0; seed < 30; seed++) {
      for (const n of [FULL_VARIETY_MIN_SIZE, 13, 23, 50, 51, 97, 500]) checkVariety(generateFleet({ seed, encodeServers: n, cloudPhoneServers: 7 }));
    }
  });

  it('has well-formed ids, names and addresses', () => {
    const fleet = generateFleet({ seed: 7, encodeServers: 1200, cloudPhoneServers: 40 });
    expect(new Set(fleet.map((r) => r.encode_server_id)).size).toBe(1200);
    expect(new Set(fleet.map((r) => r.encode_server_ip)).size).toBe(1200);
    expect(new Set(fleet.map((r) => r.server_id)).size).toBe(40);
    for (const [i, r] of fleet.entries()) {
      expect(r.encode_server_id).toMatch(/^[0-9a-f]{32}$/);
      expect(r.server_id).toMatch(/^[0-9a-f]{32}$/);
      expect(r.encode_server_name).toBe(`encode-server-${String(i + 1).padStart(4, '0')}`);
      expect(r.encode_server_ip).toMatch(/^10\.\d+\.\d+\.\d+$/);
      expect(Object.keys(r)).toEqual([
        'encode_server_name',
        'encode_server_id',
        'encode_server_ip',
        'server_id',
        'keypair_name',
        'type',
        'status',
        'access_infos',
      ]);
      for (const p of r.access_infos) {
        expect(Number.isInteger(p.listen_port)).toBe(true);
        expect(Number.isInteger(p.access_port)).toBe(true);
        const pub = p.public_ip !== undefined ? p.public_ip : p.access_ip !== p.intranet_ip ? p.access_ip : '';
        if (pub) expect(pub).toMatch(/^(192\.0\.2|198\.51\.100|203\.0\.113)\.\d+$/);
        expect(p.server_ip ?? p.intranet_ip).toMatch(/^172\.(1[6-9]|2\d|3[01])\.\d+\.\d+$/);
      }
    }
  });

  it('generates 200,000 records with unique ids', () => {
    const fleet = generateFleet({ seed: 3, encodeServers: 200_000, cloudPhoneServers: 20_000 });
    expect(fleet).toHaveLength(200_000);
    expect(new Set(fleet.map((r) => r.encode_server_id)).size).toBe(200_000);
    expect(fleet[199_999]?.encode_server_name).toBe('encode-server-200000');
  });

  it('mulberry32 is seeded', () => {
    const a = mulberry32(5);
    const b = mulberry32(5);
    const xs = Array.from({ length: 5 }, () => a());
    expect(Array.from({ length: 5 }, () => b())).toEqual(xs);
    for (const x of xs) expect(x >= 0 && x < 1).toBe(true);
  });
});

describe('Fleet', () => {
  const make = () => new Fleet({ seed: 11, encodeServers: 60, cloudPhoneServers: 6 });

  it('pages in stable order, with and without filters', () => {
    const f = make();
    expect(f.page(0, 100)).toEqual(f.items);
    expect(f.page(10, 5)).toEqual(f.items.slice(10, 15));
    expect(f.page(60, 5)).toEqual([]);
    const type0 = f.items.filter((r) => r.type === 0);
    expect(f.page(0, 100, { type: 0 })).toEqual(type0);
    expect(f.page(1, 2, { type: 0 })).toEqual(type0.slice(1, 3));
    const sid = f.serverIds[2] as string;
    expect(f.page(0, 100, { server_id: sid, status: 1 })).toEqual(
      f.items.filter((r) => r.server_id === sid && r.status === 1),
    );
  });

  it('sets status and type without touching the old record', () => {
    const f = make();
    const r = f.items[3] as EncodeServer;
    const updated = f.setStatus(r.encode_server_id, 2);
    expect(updated.status).toBe(2);
    expect(f.items[3]).toBe(updated);
    expect(r).not.toBe(updated);
    expect(f.setType(r.encode_server_id, 9).type).toBe(9);
    expect(() => f.setStatus('0'.repeat(32), 1)).toThrow(/unknown/);
  });

  it('sets and clears a public IP on new-field and legacy records', () => {
    const f = make();
    const both = f.items.find((r) => r.access_infos.some((p) => p.type === 'adb' && 'public_ip' in p && 'access_ip' in p))!;
    let u = f.setPublicIp(both.encode_server_id, 'adb', '198.51.100.7');
    let adb = u.access_infos.find((p) => p.type === 'adb')!;
    expect(adb.public_ip).toBe('198.51.100.7');
    expect(adb.access_ip).toBe('198.51.100.7');
    u = f.setPublicIp(both.encode_server_id, 'adb', null);
    adb = u.access_infos.find((p) => p.type === 'adb')!;
    expect(adb.public_ip).toBe('');
    expect(adb.access_ip).toBe(adb.server_ip);
    expect(adb.access_port).toBe(adb.listen_port);

    const legacy = f.items.find(isLegacy)!;
    const t = legacy.access_infos[0]!.type;
    u = f.setPublicIp(legacy.encode_server_id, t, '203.0.113.9');
    expect(u.access_infos[0]).not.toHaveProperty('public_ip');
    expect(u.access_infos[0]!.access_ip).toBe('203.0.113.9');
    u = f.setPublicIp(legacy.encode_server_id, t, '');
    expect(u.access_infos[0]!.access_ip).toBe(u.access_infos[0]!.intranet_ip);
    expect(() => f.setPublicIp(legacy.encode_server_id, 'no-such-port', null)).toThrow(/no port/);
  });

  it('adds and removes encode servers', () => {
    const f = make();
    const first = f.items[0] as EncodeServer;
    const added = f.add(3, 0);
    expect(f.size).toBe(63);
    expect(f.items.slice(0, 3)).toEqual(added);
    expect(added.map((r) => r.encode_server_name)).toEqual(['encode-server-0061', 'encode-server-0062', 'encode-server-0063']);
    expect(new Set(f.items.map((r) => r.encode_server_id)).size).toBe(63);
    expect(f.remove([added[0]!.encode_server_id, 'unknown'])).toBe(1);
    expect(f.removeAt(0, 2)).toEqual(added.slice(1));
    expect(f.items[0]).toBe(first);
    f.add(1);
    expect(f.items[f.size - 1]!.encode_server_name).toBe('encode-server-0064');
  });
});
