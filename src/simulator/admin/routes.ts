/**
 * The admin API under `/_sim/` (no signature; JSON bodies; errors `{"error": "..."}`). To add an admin route: write
 * `admin/<topic>.ts` exporting `AdminRoute`s and spread them into `ADMIN_ROUTES` below. `npm run simulator -- --help`
 * and the docs list this table, examples included.
 */
import { HttpError, pathMatcher, type Exchange } from '../exchange.js';
import type { SimWorld } from '../world.js';
import { configRoutes } from './config.js';
import { estateRoutes } from './estate.js';
import { faultRoutes } from './faults.js';
import { fleetRoutes } from './fleet.js';
import { listenerRoutes } from './listeners.js';
import { statsRoutes } from './stats.js';

export interface AdminRoute {
  method: 'GET' | 'POST' | 'DELETE';
  /** Path template under `/_sim/`; `{name}` matches one segment and lands decoded in `ex.params.name`. */
  path: string;
  /** One line: what it does. */
  summary: string;
  /** A request that works against the demo simulator (a query string and/or a JSON body), for `--help`. */
  example?: { path?: string; body?: unknown } | undefined;
  /** The JSON answer (200), or undefined for 204. Throw `HttpError` for another status. */
  handle(ex: Exchange, world: SimWorld): unknown;
}

export const ADMIN_ROUTES: readonly AdminRoute[] = [...statsRoutes, ...faultRoutes, ...configRoutes, ...fleetRoutes, ...listenerRoutes, ...estateRoutes];

const compiled = ADMIN_ROUTES.map((route) => ({ route, match: pathMatcher(route.path) }));

/** Answers an admin request (any path under `/_sim/`). */
export async function handleAdmin(ex: Exchange, world: SimWorld): Promise<void> {
  const json = (status: number, body: unknown): void => ex.send(status, JSON.stringify(body));
  const path = ex.url.pathname.replace(/\/+$/, '');
  try {
    for (const { route, match } of compiled) {
      if (route.method !== ex.method) continue;
      const params = match(path);
      if (!params) continue;
      ex.params = params;
      const result = await route.handle(ex, world);
      if (result === undefined) ex.res.writeHead(204).end();
      else json(200, result);
      return;
    }
    throw new HttpError(404, `no admin route ${ex.method} ${path}`);
  } catch (err) {
    if (err instanceof HttpError) json(err.status, { error: err.message });
    else json(400, { error: err instanceof Error ? err.message : String(err) });
  }
}

/** The admin routes as `curl` commands against `baseUrl`, one block per route (for `--help`). */
export function describeAdminRoutes(baseUrl: string): string {
  return ADMIN_ROUTES.map((r) => {
    const path = r.example?.path ?? r.path;
    const method = r.method === 'GET' ? '' : ` -X ${r.method}`;
    const body = r.example?.body !== undefined ? ` -d '${JSON.stringify(r.example.body)}'` : '';
    return `  ${r.method} ${r.path}\n      ${r.summary}\n      curl -s${method} '${baseUrl}${path}'${body}`;
  }).join('\n');
}
