import { gunzipSync } from 'node:zlib';
import bcrypt from 'bcryptjs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { prepareExposition } from '../../src/metrics/prepared.js';
import { SelfMetrics } from '../../src/metrics/self.js';
import { PreparedAccessPorts } from '../../src/sd/prepared.js';
import { createApp, wantsOpenMetrics } from '../../src/server/app.js';
import { BasicAuth } from '../../src/server/basic-auth.js';
import { listen, parseListenAddress, type RunningServer } from '../../src/server/listen.js';

/* The HTTP routes, in-process on port 0, with a store stand-in whose state the test sets. */

const store = { ready: false, text: '# HELP cph_encode_servers x.\n# TYPE cph_encode_servers gauge\ncph_encode_servers{project_id="p"} 3\n' };
const storeView = {
  get resources() {
    return { generation: 1, text: store.text, prepared: prepareExposition([Buffer.from(store.text)]), accessPorts: new PreparedAccessPorts([]) };
  },
  isReady: () => store.ready,
};

async function serve(options: { basicAuth?: BasicAuth } = {}): Promise<RunningServer> {
  const metrics = new SelfMetrics({ version: '1.2.3', revision: 'abc' }, { processMetrics: false });
  return listen(createApp({ store: storeView, metrics, version: '1.2.3', basicAuth: options.basicAuth }), { host: '127.0.0.1', port: 0 });
}

describe('routes', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await serve();
  });
  afterAll(async () => {
    await server.close();
  });

  it('/readyz is 503 until the first poll of every target, then 200; /healthz is always 200', async () => {
    store.ready = false;
    expect((await fetch(`${server.url}/readyz`)).status).toBe(503);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    store.ready = true;
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
  });

  it('/ is a landing page linking to the others', async () => {
    const res = await fetch(`${server.url}/`);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    for (const link of ['metrics', 'sd/access-ports', 'healthz', 'readyz']) expect(html).toContain(`href="${link}"`);
  });

  it('answers 404 for unknown paths and 405 for other methods, without echoing the request', async () => {
    const res = await fetch(`${server.url}/<script>alert(1)</script>`);
    expect(res.status).toBe(404);
    expect(await res.text()).toBe('not found\n');
    const post = await fetch(`${server.url}/metrics`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect(res.headers.get('x-powered-by')).toBeNull();
  });

  it('/metrics negotiates OpenMetrics and gzip', async () => {
    const plain = await fetch(`${server.url}/metrics`, { headers: { 'Accept-Encoding': 'identity' } });
    expect(plain.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await plain.text();
    expect(text.startsWith(store.text)).toBe(true);

    // What Prometheus 2.x sends by default.
    const accept = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
    const om = await fetch(`${server.url}/metrics`, { headers: { Accept: accept } });
    expect(om.headers.get('content-type')).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    expect((await om.text()).endsWith('# EOF\n')).toBe(true);

    const http = await import('node:http');
    const get = (acceptEncoding: string) =>
      new Promise<{ encoding?: string; body: Buffer }>((resolve, reject) => {
        http.get(`${server.url}/metrics`, { headers: { 'Accept-Encoding': acceptEncoding } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ encoding: res.headers['content-encoding'], body: Buffer.concat(chunks) }));
        }).on('error', reject);
      });
    // RFC 9110: any q-value above 0 accepts (a lower preference is still a yes); only q=0 refuses.
    for (const acceptEncoding of ['gzip', 'gzip;q=0.5', 'deflate, gzip;q=0.1']) {
      const gz = await get(acceptEncoding);
      expect(gz.encoding, acceptEncoding).toBe('gzip');
      expect(gunzipSync(gz.body).toString()).toBe(text); // the same exposition, compressed
    }
    for (const acceptEncoding of ['gzip;q=0', '*, gzip;q=0']) {
      const refused = await get(acceptEncoding);
      expect(refused.encoding, acceptEncoding).toBeUndefined();
      expect(refused.body.toString()).toBe(text);
    }
  });

  it('answers only the exact paths: another case or a trailing slash is 404; other methods on the five paths are 405', async () => {
    for (const path of ['/METRICS', '/Metrics', '/metrics/', '/HEALTHZ', '/healthz/', '/readyz/', '/READYZ', '/sd/access-ports/', '/SD/access-ports', '/sd']) {
      const res = await fetch(`${server.url}${path}`);
      expect(res.status, path).toBe(404);
      expect(await res.text()).toBe('not found\n');
      expect((await fetch(`${server.url}${path}`, { method: 'POST' })).status, `POST ${path}`).toBe(404);
    }
    for (const path of ['/', '/metrics', '/sd/access-ports', '/healthz', '/readyz']) {
      for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
        const res = await fetch(`${server.url}${path}`, { method });
        expect(res.status, `${method} ${path}`).toBe(405);
        expect(res.headers.get('allow')).toBe('GET, HEAD');
      }
      expect((await fetch(`${server.url}${path}`, { method: 'HEAD' })).status, `HEAD ${path}`).not.toBe(405);
    }
    expect((await fetch(`${server.url}/metrics?x=1`)).status).toBe(200);
  });

  it('a failed compression answers a plain 500, without a gzip Content-Encoding', async () => {
    const text = `# HELP cph_encode_servers x.\n# TYPE cph_encode_servers gauge\n${'cph_encode_servers{project_id="p"} 3\n'.repeat(100)}`;
    const gzip = Promise.reject(new Error('deflate failed'));
    gzip.catch(() => undefined);
    const broken = {
      resources: { generation: 1, text, prepared: { chunks: [Buffer.from(text)], length: Buffer.byteLength(text), gzip }, accessPorts: new PreparedAccessPorts([]) },
      isReady: () => true,
    };
    const metrics = new SelfMetrics({ version: '1.2.3', revision: 'abc' }, { processMetrics: false });
    const failing = await listen(createApp({ store: broken, metrics, version: '1.2.3' }), { host: '127.0.0.1', port: 0 });
    try {
      const http = await import('node:http');
      const res = await new Promise<{ status?: number; encoding?: string; body: string }>((resolve, reject) => {
        http.get(`${failing.url}/metrics`, { headers: { 'Accept-Encoding': 'gzip' } }, (r) => {
          let body = '';
          r.setEncoding('utf8');
          r.on('data', (c: string) => (body += c));
          r.on('end', () => resolve({ status: r.statusCode, encoding: r.headers['content-encoding'], body }));
        }).on('error', reject);
      });
      expect(res).toEqual({ status: 500, encoding: undefined, body: 'internal error\n' });
    } finally {
      await failing.close();
    }
  });

  it.each([
    ['application/openmetrics-text; version=1.0.0', true],
    ['application/openmetrics-text;q=0', false],
    ['text/plain;version=0.0.4', false],
    [undefined, false],
  ])('wantsOpenMetrics(%s) is %s', (accept, expected) => expect(wantsOpenMetrics(accept)).toBe(expected));

  it.each([
    [':9877', { host: undefined, port: 9877 }],
    ['127.0.0.1:0', { host: '127.0.0.1', port: 0 }],
    ['[::1]:9100', { host: '::1', port: 9100 }],
    ['localhost', undefined],
    [':99999', undefined],
  ])('parseListenAddress(%s)', (text, expected) => expect(parseListenAddress(text)).toEqual(expected));
});

describe('basic auth', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await serve({ basicAuth: new BasicAuth({ prometheus: bcrypt.hashSync('s3cret-scrape-password', 4) }) });
  });
  afterAll(async () => {
    await server.close();
  });
  const auth = (user: string, password: string) => ({ Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

  it('protects /metrics and the landing page', async () => {
    for (const path of ['/metrics', '/']) {
      const res = await fetch(`${server.url}${path}`);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
      expect(await res.text()).toBe('unauthorized\n');
    }
    expect((await fetch(`${server.url}/metrics`, { headers: auth('prometheus', 'wrong') })).status).toBe(401);
    expect((await fetch(`${server.url}/metrics`, { headers: auth('nobody', 's3cret-scrape-password') })).status).toBe(401);
    expect((await fetch(`${server.url}/metrics`, { headers: auth('prometheus', 's3cret-scrape-password') })).status).toBe(200);
    // Verified credentials are remembered; a second scrape still works (and so does a wrong one still fail).
    expect((await fetch(`${server.url}/metrics`, { headers: auth('prometheus', 's3cret-scrape-password') })).status).toBe(200);
    expect((await fetch(`${server.url}/metrics`, { headers: auth('prometheus', 's3cret-scrape-passwordX') })).status).toBe(401);
  });

  it('leaves the probes open: kubelet and HEALTHCHECK send no credentials', async () => {
    store.ready = true;
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
  });
});

describe('basic auth under a flood of wrong passwords', () => {
  const HASH = bcrypt.hashSync('right', 4);
  const header = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  /** bcrypt.compare held open until the test answers it, so the comparisons in flight can be counted. */
  function holdCompares(): { answer: (ok: boolean) => void; calls: () => number } {
    const pending: Array<(ok: boolean) => void> = [];
    const spy = vi.spyOn(bcrypt, 'compare').mockImplementation((() => new Promise<boolean>((resolve) => pending.push(resolve))) as typeof bcrypt.compare);
    return { answer: (ok) => pending.shift()?.(ok), calls: () => spy.mock.calls.length };
  }
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('runs at most 2 bcrypt comparisons at a time and refuses the rest at once, whoever they claim to be', async () => {
    const auth = new BasicAuth({ prometheus: HASH });
    const compare = holdCompares();
    const first = [auth.check(header('prometheus', 'a')), auth.check(header('nobody', 'b'))];
    // Both slots taken: further attempts, known user or not, are refused without a comparison.
    const refused = [auth.check(header('prometheus', 'c')), auth.check(header('admin', 'd'))];
    expect(compare.calls()).toBe(2);
    expect(await Promise.all(refused)).toEqual([false, false]);
    compare.answer(false);
    compare.answer(false);
    expect(await Promise.all(first)).toEqual([false, false]);
    // The slots are free again.
    const next = auth.check(header('prometheus', 'right'));
    expect(compare.calls()).toBe(3);
    compare.answer(true);
    expect(await next).toBe(true);
  });

  it('a busy server still lets in credentials it has already verified', async () => {
    const auth = new BasicAuth({ prometheus: HASH });
    expect(await auth.check(header('prometheus', 'right'))).toBe(true);
    const compare = holdCompares();
    const flood = [auth.check(header('prometheus', 'x')), auth.check(header('prometheus', 'y'))];
    expect(await auth.check(header('prometheus', 'right'))).toBe(true);
    compare.answer(false);
    compare.answer(false);
    await Promise.all(flood);
  });

  it('a wrong password repeated within seconds costs no bcrypt; after that it is compared again', async () => {
    let now = 0;
    const auth = new BasicAuth({ prometheus: HASH }, 'cph-exporter', () => now);
    const compare = vi.spyOn(bcrypt, 'compare');
    expect(await auth.check(header('prometheus', 'wrong'))).toBe(false);
    expect(await auth.check(header('prometheus', 'wrong'))).toBe(false);
    expect(await auth.check(header('nobody', 'wrong'))).toBe(false);
    expect(await auth.check(header('nobody', 'wrong'))).toBe(false);
    expect(compare).toHaveBeenCalledTimes(2);
    expect(await auth.check(header('prometheus', 'right'))).toBe(true); // another password is compared as usual
    now += 60_000;
    expect(await auth.check(header('prometheus', 'wrong'))).toBe(false);
    expect(compare).toHaveBeenCalledTimes(4);
  });

  it('refuses the overflow over HTTP with the same bare 401 as any other failure', async () => {
    const server = await serve({ basicAuth: new BasicAuth({ prometheus: HASH }) });
    try {
      const compare = holdCompares();
      const held = [1, 2].map((i) => fetch(`${server.url}/metrics`, { headers: { Authorization: header('prometheus', `held${i}`) } }));
      await vi.waitFor(() => expect(compare.calls()).toBe(2));
      const third = { headers: { Authorization: header('prometheus', 'third') }, signal: AbortSignal.timeout(2000) };
      const res = await fetch(`${server.url}/metrics`, third); // answered at once, not held like the first two
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Basic realm="cph-exporter", charset="UTF-8"');
      expect(await res.text()).toBe('unauthorized\n');
      compare.answer(false);
      compare.answer(false);
      for (const r of await Promise.all(held)) expect(r.status).toBe(401);
      expect(compare.calls()).toBe(2);
    } finally {
      await server.close();
    }
  });
});
