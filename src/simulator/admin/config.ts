/** Admin routes: run-time settings, credentials, lockouts and the list of projects. */
import { HttpError, asObject } from '../exchange.js';
import type { RateLimitOptions } from '../options.js';
import type { AdminRoute } from './routes.js';

export const configRoutes: AdminRoute[] = [
  {
    method: 'GET',
    path: '/_sim/config',
    summary: 'the effective configuration (seed, latency, rate limit, lockout, projects, access keys)',
    handle: (_ex, world) => world.configJson(),
  },
  {
    method: 'POST',
    path: '/_sim/config',
    summary: 'changes {latencyMs?, verifySignatures?, rateLimit?: {requestsPerSecond, burst?, retryAfter?} | null}',
    example: { body: { latencyMs: 200, rateLimit: { requestsPerSecond: 5, burst: 5 } } },
    async handle(ex, world) {
      const body = asObject(await ex.json());
      if (body.latencyMs !== undefined) {
        if (typeof body.latencyMs !== 'number' || !(body.latencyMs >= 0)) throw new HttpError(400, 'latencyMs must be >= 0');
        world.latencyMs = body.latencyMs;
      }
      if (body.verifySignatures !== undefined) {
        if (typeof body.verifySignatures !== 'boolean') throw new HttpError(400, 'verifySignatures must be a boolean');
        world.verifySignatures = body.verifySignatures;
      }
      if (body.rateLimit !== undefined) {
        if (body.rateLimit === null) world.setRateLimit(undefined);
        else world.setRateLimit(asObject(body.rateLimit) as unknown as RateLimitOptions);
      }
      return world.configJson();
    },
  },
  {
    method: 'POST',
    path: '/_sim/credentials',
    summary: 'accepts an AK/SK pair ({accessKey, secretKey}) or several ({credentials: {AK: SK}, replace?: true})',
    example: { body: { accessKey: 'OTHERAK0000000000000', secretKey: 'other-secret-key' } },
    async handle(ex, world) {
      const body = asObject(await ex.json());
      const creds: Record<string, unknown> =
        body.credentials !== undefined ? asObject(body.credentials) : { [String(body.accessKey)]: body.secretKey };
      for (const [ak, sk] of Object.entries(creds)) {
        if (typeof sk !== 'string' || sk === '' || ak === '' || ak === 'undefined') {
          throw new HttpError(400, 'give {accessKey, secretKey} or {credentials: {AK: SK}}');
        }
      }
      if (body.replace === true) world.gateway.credentials.clear();
      for (const [ak, sk] of Object.entries(creds)) world.setCredential(ak, sk as string);
      return { accessKeys: [...world.gateway.credentials.keys()] };
    },
  },
  {
    method: 'DELETE',
    path: '/_sim/lockouts',
    summary: 'unlocks every AK and forgets consecutive failed authentications',
    handle: (_ex, world) => void world.clearLockouts(),
  },
  {
    method: 'GET',
    path: '/_sim/projects',
    summary: 'the projects served and their encode-server counts',
    handle: (_ex, world) => ({
      projects: world.projectIds().map((id) => ({ projectId: id, encodeServers: world.fleet(id).size })),
    }),
  },
];
