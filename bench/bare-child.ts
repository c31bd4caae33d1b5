/**
 * Child process: the limit for serving the exporter's body. A bare `node:http` server that answers
 * every request with the same bytes (plain or gzip) from memory, as fetched once from the exporter.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { request } from 'undici';
import { serveCommands } from './ipc.js';

async function fetchRaw(url: string, headers: Record<string, string>): Promise<{ body: Buffer; contentType: string }> {
  // undici's request() does not decompress: the gzip body is kept as the exporter sent it.
  const res = await request(url, { headers });
  const body = Buffer.from(await res.body.arrayBuffer());
  return { body, contentType: String(res.headers['content-type']) };
}

serveCommands({
  /** Event-loop delay of this idle process over `seconds`: what the shared machine alone does to a loop. */
  async loopDelay(args: { seconds: number }): Promise<{ p50Ms: number; p99Ms: number; maxMs: number; samples: number }> {
    const h = monitorEventLoopDelay({ resolution: 10 });
    h.enable();
    await new Promise((r) => setTimeout(r, args.seconds * 1000));
    h.disable();
    return { p50Ms: h.percentile(50) / 1e6, p99Ms: h.percentile(99) / 1e6, maxMs: h.max / 1e6, samples: h.count };
  },

  async start(args: { exporterUrl: string }): Promise<{ url: string; plainBytes: number; gzipBytes: number }> {
    const plain = await fetchRaw(`${args.exporterUrl}/metrics`, {});
    const gzipped = await fetchRaw(`${args.exporterUrl}/metrics`, { 'accept-encoding': 'gzip' });
    const server = http.createServer((req, res) => {
      const gz = /\bgzip\b/.test(req.headers['accept-encoding'] ?? '');
      const body = gz ? gzipped.body : plain.body;
      res.writeHead(200, {
        'Content-Type': plain.contentType,
        'Content-Length': body.length,
        ...(gz ? { 'Content-Encoding': 'gzip' } : {}),
      });
      res.end(body);
    });
    server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, plainBytes: plain.body.length, gzipBytes: gzipped.body.length };
  },
});
