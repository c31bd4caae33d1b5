/**
 * Deterministic fleets of encode servers for the CPH simulator.
 *
 * `generateFleet` is pure: the same options give the same records in the same (stable) order.
 * `Fleet` holds one project's records and the mutators tests use to change them between polls.
 * Records are treated as immutable: a mutator replaces a record with a new object, never edits it in place,
 * so a page a test captured earlier keeps its values.
 */
import type { AccessInfo, EncodeServer } from '../cph/types.js';
import { RecordFactory, coveragePlan, type FleetOptions } from './generate.js';

export {
  DOCUMENTED_PORT_TYPES,
  DOCUMENTED_STATUSES,
  FULL_VARIETY_MIN_SIZE,
  UNDOCUMENTED_STATUS,
  USER_DEFINED_PORT_TYPES,
  encodeServerIp,
  fnv1a,
  mulberry32,
  projectSeed,
  type FleetOptions,
  type PortLayout,
} from './generate.js';

/**
 * A deterministic fleet of `encodeServers` records, in a stable order. Linear in its size.
 * Fleets of at least `FULL_VARIETY_MIN_SIZE` records contain both types, every documented status and an
 * undocumented one, every documented port type and user-defined ones, public and private ports, records
 * with both field sets and legacy records with only the deprecated fields (public and private).
 */
export function generateFleet(options: FleetOptions): EncodeServer[] {
  return new Fleet(options).snapshot();
}

/** What to filter a listing on (already validated). */
export interface FleetFilter {
  type?: number | undefined;
  status?: number | undefined;
  server_id?: string | undefined;
}

/** One project's fleet, with the mutators tests use. */
export class Fleet {
  private readonly factory: RecordFactory;
  private records: EncodeServer[];
  private nextIndex: number;
  /** Incremented by every mutation. */
  version = 0;

  constructor(readonly options: FleetOptions) {
    const n = Math.max(0, Math.floor(options.encodeServers));
    this.factory = new RecordFactory(options.seed, options.cloudPhoneServers);
    const plan = coveragePlan(n);
    this.records = new Array<EncodeServer>(n);
    for (let i = 0; i < n; i++) this.records[i] = this.factory.make(i, plan.get(i));
    this.nextIndex = n;
  }

  get size(): number {
    return this.records.length;
  }

  /** The `server_id`s of the fleet's cloud-phone servers. */
  get serverIds(): readonly string[] {
    return this.factory.serverIdList;
  }

  /** The live records (do not modify them). */
  get items(): readonly EncodeServer[] {
    return this.records;
  }

  /** A copy of the record list. */
  snapshot(): EncodeServer[] {
    return this.records.slice();
  }

  find(encodeServerId: string): EncodeServer | undefined {
    return this.records.find((r) => r.encode_server_id === encodeServerId);
  }

  /** One page: `limit` records after skipping `offset` records that match the filter. */
  page(offset: number, limit: number, filter: FleetFilter = {}): EncodeServer[] {
    const { type, status, server_id } = filter;
    if (type === undefined && status === undefined && server_id === undefined) {
      return this.records.slice(offset, offset + limit);
    }
    const out: EncodeServer[] = [];
    let skipped = 0;
    for (const r of this.records) {
      if (type !== undefined && r.type !== type) continue;
      if (status !== undefined && r.status !== status) continue;
      if (server_id !== undefined && r.server_id !== server_id) continue;
      if (skipped < offset) {
        skipped++;
        continue;
      }
      out.push(r);
      if (out.length >= limit) break;
    }
    return out;
  }

  private indexOf(encodeServerId: string): number {
    const i = this.records.findIndex((r) => r.encode_server_id === encodeServerId);
    if (i < 0) throw new Error(`unknown encode server ${encodeServerId}`);
    return i;
  }

  private replaceAt(i: number, record: EncodeServer): EncodeServer {
    this.records[i] = record;
    this.version++;
    return record;
  }

  /** Sets the status code of an encode server; throws if the id is unknown. */
  setStatus(encodeServerId: string, status: number): EncodeServer {
    const i = this.indexOf(encodeServerId);
    return this.replaceAt(i, { ...(this.records[i] as EncodeServer), status });
  }

  /** Sets the type code of an encode server; throws if the id is unknown. */
  setType(encodeServerId: string, type: number): EncodeServer {
    const i = this.indexOf(encodeServerId);
    return this.replaceAt(i, { ...(this.records[i] as EncodeServer), type });
  }

  /**
   * Exposes (`ip` non-empty) or hides (`ip` null or "") every port of the given type of an encode server.
   * Sets `public_ip` where the record has it and `access_ip` where it has that; a hidden legacy port gets its
   * intranet IP in `access_ip`. Throws if the id is unknown or it has no port of that type.
   */
  setPublicIp(encodeServerId: string, portType: string, ip: string | null): EncodeServer {
    const i = this.indexOf(encodeServerId);
    const rec = this.records[i] as EncodeServer;
    let found = false;
    const access_infos = rec.access_infos.map((p) => {
      if (p.type !== portType) return p;
      found = true;
      const priv = p.server_ip ?? p.intranet_ip ?? '';
      const q: AccessInfo = { ...p };
      if ('public_ip' in p) q.public_ip = ip ?? '';
      if ('access_ip' in p) q.access_ip = ip ? ip : priv;
      if (!ip && p.listen_port !== undefined) q.access_port = p.listen_port;
      return q;
    });
    if (!found) throw new Error(`encode server ${encodeServerId} has no port of type ${portType}`);
    return this.replaceAt(i, { ...rec, access_infos });
  }

  /** Replaces a whole record (keeps its position); throws if the id is unknown. */
  replace(encodeServerId: string, record: EncodeServer): EncodeServer {
    return this.replaceAt(this.indexOf(encodeServerId), record);
  }

  /** Adds `count` new encode servers at position `at` (default: the end); returns them. */
  add(count: number, at: number = this.records.length): EncodeServer[] {
    const added: EncodeServer[] = [];
    for (let k = 0; k < count; k++) added.push(this.factory.make(this.nextIndex++, undefined));
    const pos = Math.max(0, Math.min(at, this.records.length));
    this.records.splice(pos, 0, ...added);
    this.version++;
    return added;
  }

  /** Removes the encode servers with these ids (unknown ids are ignored); returns how many were removed. */
  remove(encodeServerIds: readonly string[]): number {
    const drop = new Set(encodeServerIds);
    const before = this.records.length;
    this.records = this.records.filter((r) => !drop.has(r.encode_server_id));
    const removed = before - this.records.length;
    if (removed > 0) this.version++;
    return removed;
  }

  /** Removes `count` records starting at position `at`; returns them. */
  removeAt(at: number, count: number): EncodeServer[] {
    const removed = this.records.splice(Math.max(0, at), Math.max(0, count));
    if (removed.length > 0) this.version++;
    return removed;
  }
}
