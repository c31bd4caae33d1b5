/** Shared helpers of the simulator tests: signed requests against a running simulator. */
import { signRequest } from '../../src/cph/signer.js';
import type { Credentials } from '../../src/cph/types.js';
import { DEMO_ACCESS_KEY, DEMO_SECRET_KEY } from '../../src/simulator/demo-credentials.js';

export const DEMO: Credentials = { accessKey: DEMO_ACCESS_KEY, secretKey: DEMO_SECRET_KEY };
export const P1 = 'a0000000000000000000000000000001';
export const P2 = 'a0000000000000000000000000000002';

export interface CallOptions {
  credentials?: Credentials | null;
  headers?: Record<string, string>;
  method?: string;
  signal?: AbortSignal;
}

export interface CallResult {
  status: number;
  headers: Headers;
  text: string;
  /** Parsed body, or undefined when it is not JSON. */
  json: any;
}

export function listUrl(base: string, projectId: string, query = ''): URL {
  return new URL(`${base}/v1/${projectId}/cloud-phone/encode-servers${query ? `?${query}` : ''}`);
}

/** A signed request (with the demo credentials unless told otherwise); reads the whole body. */
export async function call(url: URL, opts: CallOptions = {}): Promise<CallResult> {
  const method = opts.method ?? 'GET';
  const credentials = opts.credentials === undefined ? DEMO : opts.credentials;
  const headers = credentials ? signRequest({ method, url, headers: opts.headers ?? {} }, credentials) : (opts.headers ?? {});
  const res = await fetch(url, { method, headers, ...(opts.signal ? { signal: opts.signal } : {}) });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

export function list(base: string, projectId: string, query = '', opts: CallOptions = {}): Promise<CallResult> {
  return call(listUrl(base, projectId, query), opts);
}

/**
 * Waits until `predicate` holds (an event the test cannot subscribe to, e.g. a request reaching the simulator).
 * `timeoutMs` only turns a hung test into a clear failure; no test asserts how long anything took.
 */
export async function until(predicate: () => boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Admin request (no signature). */
export async function admin(base: string, method: string, path: string, body?: unknown): Promise<CallResult> {
  const res = await fetch(`${base}${path}`, {
    method,
    ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** The headers as Node's HTTP server would present them: lowercase names, plus Host as the client sent it. */
export function incoming(url: URL, sent: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = { host: url.host };
  for (const [k, v] of Object.entries(sent)) out[k.toLowerCase()] = v;
  return out;
}
