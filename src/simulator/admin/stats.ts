/** Admin routes: the counters (`sim.stats`). */
import type { AdminRoute } from './routes.js';

export const statsRoutes: AdminRoute[] = [
  {
    method: 'GET',
    path: '/_sim/stats',
    summary: 'counters of API requests: totals, in flight, depth, statuses, auth failures and lockouts per AK, faults',
    handle: (_ex, world) => world.stats.toJSON(),
  },
  {
    method: 'DELETE',
    path: '/_sim/stats',
    summary: 'resets every counter',
    handle: (_ex, world) => void world.stats.reset(),
  },
];
