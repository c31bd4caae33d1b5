/**
 * The cloud-phone side of a simulated project: phone servers (ListCloudPhoneServers) and cloud phones
 * (ListCloudPhones), built around the `server_id`s the project's encode servers name, as a real estate is:
 * almost every encode server's `server_id` is a phone server of the listing, with the few orphans a real
 * estate has on both sides (an encode server whose phone server is gone, a phone server without encode server).
 *
 * Deterministic for a seed. Records are newest first (the API sorts by creation time), so phones created
 * while a listing runs shift every later page, as on the real API. Records are never edited in place.
 */
import { mulberry32 } from './fleet.js';

/** Every `Server.status` code NOTES.md §2a documents. */
export const PHONE_SERVER_STATUSES: readonly number[] = [0, 1, 2, 3, 4, 5, 8, 10, 11, 12, 13];
/** Every `Phone.status` code NOTES.md §2b documents, the failures (negative) and the older 0 included. */
export const PHONE_STATUSES: readonly number[] = [0, 1, 2, 3, 4, 6, 7, 8, -5, -6, -7, -8, -9];
/** Codes neither table names: estates contain them so that clients meet unknown codes. */
export const UNDOCUMENTED_PHONE_SERVER_STATUS = 7;
export const UNDOCUMENTED_PHONE_STATUSES: readonly number[] = [5, -1];

/** A ListCloudPhoneServers record with the documented fields (NOTES.md §2a). */
export interface PhoneServerRecord {
  server_name: string;
  server_id: string;
  status: number;
  server_model_name: string;
  phone_model_name: string;
  keypair_name: string;
  availability_zone: string;
  network_version: string;
  vpc_id: string;
  addresses: Array<{ server_ip: string; public_ip: string; intranet_ip: string; access_ip: string }>;
  resource_project_id: string;
  metadata: { product_id: string; order_id: string; charging_mode: number };
  create_time: string;
  update_time: string;
}

/** A ListCloudPhones record with the documented fields (NOTES.md §2b). */
export interface PhoneRecord {
  phone_name: string;
  server_id: string;
  phone_id: string;
  phone_model_name: string;
  image_id: string;
  image_version: string;
  vnc_enable: string;
  status: number;
  type: number;
  imei: string;
  traffic_type: string;
  volume_mode: number;
  availability_zone: string;
  metadata: { order_id: string; product_id: string };
  create_time: string;
  update_time: string;
}

export interface EstateOptions {
  seed: number;
  /** The `server_id`s the project's encode servers name. */
  encodeServerIds: readonly string[];
  /** Cloud phones, spread evenly over the phone servers. */
  phones: number;
  /** Orphans on each side of the join (default: none below 3 phone servers, else 1 per 50, at least 1). */
  orphans?: number | undefined;
}

export interface Orphans {
  /** `server_id`s that encode servers name but that are not phone servers of the listing. */
  encodeServersWithoutPhoneServer: readonly string[];
  /** Phone servers that no encode server names. */
  phoneServersWithoutEncodeServer: readonly string[];
}

export interface EstateFilter {
  server_id?: string | undefined;
  status?: number | undefined;
}

type Rng = () => number;

function hexId(rng: Rng, serial: number): string {
  const b = Buffer.alloc(16);
  for (let i = 0; i < 12; i += 4) b.writeUInt32BE(Math.floor(rng() * 4294967296), i);
  b.writeUInt32BE(serial >>> 0, 12);
  return b.toString('hex');
}

const CREATED = '2026-01-05T08:00:00Z';
const MODELS = [
  { server: 'physical.rx1.xlarge', phone: 'rx1.4xlarge.2' },
  { server: 'physical.kg1.4xlarge.cp', phone: 'kg1.large.1' },
];

/** Orphans on each side: none in estates of fewer than 3 phone servers, else 1 per 50 (at least 1). */
function orphanCount(servers: number): number {
  return servers < 3 ? 0 : Math.max(1, Math.floor(servers / 50));
}

export class Estate {
  private servers: PhoneServerRecord[];
  private phoneList: PhoneRecord[];
  private readonly rng: Rng;
  private serial = 0;
  readonly orphans: Orphans;

  constructor(options: EstateOptions) {
    this.rng = mulberry32(options.seed ^ 0x5eed0f0e);
    const ids = [...new Set(options.encodeServerIds)];
    const orphans = Math.min(ids.length, options.orphans ?? orphanCount(ids.length));
    // The last `orphans` server_ids of the encode servers have no phone server; as many phone servers have no encode server.
    const missing = ids.slice(ids.length - orphans);
    const extra = Array.from({ length: orphans }, () => hexId(this.rng, ++this.serial | 0x40000000));
    const serverIds = [...ids.slice(0, ids.length - orphans), ...extra];
    this.orphans = { encodeServersWithoutPhoneServer: missing, phoneServersWithoutEncodeServer: extra };
    // Every documented status and an undocumented one once each (estates of 12+ servers), the rest running.
    const coverage = [...PHONE_SERVER_STATUSES.filter((s) => s !== 5), UNDOCUMENTED_PHONE_SERVER_STATUS];
    this.servers = serverIds.map((id, i) => this.phoneServer(id, i, serverIds.length >= 12 ? (coverage[i] ?? 5) : 5));
    this.phoneList = [];
    if (this.servers.length > 0) {
      const phoneCoverage = [...PHONE_STATUSES.filter((s) => s !== 2), ...UNDOCUMENTED_PHONE_STATUSES];
      for (let i = 0; i < options.phones; i++) {
        const server = this.servers[i % this.servers.length] as PhoneServerRecord;
        // Every status once among the first phones (estates of 15+ phones), then mostly running with a few failures.
        const status = options.phones >= 15 && i < phoneCoverage.length ? (phoneCoverage[i] as number) : this.rng() < 0.97 ? 2 : -7;
        this.phoneList.push(this.phone(server, status));
      }
    }
  }

  private phoneServer(serverId: string, i: number, status: number): PhoneServerRecord {
    const model = MODELS[i % MODELS.length] as (typeof MODELS)[number];
    return {
      server_name: `cph-server-${String(i + 1).padStart(5, '0')}`,
      server_id: serverId,
      status,
      server_model_name: model.server,
      phone_model_name: model.phone,
      keypair_name: 'KeyPair-cph',
      availability_zone: i % 3 === 0 ? 'cn-north-4b' : 'cn-north-4a',
      network_version: i % 4 === 0 ? 'v1' : 'v2',
      vpc_id: hexId(this.rng, i),
      addresses: [{ server_ip: `172.31.${(i >> 8) & 255}.${i & 255}`, public_ip: '', intranet_ip: `172.31.${(i >> 8) & 255}.${i & 255}`, access_ip: '' }],
      resource_project_id: hexId(this.rng, 0),
      metadata: { product_id: 'product-cph', order_id: `CS${String(i).padStart(10, '0')}`, charging_mode: 1 },
      create_time: CREATED,
      update_time: CREATED,
    };
  }

  private phone(server: PhoneServerRecord, status: number): PhoneRecord {
    const n = ++this.serial;
    return {
      phone_name: `mobile-${String(n).padStart(6, '0')}`,
      server_id: server.server_id,
      phone_id: hexId(this.rng, n),
      phone_model_name: server.phone_model_name,
      image_id: '0123456789abcdef0123456789abcdef',
      image_version: 'CPH_11.2.0',
      vnc_enable: n % 2 === 0 ? 'true' : 'false',
      status,
      type: 0,
      imei: String(860000000000000 + n),
      traffic_type: n % 5 === 0 ? 'routing' : 'direct',
      volume_mode: 0,
      availability_zone: server.availability_zone,
      metadata: { order_id: server.metadata.order_id, product_id: 'product-cph' },
      create_time: CREATED,
      update_time: CREATED,
    };
  }

  get phoneServers(): readonly PhoneServerRecord[] {
    return this.servers;
  }

  get phones(): readonly PhoneRecord[] {
    return this.phoneList;
  }

  /** One page of phone servers and the total (`count`) of the filtered listing. */
  phoneServerPage(offset: number, limit: number, filter: EstateFilter = {}): { count: number; items: PhoneServerRecord[] } {
    return page(this.servers, offset, limit, filter);
  }

  /** One page of phones and the total (`count`) of the filtered listing. */
  phonePage(offset: number, limit: number, filter: EstateFilter = {}): { count: number; items: PhoneRecord[] } {
    return page(this.phoneList, offset, limit, filter);
  }

  setPhoneServerStatus(serverId: string, status: number): boolean {
    const i = this.servers.findIndex((s) => s.server_id === serverId);
    if (i < 0) return false;
    this.servers = replaced(this.servers, i, { ...(this.servers[i] as PhoneServerRecord), status });
    return true;
  }

  setPhoneStatus(phoneId: string, status: number): boolean {
    const i = this.phoneList.findIndex((p) => p.phone_id === phoneId);
    if (i < 0) return false;
    this.phoneList = replaced(this.phoneList, i, { ...(this.phoneList[i] as PhoneRecord), status });
    return true;
  }

  /** Sets the status of every phone of one server (a server whose phones all fail); returns how many. */
  setPhonesOfServer(serverId: string, status: number): number {
    let n = 0;
    this.phoneList = this.phoneList.map((p) => (p.server_id === serverId ? (n++, { ...p, status }) : p));
    return n;
  }

  /** Creates `count` running phones at `at` (default 0: the newest come first), on `serverId` or spread over the servers. */
  addPhones(count: number, serverId?: string, at = 0): PhoneRecord[] {
    const servers = serverId === undefined ? this.servers : this.servers.filter((s) => s.server_id === serverId);
    if (servers.length === 0) return [];
    const created = Array.from({ length: count }, (_, i) => this.phone(servers[(this.serial + i) % servers.length] as PhoneServerRecord, 2));
    const pos = Math.max(0, Math.min(at, this.phoneList.length));
    this.phoneList = [...this.phoneList.slice(0, pos), ...created, ...this.phoneList.slice(pos)];
    return created;
  }

  /** Deletes `count` phones starting at position `at`; returns their ids. */
  removePhonesAt(at: number, count: number): string[] {
    const removed = this.phoneList.slice(at, at + count).map((p) => p.phone_id);
    this.phoneList = [...this.phoneList.slice(0, at), ...this.phoneList.slice(at + count)];
    return removed;
  }
}

function page<T extends { server_id: string; status: number }>(all: readonly T[], offset: number, limit: number, filter: EstateFilter): { count: number; items: T[] } {
  if (filter.server_id === undefined && filter.status === undefined) return { count: all.length, items: all.slice(offset, offset + limit) };
  const matching = all.filter((r) => (filter.server_id === undefined || r.server_id === filter.server_id) && (filter.status === undefined || r.status === filter.status));
  return { count: matching.length, items: matching.slice(offset, offset + limit) };
}

/** A copy with one element replaced: a page a listing already took keeps its records. */
function replaced<T>(all: readonly T[], i: number, record: T): T[] {
  const copy = all.slice();
  copy[i] = record;
  return copy;
}
