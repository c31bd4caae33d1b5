import { RESOURCE_FAMILIES, type ResourceFamilyKey } from './catalog.js';
import type { TargetSeries } from './convert.js';
import type { ResourceSeries } from './estate.js';
import { familyHeader } from './exposition.js';

const { encodeServers: S, encodeServerPorts: P, encodeServerInfo: I } = RESOURCE_FAMILIES;
const HEADERS = {
  servers: Buffer.from(familyHeader(S.name, S.help, 'gauge')),
  ports: Buffer.from(familyHeader(P.name, P.help, 'gauge')),
  info: Buffer.from(familyHeader(I.name, I.help, 'gauge')),
};

/**
 * The exposition of the resource families as UTF-8 chunks, to be sent one after the other: each
 * family's HELP and TYPE once, then every target's samples of that family (the format wants a
 * family's samples together). The chunks are the targets' own buffers: nothing is copied.
 */
export function resourceChunks(targets: Iterable<TargetSeries>, withInfo: boolean): Buffer[] {
  const list = [...targets];
  return [
    HEADERS.servers,
    ...list.flatMap((t) => t.encodeServers),
    HEADERS.ports,
    ...list.flatMap((t) => t.encodeServerPorts),
    ...(withInfo ? [HEADERS.info, ...list.flatMap((t) => t.encodeServerInfo)] : []),
  ];
}

/** The exposition of the resource families as one string. */
export function renderResourceFamilies(targets: Iterable<TargetSeries>, withInfo: boolean): string {
  return Buffer.concat(resourceChunks(targets, withInfo)).toString('utf8');
}

const FAMILY_HEADERS = Object.fromEntries(
  Object.entries(RESOURCE_FAMILIES).map(([key, f]) => [key, Buffer.from(familyHeader(f.name, f.help, 'gauge'))]),
) as Record<ResourceFamilyKey, Buffer>;

/**
 * The exposition of the given families, in the given order, as chunks: each family's HELP and TYPE
 * once, then the samples of that family from every resource series that has it.
 */
export function familyChunks(series: Iterable<ResourceSeries>, families: readonly ResourceFamilyKey[]): Buffer[] {
  const list = [...series];
  return families.flatMap((key) => [FAMILY_HEADERS[key], ...list.flatMap((s) => s.families[key] ?? [])]);
}

/** The families of phone servers and phones the exporter serves for these resources, in exposition order. */
export function estateFamilies(resources: readonly string[], phoneInfo: boolean): ResourceFamilyKey[] {
  return [
    ...(resources.includes('phone_servers') ? (['phoneServers', 'phoneServerInfo'] as const) : []),
    ...(resources.includes('phones') ? (['phones', ...(phoneInfo ? (['phoneInfo'] as const) : [])] as const) : []),
  ];
}
