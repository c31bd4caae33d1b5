/**
 * The API routes the simulator serves behind its gateway. To add an API: write `api/<name>.ts` exporting an `ApiRoute`
 * and add it to `API_ROUTES` below. Requests that match no route get 404 `APIGW.0101`.
 */
import type { Exchange } from '../exchange.js';
import type { SimWorld } from '../world.js';
import { listEncodeServers } from './encode-servers.js';
import { listCloudPhoneServers } from './phone-servers.js';
import { listCloudPhones } from './phones.js';
import { keystoneListProjects } from './iam-projects.js';
import { metadataSecurityKey, metadataToken } from './metadata.js';

export interface ApiRoute {
  /** The API's operation name, e.g. `ListEncodeServers` (shown by `npm run simulator -- --help`). */
  operation: string;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Path template; `{name}` matches one segment and lands decoded in `ex.params.name`. */
  path: string;
  /**
   * Whether the gateway checks the AK/SK signature and lockout (default true). False for routes a real cloud serves
   * without it (e.g. the ECS metadata service).
   */
  signed?: boolean;
  /** Answers the request through `ex` (after latency, rate limit and authentication). */
  handle(ex: Exchange, world: SimWorld): void | Promise<void>;
}

export const API_ROUTES: readonly ApiRoute[] = [keystoneListProjects, metadataToken, metadataSecurityKey, listEncodeServers, listCloudPhoneServers, listCloudPhones];
