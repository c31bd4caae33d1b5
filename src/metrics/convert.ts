import type { EncodeServer } from '../cph/types.js';
import { AccessPortsBuilder, type TargetAccessPorts } from '../sd/access-ports.js';
import { RESOURCE_FAMILIES } from './catalog.js';
import { exposureLabel, portTypeLabel, statusLabel, typeLabel } from './enums.js';
import { escapeLabelValue as esc } from './exposition.js';

export interface TargetKey {
  projectId: string;
  region: string;
}

/**
 * The rendered sample lines (no HELP/TYPE) of one target for each resource family, as UTF-8 chunks
 * of whole lines, to be sent one after the other. Bytes take one byte per ASCII character, where a
 * V8 string that holds a single non-Latin-1 character (a Chinese server name) takes two for every
 * character; chunks are never joined, so the output is never copied.
 */
export interface TargetSeries {
  encodeServers: readonly Buffer[];
  encodeServerPorts: readonly Buffer[];
  encodeServerInfo: readonly Buffer[];
  /** The same listing's access ports for HTTP service discovery (/sd/access-ports), rendered alongside. */
  accessPorts: TargetAccessPorts;
  /** Encode servers converted. */
  count: number;
}

const { encodeServers: S, encodeServerPorts: P, encodeServerInfo: I } = RESOURCE_FAMILIES;

/** The series of one cloud-phone server, by a short key of their other labels (`type/status[/port_type/exposure]`). */
interface ServerSeries {
  /** The server_id, escaped once. */
  id: string;
  byKey: Map<string, Counted>;
}

/** One series of cph_encode_servers or cph_encode_server_ports, and the number it counts. */
interface Counted {
  server: ServerSeries;
  /** The label set after server_id, up to the value: `",type="…",status="…"} `. Shared by every series with the same key. */
  rest: string;
  n: number;
}

/**
 * Lines collected as UTF-8 chunks of a few hundred lines. Joining all of them at once would make
 * strings of megabytes, which V8 allocates outside the young generation: garbage that stays in the
 * heap until the next full collection, long after the poll.
 */
export class Lines {
  private static readonly BATCH = 256;
  private readonly batches: Buffer[] = [];
  private pending: string[] = [];

  push(line: string): void {
    this.pending.push(line);
    if (this.pending.length === Lines.BATCH) this.flush();
  }

  toChunks(): Buffer[] {
    this.flush();
    return this.batches;
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    this.batches.push(Buffer.from(this.pending.join('')));
    this.pending = [];
  }
}

/**
 * Converts one target's complete listing into sample lines, in linear time. Pure: no I/O,
 * no clock. `add` can be called with chunks of the listing so that a caller can yield to
 * the event loop between chunks of a very large fleet.
 *
 * Built for fleets of 100,000s of servers:
 * - Series are counted per cloud-phone server under a short key of their other labels. Most of
 *   each line is rendered when the series is first seen, and the lines are written in that order
 *   by `finish`, which only puts the pieces and the counts together (it runs without a yield).
 * - Lines are written with templates in the catalog's label order. `type`, `status`, `port_type`
 *   and `exposure` come from fixed vocabularies that need no escaping; the target's labels are
 *   escaped once, each server_id once.
 * - Lines are collected and joined in batches (`Lines`): a string grown with `+=` is kept by V8
 *   as a tree of all its pieces (a rope), several times its length, until something flattens it.
 */
export class TargetSeriesBuilder {
  private readonly byServer = new Map<string, ServerSeries>();
  /** The label set after server_id, by key: a handful of distinct strings, whatever the fleet's size. */
  private readonly rests = new Map<string, string>();
  private readonly servers: Counted[] = [];
  private readonly ports: Counted[] = [];
  private readonly info = new Lines();
  private readonly targetLabels: string;
  private readonly accessPorts: AccessPortsBuilder;
  private count = 0;

  constructor(
    target: TargetKey,
    private readonly withInfo: boolean,
  ) {
    this.targetLabels = `project_id="${esc(target.projectId)}",region="${esc(target.region)}"`;
    this.accessPorts = new AccessPortsBuilder(target);
  }

  private newSeries(server: ServerSeries, key: string, renderRest: () => string): Counted {
    let rest = this.rests.get(key);
    if (rest === undefined) {
      rest = renderRest();
      this.rests.set(key, rest);
    }
    const counted = { server, rest, n: 1 };
    server.byKey.set(key, counted);
    return counted;
  }

  add(items: readonly EncodeServer[]): this {
    for (const s of items) {
      const type = typeLabel(s.type);
      const status = statusLabel(s.status);
      let server = this.byServer.get(s.server_id);
      if (!server) {
        server = { id: esc(s.server_id), byKey: new Map() };
        this.byServer.set(s.server_id, server);
      }
      const serverKey = `${type}/${status}`;
      const counted = server.byKey.get(serverKey);
      if (counted) counted.n++;
      else this.servers.push(this.newSeries(server, serverKey, () => `",type="${type}",status="${status}"} `));
      for (const port of s.access_infos) {
        const portType = portTypeLabel(port.type);
        const exposure = exposureLabel(port);
        const portKey = `${serverKey}/${portType}/${exposure}`;
        const counted = server.byKey.get(portKey);
        if (counted) counted.n++;
        else this.ports.push(this.newSeries(server, portKey, () => `",type="${type}",status="${status}",port_type="${portType}",exposure="${exposure}"} `));
      }
      if (this.withInfo) {
        this.info.push(
          `${I.name}{${this.targetLabels},encode_server_id="${esc(s.encode_server_id)}",encode_server_name="${esc(s.encode_server_name)}",` +
            `server_id="${esc(s.server_id)}",encode_server_ip="${esc(s.encode_server_ip)}",keypair_name="${esc(s.keypair_name)}",` +
            `type="${type}",status="${status}",status_code="${s.status}"} 1\n`,
        );
      }
      this.count++;
    }
    this.accessPorts.add(items);
    return this;
  }

  finish(): TargetSeries {
    const serversStart = `${S.name}{${this.targetLabels},server_id="`;
    const servers = new Lines();
    for (const c of this.servers) servers.push(`${serversStart}${c.server.id}${c.rest}${c.n}\n`);
    const portsStart = `${P.name}{${this.targetLabels},server_id="`;
    const ports = new Lines();
    for (const c of this.ports) ports.push(`${portsStart}${c.server.id}${c.rest}${c.n}\n`);
    return {
      encodeServers: servers.toChunks(),
      encodeServerPorts: ports.toChunks(),
      encodeServerInfo: this.info.toChunks(),
      accessPorts: this.accessPorts.finish(),
      count: this.count,
    };
  }
}


/** Converts a whole listing at once. */
export function convertTarget(target: TargetKey, items: readonly EncodeServer[], withInfo = true): TargetSeries {
  return new TargetSeriesBuilder(target, withInfo).add(items).finish();
}
