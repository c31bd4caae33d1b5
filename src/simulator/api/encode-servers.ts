/** `ListEncodeServers`: `GET /v1/{project_id}/cloud-phone/encode-servers` (see /work/shared/api/ListEncodeServers.md). */
import { DOCUMENTED_STATUSES } from '../generate.js';
import { applyFault, changeFleet, pageBody, type EncodeServerQuery } from './encode-server-faults.js';
import type { ApiRoute } from './routes.js';
import { intParam, projectFleet } from './project.js';

const SERVER_ID = /^[0-9a-f]{32}$/;

type QueryResult = { ok: true; query: EncodeServerQuery } | { ok: false; status: number; code: string; msg: string };

export function parseEncodeServerQuery(sp: URLSearchParams): QueryResult {
  const offset = intParam(sp, 'offset');
  const limit = intParam(sp, 'limit');
  if (offset === null || limit === null || (limit !== undefined && (limit < 1 || limit > 100))) {
    return { ok: false, status: 400, code: 'CPS.0002', msg: 'Parameter: offset or limit is invalid.' };
  }
  const type = intParam(sp, 'type', true);
  if (type === null) {
    // Not documented: the API declares `type` an integer; a non-integer is rejected like any malformed parameter.
    return { ok: false, status: 400, code: 'APIGW.0201', msg: 'Bad request: parameter type is invalid.' };
  }
  const status = intParam(sp, 'status', true);
  if (status === null || (status !== undefined && !DOCUMENTED_STATUSES.includes(status))) {
    return { ok: false, status: 400, code: 'CPS.0010', msg: 'Parameter: status is invalid.' };
  }
  const serverIds = sp.getAll('server_id');
  if (serverIds.length > 1 || (serverIds.length === 1 && !SERVER_ID.test(serverIds[0] as string))) {
    return { ok: false, status: 400, code: 'CPS.0016', msg: 'Parameter: server_id is invalid.' };
  }
  return {
    ok: true,
    query: { offset: offset ?? 0, limit: limit ?? 100, filter: { type, status, server_id: serverIds[0] } },
  };
}

export const listEncodeServers: ApiRoute = {
  operation: 'ListEncodeServers',
  method: 'GET',
  path: '/v1/{project_id}/cloud-phone/encode-servers',
  async handle(ex, world) {
    const fleet = projectFleet(ex, world);
    if (!fleet) return;
    const parsed = parseEncodeServerQuery(ex.url.searchParams);
    if (!parsed.ok) {
      ex.error(parsed.status, parsed.code, parsed.msg);
      return;
    }
    const { query } = parsed;
    const fault = world.faults.match({ projectId: ex.params.project_id as string, offset: query.offset });
    if (fault) {
      world.stats.countFault(fault.kind);
      const handled = await applyFault(fault, ex, { fleet, query, seed: world.seed });
      if (handled || ex.gone()) return;
    }
    ex.send(200, pageBody(ex.requestId, fleet.page(query.offset, query.limit, query.filter)));
    if (fault?.kind === 'fleet-change') changeFleet(fleet, fault);
  },
};
