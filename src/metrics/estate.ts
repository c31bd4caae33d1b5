import type { CloudPhone, CloudPhoneServer } from '../cph/types.js';
import { RESOURCE_FAMILIES, type ResourceFamilyKey } from './catalog.js';
import { Lines, type TargetKey } from './convert.js';
import { PHONE_STATUS_LABELS, phoneServerStatusLabel, phoneStatusLabel } from './enums.js';
import { escapeLabelValue as esc } from './exposition.js';

/**
 * Conversion of the cloud-phone side of the estate: phone servers (ListCloudPhoneServers) and
 * cloud phones (ListCloudPhones). Pure, linear, fed page by page.
 */

/** The rendered sample lines of one resource of one target, by family, as UTF-8 chunks of whole lines. */
export interface ResourceSeries {
  families: Partial<Record<ResourceFamilyKey, readonly Buffer[]>>;
  /** Records converted (phone servers, phones). */
  count: number;
}

const { phoneServers: PS, phoneServerInfo: PSI, phones: PH, phoneInfo: PI } = RESOURCE_FAMILIES;

const targetLabels = (t: TargetKey): string => `project_id="${esc(t.projectId)}",region="${esc(t.region)}"`;

/** `cph_phone_servers` (1 per server) and `cph_phone_server_info`, one line each per server. */
export class PhoneServerSeriesBuilder {
  private readonly servers = new Lines();
  private readonly info = new Lines();
  private readonly labels: string;
  private count = 0;

  constructor(target: TargetKey) {
    this.labels = targetLabels(target);
  }

  add(items: readonly CloudPhoneServer[]): this {
    for (const s of items) {
      const id = esc(s.server_id);
      this.servers.push(`${PS.name}{${this.labels},server_id="${id}",status="${phoneServerStatusLabel(s.status)}"} 1\n`);
      this.info.push(
        `${PSI.name}{${this.labels},server_id="${id}",server_name="${esc(s.server_name)}",server_model_name="${esc(s.server_model_name)}",` +
          `phone_model_name="${esc(s.phone_model_name)}",availability_zone="${esc(s.availability_zone)}",` +
          `network_version="${esc(s.network_version)}",status_code="${s.status}"} 1\n`,
      );
      this.count++;
    }
    return this;
  }

  finish(): ResourceSeries {
    return { families: { phoneServers: this.servers.toChunks(), phoneServerInfo: this.info.toChunks() }, count: this.count };
  }
}

/** Every `status` label of a phone, `unknown` last: the index of a label in a server's counts. */
const PHONE_STATUSES: readonly string[] = [...new Set(Object.values(PHONE_STATUS_LABELS)), 'unknown'];
const PHONE_STATUS_INDEX = new Map(PHONE_STATUSES.map((label, i) => [label, i]));

/**
 * `cph_phones{server_id, status}`: phones counted per server and status as pages arrive, so memory
 * grows with the number of servers, not of phones (a server's counts are one small typed array).
 * `cph_phone_info`, one line per phone, only when asked for. Lines are written sorted by server_id,
 * whatever order the pages came in.
 */
export class PhoneSeriesBuilder {
  private readonly byServer = new Map<string, Uint32Array>();
  private readonly info = new Lines();
  private readonly labels: string;
  private count = 0;

  constructor(
    target: TargetKey,
    private readonly withInfo: boolean,
  ) {
    this.labels = targetLabels(target);
  }

  add(items: readonly CloudPhone[]): this {
    for (const p of items) {
      const status = phoneStatusLabel(p.status);
      let counts = this.byServer.get(p.server_id);
      if (!counts) {
        counts = new Uint32Array(PHONE_STATUSES.length);
        this.byServer.set(p.server_id, counts);
      }
      (counts[PHONE_STATUS_INDEX.get(status) as number] as number)++;
      if (this.withInfo) {
        this.info.push(
          `${PI.name}{${this.labels},phone_id="${esc(p.phone_id)}",phone_name="${esc(p.phone_name)}",server_id="${esc(p.server_id)}",` +
            `status="${status}",status_code="${p.status}",phone_model_name="${esc(p.phone_model_name)}",image_version="${esc(p.image_version)}",` +
            `vnc_enabled="${esc(p.vnc_enable)}",traffic_type="${esc(p.traffic_type)}"} 1\n`,
        );
      }
      this.count++;
    }
    return this;
  }

  finish(): ResourceSeries {
    const lines = new Lines();
    const start = `${PH.name}{${this.labels},server_id="`;
    for (const serverId of [...this.byServer.keys()].sort()) {
      const counts = this.byServer.get(serverId) as Uint32Array;
      const id = esc(serverId);
      for (let i = 0; i < counts.length; i++) {
        // Only the statuses a server has: a series per server and possible status would be 13x the series.
        if (counts[i] !== 0) lines.push(`${start}${id}",status="${PHONE_STATUSES[i]}"} ${counts[i]}\n`);
      }
    }
    return {
      families: { phones: lines.toChunks(), ...(this.withInfo ? { phoneInfo: this.info.toChunks() } : {}) },
      count: this.count,
    };
  }
}
