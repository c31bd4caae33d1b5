/** `ListCloudPhoneServers`: `GET /v1/{project_id}/cloud-phone/servers` (NOTES.md §2a): `limit` 1..100, `count`. */
import { PHONE_SERVER_STATUSES } from '../estate.js';
import { countedRoute } from './counted.js';

export const listCloudPhoneServers = countedRoute({
  operation: 'ListCloudPhoneServers',
  path: 'servers',
  listKey: 'servers',
  maxLimit: 100,
  statuses: PHONE_SERVER_STATUSES,
  page: (world, projectId, offset, limit, filter) => world.estateOrUndefined(projectId)?.phoneServerPage(offset, limit, filter),
});
