/**
 * IAM project discovery, as the official SDKs do it when no project id is configured (NOTES.md section 3;
 * go:core/auth/basic_credentials.go ProcessAuthParams, py:huaweicloudsdkcore/auth/internal.py Iam):
 * a signed `GET {iam}/v3/projects?name={region}`; exactly one project of that name is the answer, none or several
 * are errors that say what to configure instead. Pure: the request is made by the client.
 */
import { CphApiError } from './errors.js';

export const KEYSTONE_LIST_PROJECTS = 'KeystoneListProjects';
export const IAM_ENDPOINT_ENV = 'HUAWEICLOUD_SDK_IAM_ENDPOINT';

/** IAM of a region, as in the Go SDK's endpoint table: every entry follows this pattern. */
export function defaultIamEndpoint(region: string): string {
  return `https://iam.${region}.myhuaweicloud.com`;
}

/**
 * Which IAM endpoint discovery asks, in the SDKs' order: the target's own override, then the
 * HUAWEICLOUD_SDK_IAM_ENDPOINT environment variable, then the region's IAM.
 */
export function iamEndpointFor(target: { region: string; iamEndpoint?: string | undefined }, env: NodeJS.ProcessEnv): string {
  return target.iamEndpoint ?? (env[IAM_ENDPOINT_ENV]?.trim() ? new URL(env[IAM_ENDPOINT_ENV].trim()).origin : defaultIamEndpoint(target.region));
}

export interface IamProject {
  id: string;
  name: string;
}

/** The projects of a KeystoneListProjects answer; throws CPH_BAD_RESPONSE when it is not `{projects: [{id, name}]}`. */
export function validateProjectsResponse(json: unknown, requestId?: string): IamProject[] {
  const bad = (what: string): never => {
    throw new CphApiError('CPH_BAD_RESPONSE', `${KEYSTONE_LIST_PROJECTS}: ${what}`, { requestId });
  };
  if (typeof json !== 'object' || json === null || !Array.isArray((json as { projects?: unknown }).projects)) bad('expected {"projects": [...]}');
  return ((json as { projects: unknown[] }).projects).map((p, i) => {
    const o = p as { id?: unknown; name?: unknown } | null;
    if (typeof o?.id !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(o.id)) bad(`projects[${i}].id: expected a project id`);
    return { id: (o as { id: string }).id, name: typeof o?.name === 'string' ? o.name : '' };
  });
}

export type ProjectChoice = { ok: true; projectId: string } | { ok: false; problem: string };

/** The one project named after the region, or why there is none to choose. */
export function chooseProject(projects: readonly IamProject[], region: string): ProjectChoice {
  // IAM filters by name already; a project of another name in the answer is not a match.
  const matches = projects.filter((p) => p.name === region);
  if (matches.length === 1) return { ok: true, projectId: (matches[0] as IamProject).id };
  if (matches.length === 0) {
    return { ok: false, problem: `IAM lists no project named "${region}" for this key: check the region and the key's IAM permission, or set project_id` };
  }
  return { ok: false, problem: `IAM lists ${matches.length} projects named "${region}" (${matches.map((p) => p.id).join(', ')}): set project_id to the one to poll` };
}
