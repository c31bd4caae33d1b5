/**
 * Child process: the naive way, for comparison. The same listing goes into prom-client gauges once,
 * and every scrape has prom-client render the whole registry (and gzip it when asked), as a
 * straightforward prom-client exporter would.
 */
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import express from 'express';
import { Gauge } from 'prom-client';
import { CphClient } from '../src/cph/client.js';
import { listAllPages } from '../src/cph/paging.js';
import type { EncodeServer } from '../src/cph/types.js';
import { RESOURCE_FAMILIES } from '../src/metrics/catalog.js';
import { exposureLabel, portTypeLabel, statusLabel, typeLabel } from '../src/metrics/enums.js';
import { SelfMetrics } from '../src/metrics/self.js';
import { serveCommands } from './ipc.js';
import { BENCH_CREDENTIALS, BENCH_PROJECT, BENCH_REGION } from './setup.js';

const gzip = promisify(gzipCb);

serveCommands({
  async start(args: { simUrl: string }): Promise<{ url: string; bodyBytes: number }> {
    const metrics = new SelfMetrics({ version: 'bench', revision: 'bench' });
    const client = new CphClient({
      connectTimeoutMs: 5000,
      requestTimeoutMs: 15000,
      maxRetries: 3,
      maxResponseBytes: 8 * 1024 * 1024,
      rateLimit: { requestsPerSecond: 200, burst: 1000 },
      connectionsPerEndpoint: 16,
      observer: metrics.observer,
    });
    const listing = await listAllPages<EncodeServer>(
      async (offset, limit, signal) =>
        (await client.listEncodeServers({ endpoint: args.simUrl, projectId: BENCH_PROJECT }, { offset, limit }, { signal, credentials: () => BENCH_CREDENTIALS }))
          .response.encode_servers,
      (s) => s.encode_server_id,
      { pageSize: 100, maxPages: 5000, window: 16 },
    );
    await client.close();

    const { encodeServers: S, encodeServerPorts: P, encodeServerInfo: I } = RESOURCE_FAMILIES;
    const registers = [metrics.registry];
    const servers = new Gauge({ ...S, labelNames: [...S.labelNames], registers });
    const ports = new Gauge({ ...P, labelNames: [...P.labelNames], registers });
    const info = new Gauge({ ...I, labelNames: [...I.labelNames], registers });
    const base = { project_id: BENCH_PROJECT, region: BENCH_REGION };
    for (const s of listing.items) {
      const labels = { ...base, server_id: s.server_id, type: typeLabel(s.type), status: statusLabel(s.status) };
      servers.inc(labels);
      for (const p of s.access_infos) ports.inc({ ...labels, port_type: portTypeLabel(p.type), exposure: exposureLabel(p) });
      info.set(
        {
          ...base,
          encode_server_id: s.encode_server_id,
          encode_server_name: s.encode_server_name,
          server_id: s.server_id,
          encode_server_ip: s.encode_server_ip,
          keypair_name: s.keypair_name,
          type: labels.type,
          status: labels.status,
          status_code: String(s.status),
        },
        1,
      );
    }

    const app = express();
    app.get('/metrics', async (req, res) => {
      const body = await metrics.registry.metrics();
      res.set('Content-Type', metrics.registry.contentType);
      if (/\bgzip\b/.test(req.headers['accept-encoding'] ?? '')) {
        res.set('Content-Encoding', 'gzip');
        res.send(await gzip(body));
        return;
      }
      res.send(body);
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { url, bodyBytes: Buffer.byteLength(await metrics.registry.metrics()) };
  },
});
