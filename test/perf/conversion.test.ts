import { describe, expect, it } from 'vitest';
import type { EncodeServer } from '../../src/cph/types.js';
import { RESOURCE_FAMILIES } from '../../src/metrics/catalog.js';
import { TargetSeriesBuilder, type TargetKey } from '../../src/metrics/convert.js';
import { exposureLabel, portTypeLabel, statusLabel, typeLabel } from '../../src/metrics/enums.js';
import { familyHeader, labelSet } from '../../src/metrics/exposition.js';
import { renderResourceFamilies } from '../../src/metrics/resources.js';
import { WEIRD_NAMES } from '../../src/simulator/faults.js';
import { generateFleet } from '../../src/simulator/fleet.js';

/*
 * The conversion is written for speed (short keys, templates, arrays joined once). This holds it
 * to the plainest rendering of the same families, through the generic `labelSet` (the exporter's
 * first implementation), byte for byte, on fleets with every kind of record and name.
 */

const { encodeServers: S, encodeServerPorts: P, encodeServerInfo: I } = RESOURCE_FAMILIES;

function reference(targets: { key: TargetKey; items: EncodeServer[] }[], withInfo: boolean): string {
  const servers: string[] = [];
  const ports: string[] = [];
  const info: string[] = [];
  for (const { key, items } of targets) {
    const serverCounts = new Map<string, number>();
    const portCounts = new Map<string, number>();
    for (const s of items) {
      const base = [key.projectId, key.region, s.server_id, typeLabel(s.type), statusLabel(s.status)];
      const k = labelSet(S.labelNames, base);
      serverCounts.set(k, (serverCounts.get(k) ?? 0) + 1);
      for (const p of s.access_infos) {
        const pk = labelSet(P.labelNames, [...base, portTypeLabel(p.type), exposureLabel(p)]);
        portCounts.set(pk, (portCounts.get(pk) ?? 0) + 1);
      }
      const infoValues = [key.projectId, key.region, s.encode_server_id, s.encode_server_name, s.server_id, s.encode_server_ip, s.keypair_name];
      info.push(`${I.name}${labelSet(I.labelNames, [...infoValues, typeLabel(s.type), statusLabel(s.status), String(s.status)])} 1\n`);
    }
    for (const [k, n] of serverCounts) servers.push(`${S.name}${k} ${n}\n`);
    for (const [k, n] of portCounts) ports.push(`${P.name}${k} ${n}\n`);
  }
  return [
    familyHeader(S.name, S.help, 'gauge'),
    ...servers,
    familyHeader(P.name, P.help, 'gauge'),
    ...ports,
    ...(withInfo ? [familyHeader(I.name, I.help, 'gauge'), ...info] : []),
  ].join('');
}

/** A generated fleet with odd names, odd server ids and unknown enum values mixed in. */
function oddFleet(seed: number, size: number): EncodeServer[] {
  return generateFleet({ seed, encodeServers: size, cloudPhoneServers: Math.max(1, Math.floor(size / 10)) }).map((r, k) => {
    if (k % 13 === 0) return { ...r, encode_server_name: WEIRD_NAMES[k % WEIRD_NAMES.length] as string, keypair_name: WEIRD_NAMES[(k + 3) % WEIRD_NAMES.length] as string };
    if (k % 29 === 0) return { ...r, server_id: `q"\\\n${r.server_id}`, type: 9, status: 42, access_infos: [...r.access_infos, { type: 'quantum', public_ip: '' }] };
    return r;
  });
}

describe('conversion for large fleets', () => {
  it.each([
    ['with info, chunks of 97', true, 97],
    ['without info, one chunk', false, 100_000],
    ['with info, chunks of 1', true, 1],
  ])('renders the same bytes as a plain labelSet rendering (%s)', (_name, withInfo, chunk) => {
    const targets = [
      { key: { projectId: 'p1', region: 'cn-north-4' }, items: oddFleet(1, 3000) },
      { key: { projectId: 'p"2\\', region: 'ap-southeast-1' }, items: oddFleet(2, 400) },
      { key: { projectId: 'p3', region: 'la-south-2' }, items: [] },
    ];
    const series = targets.map(({ key, items }) => {
      const builder = new TargetSeriesBuilder(key, withInfo);
      for (let i = 0; i < items.length; i += chunk) builder.add(items.slice(i, i + chunk));
      return builder.finish();
    });
    // Compared as the UTF-8 bytes on the wire, where a lone surrogate is U+FFFD either way.
    expect(renderResourceFamilies(series, withInfo)).toBe(Buffer.from(reference(targets, withInfo)).toString('utf8'));
    expect(series.map((s) => s.count)).toEqual([3000, 400, 0]);
  });
});
