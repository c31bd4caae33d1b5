/** Admin routes: real TCP listeners for the access ports of chosen encode servers (port-listeners.ts). */
import { DEMO_PROJECTS } from '../demo-credentials.js';
import { HttpError, asObject } from '../exchange.js';
import type { AdminRoute } from './routes.js';

const DEMO_PROJECT = Object.keys(DEMO_PROJECTS)[0] as string;
const ID = '<encode_server_id from GET /_sim/fleet/{project_id}>';

const optional = (v: string | null): string | undefined => (v === null || v === '' ? undefined : v);

export const listenerRoutes: AdminRoute[] = [
  {
    method: 'GET',
    path: '/_sim/listeners',
    summary: 'the TCP listeners opened for access ports: project, encode server, port type, 127.0.0.1:port, open or closed',
    handle: (_ex, world) => ({ listeners: world.listeners.list() }),
  },
  {
    method: 'POST',
    path: '/_sim/listeners',
    summary: "opens a TCP listener on 127.0.0.1 for each (or the given) port type of an encode server and makes the record list it as public 127.0.0.1:port",
    example: { body: { project_id: DEMO_PROJECT, encode_server_id: ID, port_types: ['adb', 'cph_h5_server'] } },
    handle: async (ex, world) => {
      const body = asObject(await ex.json());
      if (typeof body.project_id !== 'string') throw new HttpError(400, 'project_id must be a string');
      if (typeof body.encode_server_id !== 'string') throw new HttpError(400, 'encode_server_id must be a string');
      const types = body.port_types;
      if (types !== undefined && !(Array.isArray(types) && types.every((t) => typeof t === 'string'))) {
        throw new HttpError(400, 'port_types must be an array of strings');
      }
      if (!world.fleetOrUndefined(body.project_id)) throw new HttpError(404, `no project ${body.project_id}`);
      try {
        return { opened: await world.listeners.open({ projectId: body.project_id, encodeServerId: body.encode_server_id, portTypes: types }) };
      } catch (err) {
        throw new HttpError(404, err instanceof Error ? err.message : String(err));
      }
    },
  },
  {
    method: 'DELETE',
    path: '/_sim/listeners',
    summary: 'closes the matching listeners (?project_id=&encode_server_id=&port_type=, all when none); the records keep listing the ports, so probes fail',
    example: { path: `/_sim/listeners?project_id=${DEMO_PROJECT}&port_type=adb` },
    handle: async (ex, world) => {
      const q = ex.url.searchParams;
      const closed = await world.listeners.close({
        projectId: optional(q.get('project_id')),
        encodeServerId: optional(q.get('encode_server_id')),
        portType: optional(q.get('port_type')),
      });
      return { closed };
    },
  },
];
