/** Admin routes: one project's fleet of encode servers (read it, change records, add and remove servers). */
import { DEMO_PROJECTS } from '../demo-credentials.js';
import { HttpError, asObject, type Exchange } from '../exchange.js';
import type { Fleet } from '../fleet.js';
import type { SimWorld } from '../world.js';
import type { AdminRoute } from './routes.js';

const DEMO_PROJECT = Object.keys(DEMO_PROJECTS)[0] as string;
const ID = '<encode_server_id from GET /_sim/fleet/{project_id}>';

function fleetOf(ex: Exchange, world: SimWorld): Fleet {
  const projectId = ex.params.project_id as string;
  const fleet = world.fleetOrUndefined(projectId);
  if (!fleet) throw new HttpError(404, `no project ${projectId}`);
  return fleet;
}

function int(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new HttpError(400, `${name} must be an integer`);
  return v;
}

/** The body's `encode_server_id`, which must exist in the fleet. */
function serverId(fleet: Fleet, body: Record<string, unknown>): string {
  if (typeof body.encode_server_id !== 'string') throw new HttpError(400, 'encode_server_id must be a string');
  if (!fleet.find(body.encode_server_id)) throw new HttpError(404, `no encode server ${body.encode_server_id}`);
  return body.encode_server_id;
}

/** A POST route on one fleet with a JSON object body. */
function change(
  action: string,
  summary: string,
  body: Record<string, unknown>,
  apply: (fleet: Fleet, body: Record<string, unknown>) => unknown,
): AdminRoute {
  return {
    method: 'POST',
    path: `/_sim/fleet/{project_id}/${action}`,
    summary,
    example: { path: `/_sim/fleet/${DEMO_PROJECT}/${action}`, body },
    handle: async (ex, world) => {
      const fleet = fleetOf(ex, world);
      return apply(fleet, asObject(await ex.json()));
    },
  };
}

export const fleetRoutes: AdminRoute[] = [
  {
    method: 'GET',
    path: '/_sim/fleet/{project_id}',
    summary: "a project's encode servers, in listing order",
    example: { path: `/_sim/fleet/${DEMO_PROJECT}` },
    handle(ex, world) {
      const fleet = fleetOf(ex, world);
      return { project_id: ex.params.project_id, count: fleet.size, encode_servers: fleet.items };
    },
  },
  change('status', "sets a server's status", { encode_server_id: ID, status: 5 }, (fleet, body) =>
    fleet.setStatus(serverId(fleet, body), int(body.status, 'status')),
  ),
  change('type', "sets a server's type", { encode_server_id: ID, type: 1 }, (fleet, body) =>
    fleet.setType(serverId(fleet, body), int(body.type, 'type')),
  ),
  change(
    'public-ip',
    'puts a port type on a public IP (or takes it off with null): makes the exposure alerts fire',
    { encode_server_id: ID, port_type: 'adb', public_ip: '203.0.113.10' },
    (fleet, body) => {
      const ip = body.public_ip;
      if (ip !== null && typeof ip !== 'string') throw new HttpError(400, 'public_ip must be a string or null');
      if (typeof body.port_type !== 'string') throw new HttpError(400, 'port_type must be a string');
      return fleet.setPublicIp(serverId(fleet, body), body.port_type, ip);
    },
  ),
  change('add', 'adds `count` new servers at position `at` (default: the end)', { count: 3, at: 0 }, (fleet, body) => {
    const count = int(body.count ?? 1, 'count');
    const at = body.at === undefined ? fleet.size : int(body.at, 'at');
    return { added: fleet.add(count, at).map((r) => r.encode_server_id), count: fleet.size };
  }),
  change('remove', 'removes servers by id ({encode_server_ids}) or by position ({at, count})', { at: 0, count: 3 }, (fleet, body) => {
    const removed = Array.isArray(body.encode_server_ids)
      ? fleet.remove(body.encode_server_ids.map(String))
      : fleet.removeAt(int(body.at ?? 0, 'at'), int(body.count ?? 1, 'count')).length;
    return { removed, count: fleet.size };
  }),
];
