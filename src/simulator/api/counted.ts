/**
 * What ListCloudPhoneServers and ListCloudPhones share (NOTES.md §2): offset/limit paging with the total in `count`,
 * each API with its own `limit` range (400 `CPS.0002` outside it, as the real API), `status` and `server_id` filters,
 * and the faults of the catalogue that make sense for them.
 */
import type { Exchange } from '../exchange.js';
import type { EstateFilter } from '../estate.js';
import type { SimWorld } from '../world.js';
import { applyAnswerFault, HTML_200, sendAndReset } from './encode-server-faults.js';
import { intParam, projectFleet } from './project.js';
import type { ApiRoute } from './routes.js';

const SERVER_ID = /^[0-9a-f]{32}$/;

export interface CountedApi {
  operation: string;
  path: string;
  /** The key of the list in the body (`servers`, `phones`). */
  listKey: string;
  maxLimit: number;
  /** Status codes the API documents: a filter on another one is 400 `CPS.0010`. */
  statuses: readonly number[];
  /** One page of the project's records and the filtered total; undefined when the project is not served. */
  page(world: SimWorld, projectId: string, offset: number, limit: number, filter: EstateFilter): { count: number; items: unknown[] } | undefined;
  /** The `shift` fault: `by` > 0 creates records at the front, < 0 deletes them (undefined: not supported). */
  shift?: ((world: SimWorld, projectId: string, by: number) => void) | undefined;
}

type Parsed = { ok: true; offset: number; limit: number; filter: EstateFilter } | { ok: false; code: string; msg: string };

function parseQuery(api: CountedApi, sp: URLSearchParams): Parsed {
  const offset = intParam(sp, 'offset');
  const limit = intParam(sp, 'limit');
  if (offset === null || limit === null || (limit !== undefined && (limit < 1 || limit > api.maxLimit))) {
    return { ok: false, code: 'CPS.0002', msg: 'Parameter: offset or limit is invalid.' };
  }
  const status = intParam(sp, 'status', true);
  if (status === null || (status !== undefined && !api.statuses.includes(status))) {
    return { ok: false, code: 'CPS.0010', msg: 'Parameter: status is invalid.' };
  }
  const serverIds = sp.getAll('server_id');
  if (serverIds.length > 1 || (serverIds.length === 1 && !SERVER_ID.test(serverIds[0] as string))) {
    return { ok: false, code: 'CPS.0016', msg: 'Parameter: server_id is invalid.' };
  }
  // Both APIs document a default of 100 (ListCloudPhones' was 200 before 2025).
  return { ok: true, offset: offset ?? 0, limit: limit ?? 100, filter: { status, server_id: serverIds[0] } };
}

export function countedRoute(api: CountedApi): ApiRoute {
  return {
    operation: api.operation,
    method: 'GET',
    path: `/v1/{project_id}/cloud-phone/${api.path}`,
    async handle(ex, world) {
      const projectId = ex.params.project_id as string;
      if (!projectFleet(ex, world)) return;
      const q = parseQuery(api, ex.url.searchParams);
      if (!q.ok) {
        ex.error(400, q.code, q.msg);
        return;
      }
      const body = (): string => {
        const { count, items } = api.page(world, projectId, q.offset, q.limit, q.filter) ?? { count: 0, items: [] };
        return JSON.stringify({ request_id: ex.requestId, count, [api.listKey]: items });
      };
      const fault = world.faults.match({ projectId, offset: q.offset, operation: api.operation });
      if (fault) {
        world.stats.countFault(fault.kind);
        if (await answerFault(api, fault, ex, world, body)) return;
        if (ex.gone()) return;
      }
      ex.send(200, body());
    },
  };
}

/** Applies a fault to a counted API; true when it answered. */
async function answerFault(api: CountedApi, fault: Parameters<typeof applyAnswerFault>[0], ex: Exchange, world: SimWorld, body: () => string): Promise<boolean> {
  const answered = await applyAnswerFault(fault, ex);
  if (answered !== undefined) return answered;
  switch (fault.kind) {
    case 'wrong-content-type':
      ex.send(200, fault.htmlBody ? HTML_200 : body(), 'text/html; charset=utf-8');
      return true;
    case 'reset':
      sendAndReset(ex, Buffer.from(body(), 'utf8'));
      return true;
    case 'malformed-json':
      ex.send(200, body().replace(/\]\}$/, ',]}'));
      return true;
    case 'truncated-json': {
      const b = Buffer.from(body(), 'utf8');
      ex.send(200, b.subarray(0, b.length >> 1));
      return true;
    }
    case 'missing-list':
      ex.send(200, JSON.stringify({ request_id: ex.requestId, count: 0 }));
      return true;
    case 'shift':
      api.shift?.(world, ex.params.project_id as string, fault.by ?? 5);
      return false;
    default:
      return false; // record-level kinds are rejected for these APIs when the fault is set
  }
}
