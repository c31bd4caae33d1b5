import type { AccessInfo } from '../cph/types.js';

/** `type` label values: the API's integer `type` of an encode server. */
export const TYPE_LABELS: Readonly<Record<number, string>> = { 0: 'server', 1: 'container' };

export function typeLabel(type: number): string {
  return TYPE_LABELS[type] ?? 'unknown';
}

/**
 * `status` label values for the API's integer `status` of an encode server.
 *
 * The document contradicts itself (ListEncodeServers.md, "Where the document disagrees"):
 * its *response* table says 1 running, 2 abnormal, 3 restarting, 0/4/5 creating, while its
 * *request filter* table says 4 frozen, 5 shut down and 100/1014/0 creating. We follow the
 * response table, because that is the table that describes the values we receive, and add the
 * request table's extra creating codes 100 and 1014. Anything else is `unknown`; the raw number
 * is always kept in `cph_encode_server_info{status_code}` so nothing is lost if the mapping is wrong.
 */
export const STATUS_LABELS: Readonly<Record<number, string>> = {
  0: 'creating',
  1: 'running',
  2: 'abnormal',
  3: 'restarting',
  4: 'creating',
  5: 'creating',
  100: 'creating',
  1014: 'creating',
};

export function statusLabel(status: number): string {
  return STATUS_LABELS[status] ?? 'unknown';
}

/**
 * `status` label values of a cloud-phone server (`Server.status` of ListCloudPhoneServers,
 * NOTES.md §2a). The raw number is kept in `cph_phone_server_info{status_code}`.
 */
export const PHONE_SERVER_STATUS_LABELS: Readonly<Record<number, string>> = {
  0: 'creating',
  1: 'creating',
  3: 'creating',
  4: 'creating',
  2: 'abnormal',
  5: 'running',
  8: 'frozen',
  10: 'shutdown',
  11: 'shutting_down',
  12: 'shutdown_failed',
  13: 'starting',
};

export function phoneServerStatusLabel(status: number): string {
  return PHONE_SERVER_STATUS_LABELS[status] ?? 'unknown';
}

/**
 * `status` label values of a cloud phone (`Phone.status` of ListCloudPhones, NOTES.md §2b). Failures
 * are negative. `0` (creating) was dropped from the model in SDK 0.1.139 but older backends may still
 * send it. The raw number is kept in `cph_phone_info{status_code}`.
 */
export const PHONE_STATUS_LABELS: Readonly<Record<number, string>> = {
  0: 'creating',
  1: 'creating',
  2: 'running',
  3: 'resetting',
  4: 'restarting',
  6: 'frozen',
  7: 'shutting_down',
  8: 'shutdown',
  [-5]: 'reset_failed',
  [-6]: 'restart_failed',
  [-7]: 'abnormal',
  [-8]: 'creation_failed',
  [-9]: 'shutdown_failed',
};

export function phoneStatusLabel(status: number): string {
  return PHONE_STATUS_LABELS[status] ?? 'unknown';
}

/** Port types the API documents; any other string is a user-defined port, reported as `custom`. */
export const KNOWN_PORT_TYPES: ReadonlySet<string> = new Set(['adb', 'vnc', 'cph_app_server', 'cph_h5_server']);

export function portTypeLabel(type: string): string {
  return KNOWN_PORT_TYPES.has(type) ? type : 'custom';
}

/**
 * Whether a port is reachable on a public IP.
 *
 * A non-empty `public_ip` decides. Only a record with no `public_ip` field at all (older
 * records) falls back to the deprecated `access_ip`, and only when it differs from the private
 * address: the document's own example has `access_ip` repeating the private IP beside an empty
 * `public_ip`, so `access_ip` alone does not prove a public exposure.
 */
export function exposureLabel(info: AccessInfo): 'public' | 'private' {
  if (info.public_ip !== undefined) return info.public_ip.trim() !== '' ? 'public' : 'private';
  const access = info.access_ip?.trim() ?? '';
  if (access === '') return 'private';
  const privateIps = [info.server_ip, info.intranet_ip].map((ip) => ip?.trim());
  return privateIps.includes(access) ? 'private' : 'public';
}
