/** Admin routes: one project's phone servers and phones (read them, change statuses, create and delete phones). */
import { DEMO_PROJECTS } from '../demo-credentials.js';
import { HttpError, asObject, type Exchange } from '../exchange.js';
import type { Estate } from '../estate.js';
import type { SimWorld } from '../world.js';
import type { AdminRoute } from './routes.js';

const DEMO_PROJECT = Object.keys(DEMO_PROJECTS)[0] as string;
const SERVER = '<server_id from GET /_sim/estate/{project_id}>';

function estateOf(ex: Exchange, world: SimWorld): Estate {
  const projectId = ex.params.project_id as string;
  const estate = world.estateOrUndefined(projectId);
  if (!estate) throw new HttpError(404, `no project ${projectId}`);
  return estate;
}

function int(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new HttpError(400, `${name} must be an integer`);
  return v;
}

function text(v: unknown, name: string): string {
  if (typeof v !== 'string') throw new HttpError(400, `${name} must be a string`);
  return v;
}

function change(action: string, summary: string, body: Record<string, unknown>, apply: (estate: Estate, body: Record<string, unknown>) => unknown): AdminRoute {
  return {
    method: 'POST',
    path: `/_sim/estate/{project_id}/${action}`,
    summary,
    example: { path: `/_sim/estate/${DEMO_PROJECT}/${action}`, body },
    handle: async (ex, world) => apply(estateOf(ex, world), asObject(await ex.json())),
  };
}

export const estateRoutes: AdminRoute[] = [
  {
    method: 'GET',
    path: '/_sim/estate/{project_id}',
    summary: "a project's phone servers, phones and the orphans of the join with its encode servers",
    example: { path: `/_sim/estate/${DEMO_PROJECT}` },
    handle(ex, world) {
      const estate = estateOf(ex, world);
      return { project_id: ex.params.project_id, orphans: estate.orphans, phone_servers: estate.phoneServers, phones: estate.phones };
    },
  },
  change('phone-server-status', "sets a phone server's status", { server_id: SERVER, status: 2 }, (estate, body) => {
    const id = text(body.server_id, 'server_id');
    if (!estate.setPhoneServerStatus(id, int(body.status, 'status'))) throw new HttpError(404, `no phone server ${id}`);
    return { server_id: id };
  }),
  change('phone-status', "sets the status of one phone ({phone_id}) or of every phone of a server ({server_id}): makes the phone alerts fire", { server_id: SERVER, status: -7 }, (estate, body) => {
    const status = int(body.status, 'status');
    if (body.phone_id !== undefined) {
      const id = text(body.phone_id, 'phone_id');
      if (!estate.setPhoneStatus(id, status)) throw new HttpError(404, `no phone ${id}`);
      return { changed: 1 };
    }
    return { changed: estate.setPhonesOfServer(text(body.server_id, 'server_id'), status) };
  }),
  change('add-phones', 'creates `count` running phones at the front, on `server_id` or spread over the servers', { count: 3 }, (estate, body) => {
    const created = estate.addPhones(int(body.count ?? 1, 'count'), body.server_id === undefined ? undefined : text(body.server_id, 'server_id'));
    return { added: created.map((p) => p.phone_id), count: estate.phones.length };
  }),
  change('remove-phones', 'deletes `count` phones from position `at`', { at: 0, count: 3 }, (estate, body) => ({
    removed: estate.removePhonesAt(int(body.at ?? 0, 'at'), int(body.count ?? 1, 'count')),
    count: estate.phones.length,
  })),
];
