import { SD_PORT_TYPES, type SdExposure, type SdPortType } from './access-ports.js';

/** What `GET /sd/access-ports?…` asks for. Empty lists mean "any". */
export interface SdQuery {
  /** `public` (the default), `private`, or both. */
  readonly exposures: readonly SdExposure[];
  readonly portTypes: readonly SdPortType[];
  readonly projectIds: readonly string[];
  readonly regions: readonly string[];
}

export const DEFAULT_SD_QUERY: SdQuery = { exposures: ['public'], portTypes: [], projectIds: [], regions: [] };

const EXPOSURE_VALUES: Readonly<Record<string, readonly SdExposure[]>> = {
  public: ['public'],
  private: ['private'],
  all: ['public', 'private'],
};
const KNOWN = new Set(['exposure', 'port_type', 'project_id', 'region']);

export type ParsedSdQuery = { ok: true; query: SdQuery } | { ok: false; error: string };

/**
 * Parses the endpoint's query string. `port_type`, `project_id` and `region` may be repeated (any of
 * them matches); `exposure` at most once. Unknown parameters and values are errors, so that a typo in
 * a Prometheus configuration is a failed discovery with a reason, not a silently empty target list.
 */
export function parseSdQuery(params: URLSearchParams): ParsedSdQuery {
  for (const key of new Set(params.keys())) {
    if (!KNOWN.has(key)) return { ok: false, error: `unknown parameter "${key}"; known: exposure, port_type, project_id, region` };
  }
  const exposure = params.getAll('exposure');
  if (exposure.length > 1) return { ok: false, error: 'exposure may be given once' };
  const exposures = exposure.length === 0 ? ['public' as const] : EXPOSURE_VALUES[exposure[0] as string];
  if (!exposures) return { ok: false, error: `exposure must be public, private or all, not "${exposure[0]}"` };
  const portTypes = params.getAll('port_type');
  const bad = portTypes.find((t) => !(SD_PORT_TYPES as readonly string[]).includes(t));
  if (bad !== undefined) return { ok: false, error: `port_type must be one of ${SD_PORT_TYPES.join(', ')}, not "${bad}"` };
  for (const key of ['project_id', 'region']) {
    if (params.getAll(key).some((v) => v === '')) return { ok: false, error: `${key} must not be empty` };
  }
  return {
    ok: true,
    query: {
      exposures,
      portTypes: [...new Set(portTypes as SdPortType[])].sort(),
      projectIds: [...new Set(params.getAll('project_id'))].sort(),
      regions: [...new Set(params.getAll('region'))].sort(),
    },
  };
}

/** The same key for queries that select the same groups (order and repetition do not matter). */
export function sdQueryKey(query: SdQuery): string {
  return JSON.stringify([query.exposures, query.portTypes, query.projectIds, query.regions]);
}
