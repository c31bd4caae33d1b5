import { afterEach, describe, expect, it } from 'vitest';
import { request as httpRequest } from 'node:http';
import type { EncodeServer } from '../../src/cph/types.js';
import { signRequest } from '../../src/cph/signer.js';
import { FaultController, parseFaultSpec } from '../../src/simulator/faults.js';
import { createSimulator, type Simulator } from '../../src/simulator/server.js';
import { DEMO, P1, P2, list, listUrl, until } from './helpers.js';

let sims: Simulator[] = [];
async function start(seed = 9): Promise<{ sim: Simulator; base: string }> {
  const sim = createSimulator({
    seed,
    projects: { [P1]: { encodeServers: 250, cloudPhoneServers: 10 }, [P2]: { encodeServers: 20, cloudPhoneServers: 2 } },
  });
  sims.push(sim);
  return { sim, base: await sim.listen() };
}
afterEach(async () => {
  await Promise.all(sims.map((s) => s.close()));
  sims = [];
});

/** A signed request through node:http, reporting network errors and the raw bytes received. */
function rawGet(url: URL, timeoutMs = 5000): Promise<{ status?: number; headers?: Record<string, unknown>; body: Buffer; error?: string }> {
  const headers = signRequest({ method: 'GET', url, headers: {} }, DEMO);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let status: number | undefined;
    let resHeaders: Record<string, unknown> | undefined;
    const req = httpRequest(url, { headers, agent: false, timeout: timeoutMs }, (res) => {
      status = res.statusCode;
      resHeaders = res.headers;
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status, headers: resHeaders, body: Buffer.concat(chunks) }));
      res.on('error', (e) => resolve({ status, headers: resHeaders, body: Buffer.concat(chunks), error: (e as NodeJS.ErrnoException).code ?? e.message }));
    });
    req.on('timeout', () => req.destroy(new Error('client timeout')));
    req.on('error', (e) => resolve({ status, body: Buffer.concat(chunks), error: (e as NodeJS.ErrnoException).code ?? e.message }));
    req.end();
  });
}

describe('fault kinds', () => {
  it('throttle with and without Retry-After', async () => {
    const { sim, base } = await start();
    sim.faults.set({ kind: 'throttle', count: 1, retryAfterSeconds: 3 });
    let r = await list(base, P1);
    expect([r.status, r.json.error_code, r.headers.get('retry-after')]).toEqual([429, 'APIGW.0308', '3']);
    expect(r.json.error_msg).toMatch(/^The throttling threshold has been reached: policy user over ratelimit,limit:\d+,time:1 minute$/);
    expect(r.json.request_id).toBe(r.headers.get('x-request-id'));
    sim.faults.set({ kind: 'throttle-no-retry-after', count: 1 });
    r = await list(base, P1);
    expect([r.status, r.json.error_code, r.headers.get('retry-after')]).toEqual([429, 'APIGW.0308', null]);
    expect((await list(base, P1)).status).toBe(200);
    expect(sim.stats.throttled).toBe(2);
    expect(sim.stats.faultsInjectedOf('throttle')).toBe(1);
  });

  it('5xx JSON errors', async () => {
    const { sim, base } = await start();
    for (const [kind, status] of [
      ['error-500', 500],
      ['error-502', 502],
      ['error-503', 503],
      ['error-504', 504],
    ] as const) {
      sim.faults.set({ kind });
      const r = await list(base, P1);
      expect([r.status, r.headers.get('content-type'), r.json.error_code]).toEqual([status, 'application/json', 'APIGW.0201']);
      expect(r.json.request_id).toBe(r.headers.get('x-request-id'));
    }
    sim.faults.clear();
    expect((await list(base, P1)).status).toBe(200);
  });

  it('HTML 502 page and a 200 with the wrong content type', async () => {
    const { sim, base } = await start();
    sim.faults.set({ kind: 'html-502' });
    let r = await list(base, P1);
    expect([r.status, r.headers.get('content-type')]).toEqual([502, 'text/html']);
    expect(r.text).toContain('<h1>502 Bad Gateway</h1>');
    expect(r.headers.get('x-request-id')).toMatch(/^[0-9a-f]{32}$/);
    sim.faults.set({ kind: 'wrong-content-type' });
    r = await list(base, P1, 'limit=2');
    expect([r.status, r.headers.get('content-type')]).toEqual([200, 'text/html; charset=utf-8']);
    expect(r.json.encode_servers).toHaveLength(2);
    sim.faults.set({ kind: 'wrong-content-type', htmlBody: true });
    r = await list(base, P1);
    expect(r.text).toMatch(/^<!DOCTYPE html>/);
  });

  it('connection reset mid-response', async () => {
    const { sim, base } = await start();
    sim.faults.set({ kind: 'reset', count: 1 });
    const r = await rawGet(listUrl(base, P1));
    expect(r.error).toBeDefined();
    expect(['ECONNRESET', 'aborted']).toContain(r.error);
    await expect(list(base, P1)).resolves.toMatchObject({ status: 200 });
    // fetch sees it as a network error too.
    sim.faults.set({ kind: 'reset', count: 1 });
    await expect(list(base, P1)).rejects.toThrow();
    await until(() => sim.stats.inFlight === 0);
    expect(sim.stats.responsesWithStatus(200)).toBe(1); // resets are not counted as answered
    expect(sim.stats.faultsInjectedOf('reset')).toBe(2);
  });

  it('hang: no answer past the client timeout; cleared faults release the request', async () => {
    const { sim, base } = await start();
    sim.faults.set({ kind: 'hang' });
    const r = await rawGet(listUrl(base, P1), 200);
    expect(r.error).toBe('client timeout');
    await until(() => sim.stats.inFlight === 0);
    // A request hanging when the fault is cleared is answered normally.
    const pending = list(base, P1, 'limit=1');
    await until(() => sim.stats.inFlight === 1);
    await new Promise((res) => setTimeout(res, 50));
    expect(sim.stats.inFlight).toBe(1);
    sim.faults.clear();
    const answered = await pending;
    expect(answered.status).toBe(200);
    expect(answered.json.encode_servers).toHaveLength(1);
  });

  it('malformed and truncated JSON', async () => {
    const { sim, base } = await start();
    sim.faults.set({ kind: 'malformed-json', count: 1 });
    let r = await list(base, P1, 'limit=3');
    expect([r.status, r.headers.get('content-type'), r.json]).toEqual([200, 'application/json', undefined]);
    expect(() => JSON.parse(r.text)).toThrow();

    sim.faults.set({ kind: 'truncated-json', count: 1 });
    const raw = await rawGet(listUrl(base, P1, 'limit=3'));
    expect(raw.error).toBeUndefined();
    expect(raw.status).toBe(200);
    expect(Number(raw.headers?.['content-length'])).toBe(raw.body.length);
    const text = raw.body.toString('utf8');
    expect(text.startsWith('{"request_id":"')).toBe(true);
    expect(() => JSON.parse(text)).toThrow();
    const full = (await list(base, P1, 'limit=3')).text;
    expect(text.length).toBe(Math.floor(full.length / 2));
  });

  it('oversized body, streamed and valid, with and without Content-Length', async () => {
    const { sim, base } = await start();
    sim.faults.set({ kind: 'oversized', count: 1, sizeBytes: 3_000_000, contentLength: true });
    const r = await list(base, P1, 'limit=10');
    expect(r.status).toBe(200);
    expect(Number(r.headers.get('content-length'))).toBe(Buffer.byteLength(r.text));
    expect(Buffer.byteLength(r.text)).toBeGreaterThanOrEqual(3_000_000);
    expect(r.json.encode_servers.length).toBeGreaterThan(3000);

    // Default: 50 MiB, chunked.
    sim.faults.set({ kind: 'oversized', count: 1 });
    const res = await fetch(listUrl(base, P1), { headers: signRequest({ method: 'GET', url: listUrl(base, P1) }, DEMO) });
    expect(res.headers.get('content-length')).toBeNull();
    let bytes = 0;
    let first = '';
    let last = '';
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      if (bytes === 0) first = decoder.decode(chunk.subarray(0, 20));
      last = decoder.decode(chunk.subarray(-2));
      bytes += chunk.length;
    }
    expect(bytes).toBeGreaterThanOrEqual(50 * 1024 * 1024);
    expect(bytes).toBeLessThan(51 * 1024 * 1024);
    expect(first.startsWith('{"request_id":"')).toBe(true);
    expect(last).toBe(']}');

    // A client that gives up early does not keep the simulator busy.
    sim.faults.set({ kind: 'oversized', count: 1 });
    const ac = new AbortController();
    const res2 = await fetch(listUrl(base, P1), { headers: signRequest({ method: 'GET', url: listUrl(base, P1) }, DEMO), signal: ac.signal });
    const reader = res2.body!.getReader();
    await reader.read();
    ac.abort();
    await until(() => sim.stats.inFlight === 0);
  });

  it('wrong field types, missing list, unknown enums', async () => {
    const { sim, base } = await start();
    sim.faults.set({ kind: 'wrong-types', count: 1 });
    let r = await list(base, P1, 'limit=6');
    const items = r.json.encode_servers;
    expect(items[0].type).toBe(String(sim.fleet(P1).items[0]!.type));
    expect(items[1].status).toBeNull();
    expect(items[2].access_infos).toEqual({});
    expect(typeof items[3].encode_server_name).toBe('number');

    sim.faults.set({ kind: 'missing-list', count: 1 });
    r = await list(base, P1);
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ request_id: r.headers.get('x-request-id') });

    sim.faults.set({ kind: 'unknown-enums', count: 1 });
    r = await list(base, P1, 'limit=2');
    for (const e of r.json.encode_servers as EncodeServer[]) {
      expect([e.status, e.type]).toEqual([42, 9]);
      expect(e.access_infos.map((p) => p.type)).toContain('quantum_tunnel');
    }
    // Record-level faults are visible even on an empty page.
    sim.faults.set({ kind: 'unknown-enums', count: 1 });
    expect((await list(base, P1, 'offset=1000')).json.encode_servers).toHaveLength(1);
  });

  it('names that need escaping', async () => {
    const { sim, base } = await start();
    sim.faults.set({ kind: 'weird-names' });
    const r = await list(base, P1, 'limit=10');
    expect(r.status).toBe(200);
    const names: string[] = r.json.encode_servers.map((e: EncodeServer) => e.encode_server_name);
    expect(names.some((n) => Buffer.byteLength(n) > 64)).toBe(true);
    expect(names.some((n) => n.includes('\n'))).toBe(true);
    expect(names.some((n) => n.includes('"') && n.includes('\\'))).toBe(true);
    expect(names.some((n) => /[\u0000-\u0008\u001b]/.test(n))).toBe(true);
    expect(names.some((n) => /[^\u0000-\u007f]/.test(n))).toBe(true);
    expect(r.json.encode_servers.map((e: EncodeServer) => e.keypair_name)).not.toEqual(
      sim.fleet(P1).items.slice(0, 10).map((e) => e.keypair_name),
    );
  });

  it('a page that shifts between two page requests of one listing', async () => {
    const { sim, base } = await start();
    const page0 = (await list(base, P1, 'offset=0&limit=100')).json.encode_servers as EncodeServer[];
    sim.faults.set({ kind: 'shift', by: 3, offset: 100, count: 1 });
    const page1 = (await list(base, P1, 'offset=100&limit=100')).json.encode_servers as EncodeServer[];
    // Three records were inserted at the front, so the last three of page 0 come again.
    expect(page1.slice(0, 3)).toEqual(page0.slice(97));
    expect(sim.fleet(P1).size).toBe(253);

    sim.faults.set({ kind: 'shift', by: -5, offset: 200, count: 1 });
    const before = sim.fleet(P1).items.slice(200, 210).map((e) => e.encode_server_id);
    const page2 = (await list(base, P1, 'offset=200&limit=100')).json.encode_servers as EncodeServer[];
    // Five records were removed at the front, so five records were skipped.
    expect(page2[0]!.encode_server_id).toBe(before[5]);
    expect(sim.fleet(P1).size).toBe(248);
  });

  it('401 bad signature counts toward the lockout; 403 forbidden', async () => {
    const { sim, base } = await start();
    sim.faults.set({ kind: 'bad-signature', count: 5 });
    for (let i = 0; i < 5; i++) {
      const r = await list(base, P1);
      expect([r.status, r.json.error_code, r.json.error_msg]).toEqual([401, 'APIGW.0301', 'verify aksk signature fail']);
    }
    expect(sim.faults.list()).toEqual([]);
    expect(sim.stats.authFailuresFor(DEMO.accessKey)).toBe(5);
    const locked = await list(base, P1);
    expect(locked.json.error_msg).toBe('AK access failed to reach the limit,forbidden');
    sim.clearLockouts();

    sim.faults.set({ kind: 'forbidden', count: 1 });
    const r = await list(base, P1);
    expect([r.status, r.json.error_code]).toEqual([403, 'APIGW.0302']);
    expect((await list(base, P1)).status).toBe(200);
  });
});

describe('fault scoping and triggering', () => {
  it('count applies to the next K requests only', async () => {
    const { sim, base } = await start();
    sim.faults.set({ kind: 'error-502', count: 2 });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await list(base, P1)).status);
    expect(statuses).toEqual([502, 502, 200, 200]);
  });

  it('rate applies to a seeded share, reproducibly', async () => {
    const run = async (): Promise<number[]> => {
      const { sim, base } = await start(77);
      sim.faults.set({ kind: 'error-503', rate: 0.5 });
      const statuses: number[] = [];
      for (let i = 0; i < 40; i++) statuses.push((await list(base, P1, 'limit=1')).status);
      return statuses;
    };
    const a = await run();
    const b = await run();
    expect(b).toEqual(a);
    const faulted = a.filter((s) => s === 503).length;
    expect(faulted).toBeGreaterThan(8);
    expect(faulted).toBeLessThan(32);
    expect(a.filter((s) => s === 200).length).toBe(40 - faulted);
  });

  it('scopes to one project and one page offset', async () => {
    const { sim, base } = await start();
    sim.faults.set([
      { kind: 'error-500', projectId: P2 },
      { kind: 'error-504', offset: 100 },
    ]);
    expect((await list(base, P1)).status).toBe(200);
    expect((await list(base, P2)).status).toBe(500);
    expect((await list(base, P1, 'offset=100')).status).toBe(504);
    expect((await list(base, P1, 'offset=200')).status).toBe(200);
  });

  it('faults do not touch invalid requests or admin routes', async () => {
    const { sim, base } = await start();
    sim.faults.set({ kind: 'error-500', count: 1 });
    expect((await list(base, P1, 'limit=0')).status).toBe(400);
    expect((await list(base, P1, '', { credentials: null })).status).toBe(401);
    expect((await fetch(`${base}/_sim/stats`)).status).toBe(200);
    expect((await list(base, P1)).status).toBe(500);
  });
});

describe('FaultController', () => {
  it('validates specs', () => {
    expect(() => parseFaultSpec({ kind: 'error-500', rate: 2 })).toThrow(/rate/);
    expect(() => parseFaultSpec({ kind: 'error-500', count: 0 })).toThrow(/count/);
    expect(() => parseFaultSpec([])).toThrow();
    expect(parseFaultSpec({ kind: 'shift', by: -2 })).toEqual({ kind: 'shift', by: -2 });
  });

  it('notifies on set and clear, not on add or exhaustion', () => {
    const fc = new FaultController(1);
    let n = 0;
    fc.onChange(() => n++);
    fc.add({ kind: 'hang', count: 1 });
    expect(fc.match({ projectId: 'p', offset: 0 })?.kind).toBe('hang');
    expect(fc.match({ projectId: 'p', offset: 0 })).toBeUndefined();
    expect(n).toBe(0);
    fc.set({ kind: 'forbidden' });
    fc.clear('forbidden');
    expect(n).toBe(2);
  });
});
