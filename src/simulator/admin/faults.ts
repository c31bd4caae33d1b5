/** Admin routes: the faults in force (catalogue and spec fields: ../faults.ts). */
import { parseFaultSpec } from '../faults.js';
import type { AdminRoute } from './routes.js';

export const faultRoutes: AdminRoute[] = [
  {
    method: 'GET',
    path: '/_sim/faults',
    summary: 'the faults in force and how many triggers each has left',
    handle: (_ex, world) => ({ faults: world.faults.list() }),
  },
  {
    method: 'POST',
    path: '/_sim/faults',
    summary: 'replaces the faults with a spec or an array of specs (?append=1 adds them instead); kinds: see faults.ts',
    example: { body: { kind: 'throttle', count: 3, retryAfterSeconds: 2 } },
    async handle(ex, world) {
      const body = await ex.json();
      const specs = (Array.isArray(body) ? body : [body]).map(parseFaultSpec);
      const append = ex.url.searchParams.get('append');
      if (append === 'true' || append === '1') {
        for (const s of specs) world.faults.add(s);
      } else {
        world.faults.set(specs);
      }
      return { faults: world.faults.list() };
    },
  },
  {
    method: 'DELETE',
    path: '/_sim/faults',
    summary: 'clears every fault, or those of one kind (?kind=...)',
    example: { path: '/_sim/faults?kind=throttle' },
    handle(ex, world) {
      const kind = ex.url.searchParams.get('kind');
      if (kind !== null) world.faults.clear(parseFaultSpec({ kind }).kind);
      else world.faults.clear();
      return { faults: world.faults.list() };
    },
  },
];
