import http from 'node:http';
import { execFileSync } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertTarget, type TargetSeries } from '../../src/metrics/convert.js';
import { toOpenMetrics } from '../../src/metrics/openmetrics.js';
import { closeGzip, prepareExposition } from '../../src/metrics/prepared.js';
import { SelfMetrics } from '../../src/metrics/self.js';
import { SnapshotStore } from '../../src/poller/store.js';
import { createApp } from '../../src/server/app.js';
import { listen, type RunningServer } from '../../src/server/listen.js';
import { WEIRD_NAMES } from '../../src/simulator/faults.js';
import { generateFleet } from '../../src/simulator/fleet.js';

/*
 * /metrics sends the resource families as prepared once per poll (plain chunks and an open gzip
 * stream) and appends the self metrics per scrape. Whatever the encoding, the bytes must be the
 * ones a scrape of the whole text would give.
 */

describe('an open gzip stream closed with a tail', () => {
  const big = Buffer.alloc(5 * 1024 * 1024 + 17, 'cph_encode_servers{a="b"} 1\n');
  it.each([
    ['one chunk', [Buffer.from('# HELP a b\n')], Buffer.from('tail 1\n')],
    ['no chunk', [], Buffer.from('tail 1\n')],
    ['an empty tail', [Buffer.from('a 1\n'), Buffer.alloc(0)], Buffer.alloc(0)],
    ['chunks larger than the CRC step, unicode', [big, Buffer.from('ünï 🚀 \u0000\n'.repeat(500)), big], Buffer.alloc(70_000, 'z')],
  ])('is one gzip member of the chunks and the tail (%s)', async (_name, chunks, tail) => {
    const prepared = prepareExposition(chunks);
    const gz = Buffer.concat(await closeGzip(await prepared.gzip, tail));
    const expected = Buffer.concat([...chunks, tail]);
    expect(prepared.length).toBe(expected.length - tail.length);
    expect(gunzipSync(gz).equals(expected)).toBe(true);
    // GNU gzip reads one member only, and checks CRC and length.
    if (process.platform !== 'win32') expect(execFileSync('gzip', ['-dc'], { input: gz, maxBuffer: 64 * 1024 * 1024 }).equals(expected)).toBe(true);
  });
});

describe('/metrics from a prepared publication', () => {
  let server: RunningServer;
  let store: SnapshotStore;
  let metrics: SelfMetrics;
  let series: TargetSeries;
  const target = { projectId: 'p1', region: 'cn-north-4', endpoint: 'http://127.0.0.1:1' };

  beforeAll(async () => {
    metrics = new SelfMetrics({ version: '1.2.3', revision: 'abc' }, { processMetrics: false });
    store = new SnapshotStore({ withInfo: true });
    const items = generateFleet({ seed: 5, encodeServers: 2500, cloudPhoneServers: 200 }).map((r, k) =>
      k % 7 === 0 ? { ...r, encode_server_name: WEIRD_NAMES[k % WEIRD_NAMES.length] as string } : r,
    );
    series = convertTarget(target, items);
    store.publish([series], true);
    metrics.publishHealth([
      { projectId: 'p1', region: 'cn-north-4', up: true, lastDurationSeconds: 1, resources: [{ resource: 'encode_servers', up: true, lastSuccessMs: Date.now() }] },
    ]);
    server = await listen(createApp({ store, metrics, version: '1.2.3' }), { host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await server?.close();
  });

  function get(headers: Record<string, string>, method = 'GET'): Promise<{ headers: http.IncomingHttpHeaders; body: Buffer }> {
    return new Promise((resolve, reject) => {
      http
        .request(`${server.url}/metrics`, { method, headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
        })
        .on('error', reject)
        .end();
    });
  }

  it('serves the resources then the self metrics, plain, gzip, OpenMetrics and HEAD alike', async () => {
    const plain = await get({});
    const text = plain.body.toString('utf8');
    expect(text.startsWith(store.resources.text)).toBe(true);
    expect(text).toContain('\ncph_up{project_id="p1",region="cn-north-4"} 1\n');
    expect(plain.headers['content-length']).toBe(String(plain.body.length));

    const gz = await get({ 'Accept-Encoding': 'gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.headers['content-length']).toBe(String(gz.body.length));
    expect(gunzipSync(gz.body).toString('utf8')).toBe(text);

    // Converting only the self metrics gives what converting the whole text gives.
    const om = await get({ Accept: 'application/openmetrics-text; version=1.0.0' });
    expect(om.body.toString('utf8')).toBe(toOpenMetrics(text));
    const omGz = await get({ Accept: 'application/openmetrics-text; version=1.0.0', 'Accept-Encoding': 'gzip' });
    expect(gunzipSync(omGz.body).toString('utf8')).toBe(toOpenMetrics(text));

    const head = await get({}, 'HEAD');
    expect(head.body.length).toBe(0);
    expect(head.headers['content-length']).toBe(String(plain.body.length));
  });

  it('never sends self metrics rendered for another publication, however close the scrapes', async () => {
    const before = (await get({ 'Accept-Encoding': 'gzip' })).body;
    expect(gunzipSync(before).toString('utf8')).toContain('\ncph_up{project_id="p1",region="cn-north-4"} 1\n');
    store.publish([series], true); // a failed poll keeps the last complete listing
    metrics.publishHealth([
      { projectId: 'p1', region: 'cn-north-4', up: false, lastDurationSeconds: 2, resources: [{ resource: 'encode_servers', up: false, errorReason: 'timeout' }] },
    ]);
    for (const headers of [{}, { 'Accept-Encoding': 'gzip' }] as Record<string, string>[]) {
      const res = await get(headers);
      const text = (res.headers['content-encoding'] === 'gzip' ? gunzipSync(res.body) : res.body).toString('utf8');
      expect(text).toContain('\ncph_up{project_id="p1",region="cn-north-4"} 0\n');
      expect(text).toContain('\ncph_poll_error{project_id="p1",region="cn-north-4",resource="encode_servers",reason="timeout"} 1\n');
      expect(text.startsWith(store.resources.text)).toBe(true);
    }
  });
});
