/**
 * IAM `KeystoneListProjects`: `GET /v3/projects?name={region}`, the call the official SDKs make to find the project id
 * of a region (NOTES.md section 3). Signed like any API call; lists the projects of the caller's account.
 */
import type { ApiRoute } from './routes.js';

export const keystoneListProjects: ApiRoute = {
  operation: 'KeystoneListProjects',
  method: 'GET',
  path: '/v3/projects',
  handle(ex, world) {
    const names = ex.url.searchParams.getAll('name');
    if (names.length > 1) {
      ex.error(400, 'IAM.0007', 'Request parameter name is invalid.');
      return;
    }
    const projects = world.accounts.projectsFor(ex.accessKey, names[0]).map((p) => ({
      id: p.id,
      name: p.name,
      domain_id: 'd0000000000000000000000000000000',
      parent_id: 'd0000000000000000000000000000000',
      is_domain: false,
      enabled: true,
      description: '',
      links: { self: `${ex.url.origin}/v3/projects/${p.id}` },
    }));
    ex.send(200, JSON.stringify({ projects, links: { self: `${ex.url.origin}/v3/projects`, previous: null, next: null } }));
  },
};
