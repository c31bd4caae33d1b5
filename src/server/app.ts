import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE, toOpenMetrics } from '../metrics/openmetrics.js';
import { closeGzip } from '../metrics/prepared.js';
import type { SelfMetrics } from '../metrics/self.js';
import type { PublishedResources, SnapshotStore } from '../poller/store.js';
import { parseSdQuery } from '../sd/query.js';
import type { BasicAuth } from './basic-auth.js';

export interface AppDeps {
  store: Pick<SnapshotStore, 'resources' | 'isReady'>;
  metrics: Pick<SelfMetrics, 'registry'>;
  version: string;
  basicAuth?: BasicAuth | undefined;
  /** Extra response headers from the web config's http_server_config.headers. */
  headers?: Readonly<Record<string, string>> | undefined;
  /** `POST /-/reload` re-reads the configuration (only with --web.enable-lifecycle, as in Prometheus). */
  reload?: (() => Promise<{ ok: true } | { ok: false; error: string }>) | undefined;
}

/** Bodies smaller than this are not worth compressing. */
const GZIP_MIN_BYTES = 1024;

/**
 * Scrapes of the same publication within this long of each other share one rendering of the self
 * metrics. Rendering them costs about 0.5 ms (prom-client's process metrics: /proc reads, the
 * event-loop histogram's statistics), as much as sending the whole compressed body: a burst of
 * scrapes would spend most of its time there. Two Prometheus replicas scraping every 15 s still
 * get a fresh rendering each time.
 */
const SELF_METRICS_REUSE_MS = 1000;

/** The self metrics as sent to recent scrapes of one publication, in one format. */
interface SelfPart {
  renderedAt: number;
  bytes: Promise<Buffer>;
  /** The gzip body (resources' open stream closed with `bytes`), made by the first scrape that asks for it. */
  gzip?: Promise<Buffer[]>;
}

/** OpenMetrics when the scraper asks for it (Prometheus does by default), else text format 0.0.4. */
export function wantsOpenMetrics(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept.split(',').some((part) => {
    const [type, ...params] = part.trim().split(';').map((s) => s.trim());
    if (type !== 'application/openmetrics-text') return false;
    const q = params.find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

/**
 * Whether an Accept-Encoding header accepts gzip, as RFC 9110 §12.5.3 says: `gzip` (or its alias
 * `x-gzip`) with any q-value above 0, or else `*` above 0. Only `q=0` refuses (`q=0.5` accepts,
 * with lower preference); an explicit `gzip;q=0` refuses even beside `*`. A malformed q-value
 * makes its entry void.
 */
export function acceptsGzip(header: string | undefined): boolean {
  if (header === undefined) return false;
  let gzip: number | undefined;
  let any: number | undefined;
  for (const entry of header.split(',')) {
    const [coding = '', ...params] = entry.split(';').map((s) => s.trim());
    const name = coding.toLowerCase();
    if (name !== 'gzip' && name !== 'x-gzip' && name !== '*') continue;
    const weight = params.find((p) => /^q\s*=/i.test(p));
    const q = weight === undefined ? 1 : qvalue(weight.replace(/^q\s*=\s*/i, ''));
    if (q === undefined) continue;
    if (name === '*') any = Math.max(any ?? 0, q);
    else gzip = Math.max(gzip ?? 0, q);
  }
  return (gzip ?? any ?? 0) > 0;
}

/** RFC 9110 qvalue: 0 to 1 with at most three decimals; undefined when malformed. */
function qvalue(text: string): number | undefined {
  return /^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(text) ? Number(text) : undefined;
}

/**
 * The exporter's HTTP routes. Routes only read the store and registries: polling happens
 * on its own schedule, never because of a scrape.
 */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('query parser', false);
  // Only the exact paths: /METRICS and /metrics/ are unknown paths (404), like any other.
  app.set('case sensitive routing', true);
  app.set('strict routing', true);

  if (deps.headers) {
    const headers = deps.headers;
    app.use((_req, res, next) => {
      res.set(headers);
      next();
    });
  }
  // Probes stay open when basic auth is on: kubelet and Docker's HEALTHCHECK send no credentials,
  // and these two answers reveal nothing but "alive" and "polled once".
  app.get('/healthz', (_req, res) => {
    res.type('text/plain').send('ok\n');
  });

  app.get('/readyz', (_req, res) => {
    if (deps.store.isReady()) res.type('text/plain').send('ready\n');
    else res.status(503).type('text/plain').send('not ready: waiting for the first poll of every target\n');
  });

  if (deps.basicAuth) app.use(deps.basicAuth.middleware());

  // By publication (weakly: a replaced publication and what was rendered for it go together), then by format.
  const recentSelf = new WeakMap<PublishedResources, Map<boolean, SelfPart>>();
  /**
   * The self metrics for a scrape of `resources`: rendered now, in the caller's tick (so that they
   * and the resources come from the same poll), or reused from a scrape of the same publication
   * less than SELF_METRICS_REUSE_MS ago.
   */
  function selfPart(resources: PublishedResources, openMetrics: boolean): SelfPart {
    const now = performance.now();
    let parts = recentSelf.get(resources);
    if (!parts) recentSelf.set(resources, (parts = new Map()));
    const recent = parts.get(openMetrics);
    if (recent && now - recent.renderedAt < SELF_METRICS_REUSE_MS) return recent;
    // The resource families are gauges without blank lines, which OpenMetrics leaves as they are:
    // converting the self metrics alone gives the same bytes as converting the whole body.
    const bytes = deps.metrics.registry.metrics().then((text) => Buffer.from(openMetrics ? toOpenMetrics(text) : text));
    const part: SelfPart = { renderedAt: now, bytes };
    parts.set(openMetrics, part);
    bytes.catch(() => {
      if (parts.get(openMetrics) === part) parts.delete(openMetrics);
    });
    return part;
  }

  // The resource families were rendered and compressed once, when the poll was published; a scrape
  // adds only the self metrics, without copying or compressing the resources again.
  app.get('/metrics', async (req, res) => {
    const openMetrics = wantsOpenMetrics(req.headers.accept);
    const resources = deps.store.resources;
    const self = selfPart(resources, openMetrics);
    const { prepared } = resources;
    const selfBytes = await self.bytes;
    res.set('Content-Type', openMetrics ? OPENMETRICS_CONTENT_TYPE : PROMETHEUS_CONTENT_TYPE);
    res.set('Cache-Control', 'no-store');
    res.set('Vary', 'Accept, Accept-Encoding');
    if (prepared.length + selfBytes.length >= GZIP_MIN_BYTES && acceptsGzip(req.headers['accept-encoding'])) {
      self.gzip ??= prepared.gzip.then((open) => closeGzip(open, selfBytes));
      const body = await self.gzip;
      // Only now: if compressing failed, the 500 goes out as plain text, not under a gzip header.
      res.set('Content-Encoding', 'gzip');
      sendChunks(res, body);
      return;
    }
    sendChunks(res, [...prepared.chunks, selfBytes]);
  });

  // Prometheus HTTP service discovery of the access ports in the same publication as /metrics: the default answer
  // was rendered and compressed with the poll, any other once by its first request (src/sd/prepared.ts).
  app.get('/sd/access-ports', async (req, res) => {
    const search = req.originalUrl.indexOf('?');
    const parsed = parseSdQuery(new URLSearchParams(search < 0 ? '' : req.originalUrl.slice(search + 1)));
    if (!parsed.ok) {
      res.status(400).type('text/plain').send(`bad request: ${parsed.error}\n`);
      return;
    }
    const answer = await deps.store.resources.accessPorts.answer(parsed.query).gzip();
    res.set('Content-Type', 'application/json; charset=utf-8');
    res.set('Cache-Control', 'no-store');
    res.set('Vary', 'Accept-Encoding');
    if (answer.plainLength >= GZIP_MIN_BYTES && acceptsGzip(req.headers['accept-encoding'])) {
      res.set('Content-Encoding', 'gzip');
      sendChunks(res, answer.chunks);
      return;
    }
    // Kept compressed only (Prometheus asks for gzip); a plain answer is inflated on the way out.
    res.set('Content-Length', String(answer.plainLength));
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    await pipeline(Readable.from(answer.chunks), createGunzip(), res);
  });

  app.get('/', (_req, res) => {
    res.type('html').send(landingPage(deps.version));
  });

  app.post('/-/reload', async (_req, res) => {
    if (!deps.reload) {
      res.status(403).type('text/plain').send('Lifecycle API is not enabled.\n');
      return;
    }
    const result = await deps.reload();
    // The problems name keys and files, never a value (as at start-up), so they can be shown to the caller.
    if (result.ok) res.type('text/plain').send('configuration reloaded\n');
    else res.status(500).type('text/plain').send(`failed to reload config: ${result.error}\n`);
  });

  const known = new Set(['/', '/metrics', '/sd/access-ports', '/healthz', '/readyz']);
  app.use((req, res) => {
    if (req.path === '/-/reload') {
      res.set('Allow', 'POST').status(405).type('text/plain').send('method not allowed\n');
      return;
    }
    if (known.has(req.path)) {
      res.set('Allow', 'GET, HEAD').status(405).type('text/plain').send('method not allowed\n');
      return;
    }
    res.status(404).type('text/plain').send('not found\n');
  });

  // Never echo an error to the client: it could carry internals.
  app.use((_err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) return;
    res.status(500).type('text/plain').send('internal error\n');
  });
  return app;
}

/** Sends a 200 whose body is these chunks, without joining them (HEAD: headers only, as Node does). */
function sendChunks(res: Response, chunks: readonly Buffer[]): void {
  res.set('Content-Length', String(chunks.reduce((n, c) => n + c.length, 0)));
  res.status(200);
  res.cork();
  for (const chunk of chunks) res.write(chunk);
  res.uncork();
  res.end();
}

function landingPage(version: string): string {
  const v = version.replace(/[^\w.+-]/g, '');
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>cph-exporter</title></head>
<body>
<h1>cph-exporter</h1>
<p>Prometheus exporter for Huawei Cloud CPH encode servers, version ${v}.</p>
<ul>
<li><a href="metrics">/metrics</a>: metrics, as of the last poll</li>
<li><a href="sd/access-ports">/sd/access-ports</a>: public access ports as Prometheus HTTP service discovery, for blackbox probes</li>
<li><a href="healthz">/healthz</a>: liveness</li>
<li><a href="readyz">/readyz</a>: readiness (every target polled once)</li>
</ul>
</body>
</html>
`;
}
