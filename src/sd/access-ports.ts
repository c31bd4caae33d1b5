/**
 * Access ports of encode servers as Prometheus HTTP service discovery target groups (`http_sd_config`):
 * one group per port, `{"targets":["host:port"],"labels":{"__meta_cph_…":"…"}}`, so that blackbox_exporter
 * can probe every public ADB, VNC and H5 port the inventory lists.
 *
 * Pure: no I/O, no clock. While a target's listing is converted, its ports are sorted into buckets by exposure
 * and port type (the endpoint's filters) and kept compact, outside the JavaScript heap: per encode server its
 * labels as JSON bytes, per port four 32-bit numbers (server, IPv4 address, port, listen port). An answer renders
 * the groups it selects from these, once per publication, straight into gzip (see prepared.ts). Rendered groups
 * would be twice the size of the fleet's /metrics; strings per port would grow the V8 heap by more than that.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { AccessInfo, EncodeServer } from '../cph/types.js';
import { exposureLabel, portTypeLabel, statusLabel } from '../metrics/enums.js';

/** Values of `__meta_cph_port_type` (and of `?port_type=`): the `port_type` label of cph_encode_server_ports. */
export const SD_PORT_TYPES = ['adb', 'vnc', 'cph_app_server', 'cph_h5_server', 'custom'] as const;
export type SdPortType = (typeof SD_PORT_TYPES)[number];
export const SD_EXPOSURES = ['public', 'private'] as const;
export type SdExposure = (typeof SD_EXPOSURES)[number];

/** Bucket of a port: exposure-major, so that one exposure's buckets are adjacent. */
export function bucketIndex(exposure: SdExposure, portType: SdPortType): number {
  return SD_EXPOSURES.indexOf(exposure) * SD_PORT_TYPES.length + SD_PORT_TYPES.indexOf(portType);
}
export const BUCKETS = SD_EXPOSURES.length * SD_PORT_TYPES.length;

/** One (project_id, region) target's access ports, compact: rendered into JSON only when an answer is made. */
export interface TargetAccessPorts {
  readonly projectId: string;
  readonly region: string;
  /** The target's labels as JSON members: `"__meta_cph_project_id":"…","__meta_cph_region":"…"`. */
  readonly targetLabels: string;
  /** Encode servers' labels as JSON members (id, name, server_id, status), UTF-8, a few hundred servers per chunk. */
  readonly serverChunks: readonly Buffer[];
  /** Per encode server: chunk index, start and end of its labels in `serverChunks`. */
  readonly servers: Uint32Array;
  /** By `bucketIndex`: the bucket's ports, PORT_STRIDE numbers each (see `renderGroup`), in listing order. */
  readonly buckets: readonly Uint32Array[];
  /** Ports in each bucket. */
  readonly counts: readonly number[];
  /** Hosts that are not IPv4 addresses (IPv6 in brackets, host names), referred to by index. */
  readonly otherHosts: readonly string[];
  /**
   * Ports left out because they have no usable address: a public port without a valid `access_port`,
   * a private one without a valid `listen_port`, or an IP that is not an IP address or host name.
   * cph_encode_server_ports still counts them.
   */
  readonly unaddressable: number;
}

const PORT_STRIDE = 4;
/** In a port's third number, above the 16 bits of the port: the host is in `otherHosts`, not an IPv4 address. */
const OTHER_HOST = 0x10000;
const NO_LISTEN_PORT = 0xffffffff;

const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** A usable address: an IPv4 address as a number, or another host as Prometheus writes it; undefined when unusable. */
function addressOf(host: string | undefined, port: number | undefined): { ipv4: number; port: number } | { host: string; port: number } | undefined {
  const h = host?.trim() ?? '';
  if (port === undefined || !Number.isInteger(port) || port < 1 || port > 65535 || h === '') return undefined;
  if (isIPv4(h)) {
    const [a, b, c, d] = h.split('.').map(Number) as [number, number, number, number];
    return { ipv4: ((a << 24) | (b << 16) | (c << 8) | d) >>> 0, port };
  }
  if (isIPv6(h)) return { host: `[${h}]`, port };
  return HOST_NAME.test(h) ? { host: h, port } : undefined;
}

/** `host:port` for Prometheus: IPv6 in brackets; undefined when either part is unusable. */
export function hostPort(host: string | undefined, port: number | undefined): string | undefined {
  const a = addressOf(host, port);
  if (!a) return undefined;
  return 'ipv4' in a ? `${dotted(a.ipv4)}:${a.port}` : `${a.host}:${a.port}`;
}

function dotted(ip: number): string {
  return `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;
}

const nonEmpty = (s: string | undefined): string | undefined => {
  const t = s?.trim();
  return t === undefined || t === '' ? undefined : t;
};

/**
 * Where a port is reached, on the side `exposureLabel` puts it (ListEncodeServers.md, contradiction 2):
 * - public: `public_ip` (or, in a record without that field, the deprecated `access_ip`) and `access_port`;
 * - private: `server_ip`, else the deprecated `intranet_ip`, else `access_ip` (older records repeat the
 *   private IP there), else the encode server's own IP; and `listen_port`.
 */
function accessAddress(info: AccessInfo, exposure: SdExposure, encodeServerIp: string): ReturnType<typeof addressOf> {
  if (exposure === 'public') return addressOf(nonEmpty(info.public_ip) ?? nonEmpty(info.access_ip), info.access_port);
  const host = nonEmpty(info.server_ip) ?? nonEmpty(info.intranet_ip) ?? nonEmpty(info.access_ip) ?? nonEmpty(encodeServerIp);
  return addressOf(host, info.listen_port);
}

/** A growable array of 32-bit numbers (a typed array: no heap object per value). */
class U32 {
  private data = new Uint32Array(64);
  length = 0;

  push(a: number, b: number, c: number, d?: number): void {
    const need = this.length + (d === undefined ? 3 : 4);
    if (need > this.data.length) {
      const grown = new Uint32Array(Math.max(need, this.data.length * 2));
      grown.set(this.data.subarray(0, this.length));
      this.data = grown;
    }
    this.data[this.length++] = a;
    this.data[this.length++] = b;
    this.data[this.length++] = c;
    if (d !== undefined) this.data[this.length++] = d;
  }

  /** The values, in an array of exactly their size. */
  finish(): Uint32Array {
    return this.data.slice(0, this.length);
  }
}

const q = (s: string): string => JSON.stringify(s);

/** The JSON label members of every port type and exposure, by bucket. */
const BUCKET_LABELS: readonly string[] = SD_EXPOSURES.flatMap((e) => SD_PORT_TYPES.map((t) => `"__meta_cph_port_type":"${t}","__meta_cph_exposure":"${e}"`));

/**
 * One target group: the `i`-th port of bucket `b` of `ports`, preceded by a comma. Every label value is a JSON
 * string: the names and ids were quoted with JSON.stringify when collected, hosts and numbers need no escaping.
 */
export function renderGroup(ports: TargetAccessPorts, b: number, i: number): string {
  const d = ports.buckets[b] as Uint32Array;
  const o = i * PORT_STRIDE;
  const server = (d[o] as number) * 3;
  const portAndKind = d[o + 2] as number;
  const host = portAndKind & OTHER_HOST ? ports.otherHosts[d[o + 1] as number] : dotted(d[o + 1] as number);
  const listen = d[o + 3] === NO_LISTEN_PORT ? '' : String(d[o + 3]);
  const labels = (ports.serverChunks[ports.servers[server] as number] as Buffer).toString('utf8', ports.servers[server + 1], ports.servers[server + 2]);
  return (
    `,{"targets":["${host}:${portAndKind & 0xffff}"],"labels":{${ports.targetLabels},${labels},` +
    `${BUCKET_LABELS[b]},"__meta_cph_listen_port":"${listen}"}}`
  );
}

/** Collects one target's access ports, in listing order, as pages arrive (`add` can be called per page). */
export class AccessPortsBuilder {
  private static readonly CHUNK_BYTES = 64 * 1024;
  private readonly serverChunks: Buffer[] = [];
  private pending: string[] = [];
  private pendingBytes = 0;
  private readonly servers = new U32();
  private readonly buckets = Array.from({ length: BUCKETS }, () => new U32());
  private readonly counts = new Array<number>(BUCKETS).fill(0);
  private readonly otherHosts: string[] = [];
  private unaddressable = 0;

  constructor(private readonly target: { projectId: string; region: string }) {}

  add(items: readonly EncodeServer[]): this {
    for (const s of items) {
      let server = -1;
      for (const info of s.access_infos) {
        const exposure = exposureLabel(info);
        const address = accessAddress(info, exposure, s.encode_server_ip);
        if (address === undefined) {
          this.unaddressable++;
          continue;
        }
        if (server < 0) server = this.addServer(s);
        const b = bucketIndex(exposure, portTypeLabel(info.type) as SdPortType);
        const host = 'ipv4' in address ? address.ipv4 : this.otherHosts.push(address.host) - 1;
        const kind = 'ipv4' in address ? 0 : OTHER_HOST;
        const listen = info.listen_port !== undefined && Number.isInteger(info.listen_port) && info.listen_port >= 0 && info.listen_port < NO_LISTEN_PORT ? info.listen_port : NO_LISTEN_PORT;
        this.buckets[b]!.push(server, host, address.port | kind, listen);
        this.counts[b]!++;
      }
    }
    return this;
  }

  /** Appends the server's labels to the pending chunk; returns its index. */
  private addServer(s: EncodeServer): number {
    const labels =
      `"__meta_cph_encode_server_id":${q(s.encode_server_id)},"__meta_cph_encode_server_name":${q(s.encode_server_name)},` +
      `"__meta_cph_server_id":${q(s.server_id)},"__meta_cph_status":${q(statusLabel(s.status))}`;
    const bytes = Buffer.byteLength(labels);
    this.servers.push(this.serverChunks.length, this.pendingBytes, this.pendingBytes + bytes);
    this.pending.push(labels);
    this.pendingBytes += bytes;
    if (this.pendingBytes >= AccessPortsBuilder.CHUNK_BYTES) this.flush();
    return this.servers.length / 3 - 1;
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    this.serverChunks.push(Buffer.from(this.pending.join('')));
    this.pending = [];
    this.pendingBytes = 0;
  }

  finish(): TargetAccessPorts {
    this.flush();
    return {
      projectId: this.target.projectId,
      region: this.target.region,
      targetLabels: `"__meta_cph_project_id":${q(this.target.projectId)},"__meta_cph_region":${q(this.target.region)}`,
      serverChunks: this.serverChunks,
      servers: this.servers.finish(),
      buckets: this.buckets.map((b) => b.finish()),
      counts: this.counts,
      otherHosts: this.otherHosts,
      unaddressable: this.unaddressable,
    };
  }
}
