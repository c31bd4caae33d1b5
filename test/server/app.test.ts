import { gunzipSync } from 'node:zlib';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SelfMetrics } from '../../src/metrics/self.js';
import { createApp, wantsOpenMetrics } from '../../src/server/app.js';
import { BasicAuth } from '../../src/server/basic-auth.js';
import { listen, parseListenAddress, type RunningServer } from '../../src/server/listen.js';

/* The HTTP routes, in-process on port 0, with a store stand-in whose state the test sets. */

const store = { ready: false, text: '# HELP cph_encode_servers x.\n# TYPE cph_encode_servers gauge\ncph_encode_servers{project_id="p"} 3\n' };
const storeView = {
  get resources() {
    return { generation: 1, text: store.text };
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
    for (const link of ['metrics', 'healthz', 'readyz']) expect(html).toContain(`href="${link}"`);
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
    const gz = await new Promise<{ encoding?: string; body: Buffer }>((resolve, reject) => {
      http.get(`${server.url}/metrics`, { headers: { 'Accept-Encoding': 'gzip' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ encoding: res.headers['content-encoding'], body: Buffer.concat(chunks) }));
      }).on('error', reject);
    });
    expect(gz.encoding).toBe('gzip');
    expect(gunzipSync(gz.body).toString()).toBe(text); // the same exposition, compressed
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
