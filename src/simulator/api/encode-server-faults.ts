/**
 * What each fault of the catalogue (../faults.ts) does to a ListEncodeServers answer, and the record-level mutations
 * (wrong types, unknown enums, weird names).
 */
import type { EncodeServer } from '../../cph/types.js';
import type { Exchange } from '../exchange.js';
import {
  FORBIDDEN_ERRORS,
  UNAUTHORIZED_ERRORS,
  WEIRD_NAMES,
  type FaultSpec,
  type ForbiddenError,
  type UnauthorizedError,
} from '../faults.js';
import { Fleet, type FleetFilter } from '../fleet.js';
import { ERR_SIGNATURE } from '../gateway/gateway.js';

const HTML_502 =
  '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n' +
  '<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n';
const HTML_200 =
  '<!DOCTYPE html><html><head><title>Security check</title></head><body><p>Please enable JavaScript to continue.</p></body></html>\n';

export interface EncodeServerQuery {
  offset: number;
  limit: number;
  filter: FleetFilter;
}

/** A 200 body. Only the requested page is serialised (records are not cached as JSON, to keep memory flat). */
export function pageBody(requestId: string, items: readonly unknown[]): string {
  return JSON.stringify({ request_id: requestId, encode_servers: items });
}

/** The listing a fault applies to. */
export interface FaultTarget {
  fleet: Fleet;
  query: EncodeServerQuery;
  /** The simulator's seed (for a sample record when the fleet is empty). */
  seed: number;
}

const THROTTLE_MSG = 'The throttling threshold has been reached: policy user over ratelimit,limit:12000,time:1 minute';

/**
 * Applies a fault that answers without the page (the gateway's and the network's faults), the same for every API,
 * after the fault's `delayMs`.
 * Returns undefined when the fault's kind needs the page; true when answered; false when the request should then
 * be answered normally (a released hang).
 */
export async function applyAnswerFault(fault: FaultSpec, ex: Exchange): Promise<boolean | undefined> {
  if (fault.delayMs) {
    await ex.sleep(fault.delayMs);
    if (ex.gone()) return true;
  }
  switch (fault.kind) {
    case 'throttle':
      ex.error(429, 'APIGW.0308', THROTTLE_MSG, { 'Retry-After': fault.retryAfterSeconds ?? 1 });
      return true;
    case 'throttle-no-retry-after':
      ex.error(429, 'APIGW.0308', THROTTLE_MSG);
      return true;
    case 'error-500':
      ex.error(500, 'APIGW.0201', 'An unexpected error occurred');
      return true;
    case 'error-502':
      ex.error(502, 'APIGW.0201', 'Backend unavailable');
      return true;
    case 'error-503':
      ex.error(503, 'APIGW.0201', 'Service temporarily unavailable');
      return true;
    case 'error-504':
      ex.error(504, 'APIGW.0201', 'Backend timeout');
      return true;
    case 'html-502':
      ex.send(502, HTML_502, 'text/html');
      return true;
    case 'hang':
      await ex.hang();
      return false;
    case 'bad-signature':
      ex.error(401, 'APIGW.0301', ERR_SIGNATURE); // the gateway counts it toward the lockout
      return true;
    case 'unauthorized': {
      const body = UNAUTHORIZED_ERRORS[(fault.error ?? 'signature') as UnauthorizedError];
      ex.error(401, body.code, body.msg);
      return true;
    }
    case 'forbidden': {
      const body = FORBIDDEN_ERRORS[(fault.error ?? 'not-authorized') as ForbiddenError];
      ex.error(403, body.code, body.msg);
      return true;
    }
    default:
      return undefined;
  }
}

/** Sends `body` with `Content-Length`, then resets the connection halfway through it. */
export function sendAndReset(ex: Exchange, body: Buffer): void {
  ex.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': body.length });
  const socket = ex.req.socket;
  ex.res.write(body.subarray(0, Math.max(1, body.length >> 1)), () => {
    if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
    else socket.destroy();
  });
}

/** Applies a fault; returns false when the request should then be answered normally. */
export async function applyFault(fault: FaultSpec, ex: Exchange, target: FaultTarget): Promise<boolean> {
  const answered = await applyAnswerFault(fault, ex);
  if (answered !== undefined) return answered;
  const { fleet, query } = target;
  const { requestId } = ex;
  const page = (): EncodeServer[] => fleet.page(query.offset, query.limit, query.filter);
  /** The page, or one record when it is empty, so that record-level faults are always visible. */
  const nonEmptyPage = (): EncodeServer[] => {
    const p = page();
    if (p.length > 0) return p;
    const sample = fleet.items[0] ?? new Fleet({ seed: target.seed, encodeServers: 1, cloudPhoneServers: 1 }).items[0];
    return sample ? [sample] : [];
  };

  switch (fault.kind) {
    case 'wrong-content-type':
      ex.send(200, fault.htmlBody ? HTML_200 : pageBody(requestId, page()), 'text/html; charset=utf-8');
      return true;
    case 'reset':
      sendAndReset(ex, Buffer.from(pageBody(requestId, nonEmptyPage()), 'utf8'));
      return true;
    case 'malformed-json': {
      const parts = page().map((r) => JSON.stringify(r));
      ex.send(200, `{"request_id":"${requestId}","encode_servers":[${parts.join(',')},]}`);
      return true;
    }
    case 'truncated-json': {
      const body = Buffer.from(pageBody(requestId, nonEmptyPage()), 'utf8');
      ex.send(200, body.subarray(0, body.length >> 1));
      return true;
    }
    case 'oversized':
      await sendOversized(ex, requestId, nonEmptyPage(), fault.sizeBytes ?? 50 * 1024 * 1024, fault.contentLength === true);
      return true;
    case 'wrong-types':
      ex.send(200, pageBody(requestId, nonEmptyPage().map(wrongTypes)));
      return true;
    case 'missing-list':
      ex.send(200, JSON.stringify({ request_id: requestId }));
      return true;
    case 'unknown-enums':
      ex.send(200, pageBody(requestId, nonEmptyPage().map(unknownEnums)));
      return true;
    case 'weird-names':
      ex.send(200, pageBody(requestId, nonEmptyPage().map(weirdNames)));
      return true;
    case 'shift': {
      const by = fault.by ?? 5;
      if (by > 0) fleet.add(by, 0);
      else if (by < 0) fleet.removeAt(0, -by);
      return false;
    }
    default:
      return false; // including fleet-change, applied after the answer: see changeFleet
  }
}

export { HTML_200 };

/** A `fleet-change` fault, applied once its page has been answered: delete `remove` at `at`, then insert `insert` there. */
export function changeFleet(fleet: Fleet, fault: FaultSpec): void {
  const at = Math.min(fault.at ?? 0, fleet.size);
  if ((fault.remove ?? 0) > 0) fleet.removeAt(at, fault.remove as number);
  if ((fault.insert ?? 0) > 0) fleet.add(fault.insert as number, Math.min(at, fleet.size));
}

/** Streams a valid JSON page of about `size` bytes without building it in memory. */
async function sendOversized(
  ex: Exchange,
  requestId: string,
  sample: readonly EncodeServer[],
  size: number,
  withLength: boolean,
): Promise<void> {
  const { res } = ex;
  const head = Buffer.from(`{"request_id":"${requestId}","encode_servers":[`, 'utf8');
  const tail = Buffer.from(']}', 'utf8');
  const batch = sample.map((r) => JSON.stringify(r)).join(',');
  const batchLen = Buffer.byteLength(batch, 'utf8');
  const unit = batchLen + 1; // "," + batch
  const repeats = Math.max(0, Math.ceil((size - head.length - tail.length - batchLen) / unit));
  const total = head.length + batchLen + repeats * unit + tail.length;
  const perChunk = Math.max(1, Math.floor((64 * 1024) / unit));
  const chunk = Buffer.from(`,${batch}`.repeat(perChunk), 'utf8');

  ex.writeHead(200, { 'Content-Type': 'application/json', ...(withLength ? { 'Content-Length': total } : {}) });
  const write = async (buf: Buffer): Promise<boolean> => {
    if (ex.gone()) return false;
    if (!res.write(buf)) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          res.off('drain', done);
          res.off('close', done);
          forget();
          resolve();
        };
        res.on('drain', done);
        res.on('close', done);
        const forget = ex.onClose(done);
      });
    }
    return !ex.gone();
  };
  if (!(await write(head)) || !(await write(Buffer.from(batch, 'utf8')))) return;
  let left = repeats;
  while (left > 0) {
    const n = Math.min(left, perChunk);
    if (!(await write(n === perChunk ? chunk : chunk.subarray(0, n * unit)))) return;
    left -= n;
  }
  if (!ex.gone()) res.end(tail);
}

// ---- record-level faults ----------------------------------------------------------------------------------

function wrongTypes(r: EncodeServer, k: number): unknown {
  const o: Record<string, unknown> = { ...r };
  switch (k % 6) {
    case 0:
      o.type = String(r.type);
      break;
    case 1:
      o.status = null;
      break;
    case 2:
      o.access_infos = {};
      break;
    case 3:
      o.encode_server_name = 12345;
      break;
    case 4:
      o.access_infos =
        r.access_infos.length > 0
          ? r.access_infos.map((p, i) => (i === 0 ? { ...p, listen_port: String(p.listen_port) } : p))
          : null;
      break;
    default:
      o.status = String(r.status);
  }
  return o;
}

function unknownEnums(r: EncodeServer): unknown {
  const priv = r.access_infos[0]?.server_ip ?? r.access_infos[0]?.intranet_ip ?? '172.16.0.1';
  return {
    ...r,
    type: 9,
    status: 42,
    access_infos: [
      ...r.access_infos,
      { listen_port: 9999, access_port: 9999, server_ip: priv, public_ip: '', type: 'quantum_tunnel' },
    ],
  };
}

function weirdNames(r: EncodeServer, k: number): unknown {
  return {
    ...r,
    encode_server_name: WEIRD_NAMES[k % WEIRD_NAMES.length],
    keypair_name: WEIRD_NAMES[(k + 3) % WEIRD_NAMES.length],
  };
}

