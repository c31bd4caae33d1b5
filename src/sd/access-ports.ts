/**
 * Access ports of encode servers as Prometheus HTTP service discovery target groups (`http_sd_config`):
 * one group per port, `{"targets":["host:port"],"labels":{"__meta_cph_…":"…"}}`, so that blackbox_exporter
 * can probe every public ADB, VNC and H5 port the inventory lists.
 *
 * Pure: no I/O, no clock. A target's groups are rendered once, while its listing is converted, into JSON
 * fragments sorted into buckets by exposure and port type (the endpoint's filters); an answer is then a
 * concatenation of buckets, never a re-rendering (see prepared.ts).
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

/** One (project_id, region) target's access ports, as rendered JSON fragments. */
export interface TargetAccessPorts {
  readonly projectId: string;
  readonly region: string;
  /**
   * By `bucketIndex`: UTF-8 chunks of target groups, each group preceded by a comma (`,{…}`), so that
   * any sequence of chunks becomes a JSON array by dropping the first byte and adding brackets.
   */
  readonly buckets: readonly (readonly Buffer[])[];
  /** Target groups in each bucket. */
  readonly counts: readonly number[];
  /**
   * Ports left out because they have no usable address: a public port without a valid `access_port`,
   * a private one without a valid `listen_port`, or an IP that is not an IP address or host name.
   * cph_encode_server_ports still counts them.
   */
  readonly unaddressable: number;
}

/** `host:port` for Prometheus: IPv6 in brackets; undefined when either part is unusable. */
export function hostPort(host: string | undefined, port: number | undefined): string | undefined {
  const h = host?.trim() ?? '';
  if (port === undefined || !Number.isInteger(port) || port < 1 || port > 65535 || h === '') return undefined;
  if (isIPv6(h)) return `[${h}]:${port}`;
  if (isIPv4(h) || /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(h)) {
    return `${h}:${port}`;
  }
  return undefined;
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
export function accessAddress(info: AccessInfo, exposure: SdExposure, encodeServerIp: string): string | undefined {
  if (exposure === 'public') return hostPort(nonEmpty(info.public_ip) ?? nonEmpty(info.access_ip), info.access_port);
  const host = nonEmpty(info.server_ip) ?? nonEmpty(info.intranet_ip) ?? nonEmpty(info.access_ip) ?? nonEmpty(encodeServerIp);
  return hostPort(host, info.listen_port);
}

/** Fragments of one bucket, joined a few hundred at a time (as metrics/convert.ts does, for the same reasons). */
class Bucket {
  private static readonly BATCH = 256;
  readonly chunks: Buffer[] = [];
  private pending: string[] = [];
  count = 0;

  push(fragment: string): void {
    this.pending.push(fragment);
    this.count++;
    if (this.pending.length === Bucket.BATCH) this.flush();
  }

  flush(): void {
    if (this.pending.length === 0) return;
    this.chunks.push(Buffer.from(this.pending.join('')));
    this.pending = [];
  }
}

const q = (s: string): string => JSON.stringify(s);

/**
 * Renders one target's access ports, in listing order, as pages arrive (`add` can be called per page).
 * Every label value is a JSON string; the labels are the endpoint's documented set.
 */
export class AccessPortsBuilder {
  private readonly buckets = Array.from({ length: BUCKETS }, () => new Bucket());
  private readonly targetLabels: string;
  private unaddressable = 0;

  constructor(private readonly target: { projectId: string; region: string }) {
    this.targetLabels = `"__meta_cph_project_id":${q(target.projectId)},"__meta_cph_region":${q(target.region)}`;
  }

  add(items: readonly EncodeServer[]): this {
    for (const s of items) {
      if (s.access_infos.length === 0) continue;
      const serverLabels =
        `${this.targetLabels},"__meta_cph_encode_server_id":${q(s.encode_server_id)},"__meta_cph_encode_server_name":${q(s.encode_server_name)},` +
        `"__meta_cph_server_id":${q(s.server_id)},"__meta_cph_status":${q(statusLabel(s.status))}`;
      for (const info of s.access_infos) {
        const exposure = exposureLabel(info);
        const address = accessAddress(info, exposure, s.encode_server_ip);
        if (address === undefined) {
          this.unaddressable++;
          continue;
        }
        const portType = portTypeLabel(info.type) as SdPortType;
        const listenPort = info.listen_port === undefined ? '' : String(info.listen_port);
        (this.buckets[bucketIndex(exposure, portType)] as Bucket).push(
          `,{"targets":[${q(address)}],"labels":{${serverLabels},"__meta_cph_port_type":"${portType}","__meta_cph_exposure":"${exposure}","__meta_cph_listen_port":${q(listenPort)}}}`,
        );
      }
    }
    return this;
  }

  finish(): TargetAccessPorts {
    for (const b of this.buckets) b.flush();
    return {
      projectId: this.target.projectId,
      region: this.target.region,
      buckets: this.buckets.map((b) => b.chunks),
      counts: this.buckets.map((b) => b.count),
      unaddressable: this.unaddressable,
    };
  }
}
