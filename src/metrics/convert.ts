import type { EncodeServer } from '../cph/types.js';
import { RESOURCE_FAMILIES } from './catalog.js';
import { exposureLabel, portTypeLabel, statusLabel, typeLabel } from './enums.js';
import { labelSet } from './exposition.js';

export interface TargetKey {
  projectId: string;
  region: string;
}

/** The rendered sample lines (no HELP/TYPE) of one target for each resource family. */
export interface TargetSeries {
  encodeServers: string;
  encodeServerPorts: string;
  encodeServerInfo: string;
  /** Encode servers converted. */
  count: number;
}

const { encodeServers: S, encodeServerPorts: P, encodeServerInfo: I } = RESOURCE_FAMILIES;

/**
 * Converts one target's complete listing into sample lines, in linear time. Pure: no I/O,
 * no clock. `add` can be called with chunks of the listing so that a caller can yield to
 * the event loop between chunks of a very large fleet.
 */
export class TargetSeriesBuilder {
  private readonly servers = new Map<string, number>();
  private readonly ports = new Map<string, number>();
  private info = '';
  private count = 0;

  constructor(
    private readonly target: TargetKey,
    private readonly withInfo: boolean,
  ) {}

  add(items: readonly EncodeServer[]): this {
    const { projectId, region } = this.target;
    for (const s of items) {
      const type = typeLabel(s.type);
      const status = statusLabel(s.status);
      const serverKey = labelSet(S.labelNames, [projectId, region, s.server_id, type, status]);
      this.servers.set(serverKey, (this.servers.get(serverKey) ?? 0) + 1);
      for (const port of s.access_infos) {
        const portKey = labelSet(P.labelNames, [projectId, region, s.server_id, type, status, portTypeLabel(port.type), exposureLabel(port)]);
        this.ports.set(portKey, (this.ports.get(portKey) ?? 0) + 1);
      }
      if (this.withInfo) {
        this.info += `${I.name}${labelSet(I.labelNames, [
          projectId,
          region,
          s.encode_server_id,
          s.encode_server_name,
          s.server_id,
          s.encode_server_ip,
          s.keypair_name,
          type,
          status,
          String(s.status),
        ])} 1\n`;
      }
      this.count++;
    }
    return this;
  }

  finish(): TargetSeries {
    return {
      encodeServers: renderCounts(S.name, this.servers),
      encodeServerPorts: renderCounts(P.name, this.ports),
      encodeServerInfo: this.info,
      count: this.count,
    };
  }
}

function renderCounts(name: string, counts: Map<string, number>): string {
  let out = '';
  for (const [labels, n] of counts) out += `${name}${labels} ${n}\n`;
  return out;
}

/** Converts a whole listing at once. */
export function convertTarget(target: TargetKey, items: readonly EncodeServer[], withInfo = true): TargetSeries {
  return new TargetSeriesBuilder(target, withInfo).add(items).finish();
}
