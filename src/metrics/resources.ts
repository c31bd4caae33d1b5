import { RESOURCE_FAMILIES } from './catalog.js';
import type { TargetSeries } from './convert.js';
import { familyHeader } from './exposition.js';

/**
 * Joins the targets' sample lines into the exposition of the resource families: each family's
 * HELP and TYPE once, then every target's samples of that family (the format wants a family's
 * samples together).
 */
export function renderResourceFamilies(targets: Iterable<TargetSeries>, withInfo: boolean): string {
  const list = [...targets];
  const { encodeServers: S, encodeServerPorts: P, encodeServerInfo: I } = RESOURCE_FAMILIES;
  const parts = [familyHeader(S.name, S.help, 'gauge'), ...list.map((t) => t.encodeServers)];
  parts.push(familyHeader(P.name, P.help, 'gauge'), ...list.map((t) => t.encodeServerPorts));
  if (withInfo) parts.push(familyHeader(I.name, I.help, 'gauge'), ...list.map((t) => t.encodeServerInfo));
  return parts.join('');
}
