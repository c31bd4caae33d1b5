/** Checks every project-scoped CPH API makes after authentication, shared by their routes. */
import type { Exchange } from '../exchange.js';
import type { Fleet } from '../fleet.js';
import { signedHeaderNames } from '../gateway/gateway.js';
import type { SimWorld } from '../world.js';

export const ERR_NO_PERMISSION = 'No permission to request resources.';
const INT32_MAX = 2147483647;

/**
 * The fleet of the path's `{project_id}`; undefined after answering 403 `CPS.0001` when the simulator does not serve
 * the project or a signed `X-Project-Id` names another one.
 */
export function projectFleet(ex: Exchange, world: SimWorld): Fleet | undefined {
  const projectId = ex.params.project_id as string;
  const headerProject = ex.header('x-project-id');
  const signed = !world.gateway.verifySignatures || signedHeaderNames(ex.header('authorization')).includes('x-project-id');
  const fleet =
    (headerProject !== undefined && signed && headerProject !== projectId) || !world.accounts.mayUse(ex.accessKey, projectId)
      ? undefined
      : world.fleetOrUndefined(projectId);
  if (!fleet) ex.error(403, 'CPS.0001', ERR_NO_PERMISSION);
  return fleet;
}

/** Parses one integer query parameter: undefined if absent, null if invalid (repeated, empty, not an integer). */
export function intParam(sp: URLSearchParams, name: string, allowNegative = false): number | undefined | null {
  const all = sp.getAll(name);
  if (all.length === 0) return undefined;
  if (all.length > 1) return null;
  const v = all[0] as string;
  if (!(allowNegative ? /^-?\d{1,10}$/ : /^\d{1,10}$/).test(v)) return null;
  const n = Number(v);
  return Math.abs(n) > INT32_MAX ? null : n;
}
