import { CphApiError } from './errors.js';
import type { AccessInfo, CloudPhone, CloudPhoneServer, CountedPage, EncodeServer, ListEncodeServersResponse } from './types.js';

/**
 * Longest string we accept in any field. The document caps names at 64 bytes and IDs at 32;
 * we allow far more so that a harmless API change does not fail a whole fleet, but refuse
 * megabyte-long "names" that would bloat every scrape.
 */
export const MAX_FIELD_LENGTH = 1024;

type Json = Record<string, unknown>;

class Invalid extends Error {}

function fail(path: string, what: string): never {
  throw new Invalid(`${path}: ${what}`);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/**
 * Lone surrogates (JSON.parse makes them from "\ud800") become U+FFFD here, as they would anyway in
 * the UTF-8 exposition. Done later, two ids or server ids differing only in them would pass the
 * pager's de-duplication and then render as duplicate series.
 */
const toWellFormed = (s: string): string => (s as string & { toWellFormed(): string }).toWellFormed();

function requiredString(o: Json, key: string, path: string): string {
  const v = o[key];
  if (typeof v !== 'string') fail(`${path}.${key}`, `expected string, got ${describe(v)}`);
  if (v.length > MAX_FIELD_LENGTH) fail(`${path}.${key}`, `longer than ${MAX_FIELD_LENGTH} characters`);
  return toWellFormed(v);
}

/** Absent or null is "not given" (older records omit fields); any other non-string is an error. */
function optionalString(o: Json, key: string, path: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') fail(`${path}.${key}`, `expected string, got ${describe(v)}`);
  if (v.length > MAX_FIELD_LENGTH) fail(`${path}.${key}`, `longer than ${MAX_FIELD_LENGTH} characters`);
  return toWellFormed(v);
}

function requiredInteger(o: Json, key: string, path: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) fail(`${path}.${key}`, `expected integer, got ${describe(v)}`);
  return v;
}

function optionalInteger(o: Json, key: string, path: string): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) fail(`${path}.${key}`, `expected integer, got ${describe(v)}`);
  return v;
}

function object(v: unknown, path: string): Json {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(path, `expected object, got ${describe(v)}`);
  return v as Json;
}

function accessInfo(v: unknown, path: string): AccessInfo {
  const o = object(v, path);
  return {
    type: requiredString(o, 'type', path),
    listen_port: optionalInteger(o, 'listen_port', path),
    access_port: optionalInteger(o, 'access_port', path),
    public_ip: optionalString(o, 'public_ip', path),
    server_ip: optionalString(o, 'server_ip', path),
    access_ip: optionalString(o, 'access_ip', path),
    intranet_ip: optionalString(o, 'intranet_ip', path),
  };
}

function encodeServer(v: unknown, path: string): EncodeServer {
  const o = object(v, path);
  const id = requiredString(o, 'encode_server_id', path);
  if (id === '') fail(`${path}.encode_server_id`, 'empty');
  const infos = o['access_infos'];
  let access_infos: AccessInfo[] = [];
  if (infos !== undefined && infos !== null) {
    if (!Array.isArray(infos)) fail(`${path}.access_infos`, `expected array, got ${describe(infos)}`);
    access_infos = infos.map((info, i) => accessInfo(info, `${path}.access_infos[${i}]`));
  }
  return {
    encode_server_id: id,
    server_id: requiredString(o, 'server_id', path),
    type: requiredInteger(o, 'type', path),
    status: requiredInteger(o, 'status', path),
    // Descriptive fields: older or partial records may omit them; they become "" labels, never `undefined`.
    encode_server_name: optionalString(o, 'encode_server_name', path) ?? '',
    encode_server_ip: optionalString(o, 'encode_server_ip', path) ?? '',
    keypair_name: optionalString(o, 'keypair_name', path) ?? '',
    access_infos,
  };
}

/**
 * Turns an untrusted, already JSON-parsed body into a typed response, or throws a
 * `CPH_BAD_RESPONSE` error naming the first offending field (e.g. `encode_servers[3].status`).
 * Unknown extra fields are ignored: the API adds fields over time (`encode_server_ipv6`).
 */
export function validateListEncodeServersResponse(body: unknown, requestId?: string): ListEncodeServersResponse {
  try {
    const o = object(body, 'body');
    const list = o['encode_servers'];
    if (!Array.isArray(list)) fail('encode_servers', list === undefined ? 'missing' : `expected array, got ${describe(list)}`);
    return {
      request_id: optionalString(o, 'request_id', 'body'),
      encode_servers: list.map((item, i) => encodeServer(item, `encode_servers[${i}]`)),
    };
  } catch (err) {
    if (err instanceof Invalid) {
      throw new CphApiError('CPH_BAD_RESPONSE', `invalid ListEncodeServers response: ${err.message}`, { status: 200, requestId });
    }
    throw err;
  }
}

function nonEmptyId(o: Json, key: string, path: string): string {
  const id = requiredString(o, key, path);
  if (id === '') fail(`${path}.${key}`, 'empty');
  return id;
}

/** Descriptive string fields: absent or null become "" (older records omit fields), never `undefined` labels. */
function texts<K extends string>(o: Json, keys: readonly K[], path: string): Record<K, string> {
  const out = {} as Record<K, string>;
  for (const key of keys) out[key] = optionalString(o, key, path) ?? '';
  return out;
}

function cloudPhoneServer(v: unknown, path: string): CloudPhoneServer {
  const o = object(v, path);
  return {
    server_id: nonEmptyId(o, 'server_id', path),
    status: requiredInteger(o, 'status', path),
    ...texts(o, ['server_name', 'server_model_name', 'phone_model_name', 'availability_zone', 'network_version'], path),
  };
}

function cloudPhone(v: unknown, path: string): CloudPhone {
  const o = object(v, path);
  return {
    phone_id: nonEmptyId(o, 'phone_id', path),
    // A phone always belongs to a server: without it the phone cannot be counted anywhere.
    server_id: requiredString(o, 'server_id', path),
    status: requiredInteger(o, 'status', path),
    ...texts(o, ['phone_name', 'phone_model_name', 'image_version', 'vnc_enable', 'traffic_type'], path),
  };
}

/**
 * A page of a list API with a total: `{request_id, count, <listKey>: [...]}`. `count` is required:
 * the pager plans the listing from it (NOTES.md §2: present since SDK 0.1.60, 2023-09).
 */
function validateCountedPage<T>(
  operation: string,
  listKey: string,
  item: (v: unknown, path: string) => T,
  body: unknown,
  requestId: string | undefined,
): CountedPage<T> {
  try {
    const o = object(body, 'body');
    const list = o[listKey];
    if (!Array.isArray(list)) fail(listKey, list === undefined ? 'missing' : `expected array, got ${describe(list)}`);
    const count = o['count'];
    if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) {
      fail('count', count === undefined ? 'missing' : `expected a non-negative integer, got ${describe(count)}`);
    }
    return {
      request_id: optionalString(o, 'request_id', 'body'),
      count,
      items: list.map((v, i) => item(v, `${listKey}[${i}]`)),
    };
  } catch (err) {
    if (err instanceof Invalid) {
      throw new CphApiError('CPH_BAD_RESPONSE', `invalid ${operation} response: ${err.message}`, { status: 200, requestId });
    }
    throw err;
  }
}

/** ListCloudPhoneServers: `{request_id, count, servers}`; unknown fields are ignored. */
export function validateListCloudPhoneServersResponse(body: unknown, requestId?: string): CountedPage<CloudPhoneServer> {
  return validateCountedPage('ListCloudPhoneServers', 'servers', cloudPhoneServer, body, requestId);
}

/** ListCloudPhones: `{request_id, count, phones}`; unknown fields are ignored. */
export function validateListCloudPhonesResponse(body: unknown, requestId?: string): CountedPage<CloudPhone> {
  return validateCountedPage('ListCloudPhones', 'phones', cloudPhone, body, requestId);
}
