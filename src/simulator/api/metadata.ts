/** The metadata service's credential routes (accounts/metadata.ts); unsigned, as on a real ECS server. */
import type { ApiRoute } from './routes.js';

function unavailable(ex: Parameters<ApiRoute['handle']>[0]): void {
  ex.error(404, 'Not Found', 'this simulator runs no metadata service (option metadata)');
}

export const metadataToken: ApiRoute = {
  operation: 'MetadataToken',
  method: 'PUT',
  path: '/meta-data/latest/api/token',
  signed: false,
  handle: (ex, world) => (world.metadata ? world.metadata.putToken(ex) : unavailable(ex)),
};

export const metadataSecurityKey: ApiRoute = {
  operation: 'MetadataSecurityKey',
  method: 'GET',
  path: '/openstack/latest/securitykey',
  signed: false,
  handle: (ex, world) => (world.metadata ? world.metadata.getSecurityKey(ex) : unavailable(ex)),
};
