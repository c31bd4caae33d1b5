/**
 * `ListCloudPhones`: `GET /v1/{project_id}/cloud-phone/phones` (NOTES.md §2b): `limit` 1..200, `count`, negative
 * status codes for failures. The `shift` fault creates (or deletes) phones at the front while a listing runs.
 */
import { PHONE_STATUSES } from '../estate.js';
import { countedRoute } from './counted.js';

export const listCloudPhones = countedRoute({
  operation: 'ListCloudPhones',
  path: 'phones',
  listKey: 'phones',
  maxLimit: 200,
  statuses: PHONE_STATUSES,
  page: (world, projectId, offset, limit, filter) => world.estateOrUndefined(projectId)?.phonePage(offset, limit, filter),
  shift: (world, projectId, by) => {
    const estate = world.estateOrUndefined(projectId);
    if (by > 0) estate?.addPhones(by);
    else if (by < 0) estate?.removePhonesAt(0, -by);
  },
});
