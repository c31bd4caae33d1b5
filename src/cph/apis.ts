import type { CloudPhone, CloudPhoneServer, CountedPage, ListEncodeServersResponse } from './types.js';
import { validateListCloudPhoneServersResponse, validateListCloudPhonesResponse, validateListEncodeServersResponse } from './validate.js';

/**
 * A CPH list API as the exporter calls it: its operation name (the `operation` label of the API
 * metrics), its path under `/v1/{project_id}/cloud-phone/`, the `limit` range it accepts (an
 * out-of-range `limit` is a 400 `CPS.0002` from the real API), and how its 200 body is validated.
 */
export interface ListApi<R> {
  readonly operation: string;
  readonly path: string;
  readonly maxLimit: number;
  /** The IAM action a key's policy must allow (README, "Permissions"). */
  readonly iamAction: string;
  validate(body: unknown, requestId: string | undefined): R;
}

/** ListEncodeServers (NOTES.md §1): `limit` 1..100, no total. */
export const ENCODE_SERVERS_API: ListApi<ListEncodeServersResponse> = {
  operation: 'ListEncodeServers',
  path: 'encode-servers',
  maxLimit: 100,
  iamAction: 'cph:servers:listEncodeServers',
  validate: validateListEncodeServersResponse,
};

/** ListCloudPhoneServers (NOTES.md §2a): `limit` 1..100, with `count`. */
export const PHONE_SERVERS_API: ListApi<CountedPage<CloudPhoneServer>> = {
  operation: 'ListCloudPhoneServers',
  path: 'servers',
  maxLimit: 100,
  iamAction: 'cph:servers:list',
  validate: validateListCloudPhoneServersResponse,
};

/** ListCloudPhones (NOTES.md §2b): `limit` 1..200 (the default changed from 200 to 100 in 2025), with `count`. */
export const PHONES_API: ListApi<CountedPage<CloudPhone>> = {
  operation: 'ListCloudPhones',
  path: 'phones',
  maxLimit: 200,
  iamAction: 'cph:phones:list',
  validate: validateListCloudPhonesResponse,
};
