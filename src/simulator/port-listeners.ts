/**
 * Real TCP listeners for the access ports of chosen encode servers, so that a blackbox probe of what
 * /sd/access-ports lists can succeed or fail for real. Opening the ports of an encode server listens on a free port
 * of 127.0.0.1 per chosen port and rewrites the record: public IP 127.0.0.1 (`public_ip`, and `access_ip` where the
 * record has it) and `access_port` the listener's port. Closing a listener keeps the record as it is, so the port is
 * still listed and a probe of it now fails; stopping the simulator closes them all.
 *
 * A listener answers an HTTP request (an H5 port probed over HTTP) with 200 and closes; anything else (a TCP
 * connect probe) just connects and is left to the client.
 */
import net from 'node:net';
import type { AccessInfo, EncodeServer } from '../cph/types.js';
import type { Fleet } from './fleet.js';

/** Which ports to open: one encode server's ports of these types (default: all of its ports). */
export interface OpenPortsSpec {
  projectId: string;
  encodeServerId: string;
  portTypes?: readonly string[] | undefined;
}

export interface OpenedPort {
  projectId: string;
  encodeServerId: string;
  portType: string;
  host: string;
  port: number;
  /** False once closed: the record still lists the port, nothing listens. */
  open: boolean;
  /** Connections accepted so far. */
  connections: number;
}

interface Listener {
  info: OpenedPort;
  server: net.Server;
  sockets: Set<net.Socket>;
}

const HOST = '127.0.0.1';
const HTTP_REQUEST = /^[A-Z]+ \S+ HTTP\/1\.[01]\r?\n/;
const HTTP_OK = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n';

export class PortListeners {
  private readonly listeners: Listener[] = [];
  private stopped = false;

  constructor(private readonly fleetOf: (projectId: string) => Fleet) {}

  /** Opens the chosen ports and points the record at them; resolves to what was opened. Throws for an unknown server or type. */
  async open(spec: OpenPortsSpec): Promise<OpenedPort[]> {
    if (this.stopped) throw new Error('the simulator is closed');
    const fleet = this.fleetOf(spec.projectId);
    const record = fleet.find(spec.encodeServerId);
    if (!record) throw new Error(`no encode server ${spec.encodeServerId} in project ${spec.projectId}`);
    const wanted = spec.portTypes ?? record.access_infos.map((p) => p.type);
    for (const t of wanted) {
      if (!record.access_infos.some((p) => p.type === t)) throw new Error(`encode server ${spec.encodeServerId} has no port of type ${t}`);
    }
    const opened: Listener[] = [];
    try {
      for (const portType of new Set(wanted)) opened.push(await this.listen({ projectId: spec.projectId, encodeServerId: spec.encodeServerId, portType }));
    } catch (err) {
      await Promise.all(opened.map((l) => closeListener(l)));
      throw err;
    }
    // Re-read the record: it may have changed while listening.
    const current = fleet.find(spec.encodeServerId) ?? record;
    const ports = new Map(opened.map((l) => [l.info.portType, l.info.port]));
    fleet.replace(spec.encodeServerId, pointAt(current, ports));
    this.listeners.push(...opened);
    return opened.map((l) => ({ ...l.info }));
  }

  /** Closes the matching listeners (all when no filter); the records keep their addresses. Resolves to how many closed. */
  async close(filter: { projectId?: string; encodeServerId?: string; portType?: string } = {}): Promise<number> {
    const matching = this.listeners.filter(
      (l) =>
        l.info.open &&
        (filter.projectId === undefined || l.info.projectId === filter.projectId) &&
        (filter.encodeServerId === undefined || l.info.encodeServerId === filter.encodeServerId) &&
        (filter.portType === undefined || l.info.portType === filter.portType),
    );
    await Promise.all(matching.map((l) => closeListener(l)));
    return matching.length;
  }

  list(): OpenedPort[] {
    return this.listeners.map((l) => ({ ...l.info }));
  }

  /** Closes every listener; no new one opens afterwards. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.close();
  }

  private listen(key: { projectId: string; encodeServerId: string; portType: string }): Promise<Listener> {
    const sockets = new Set<net.Socket>();
    const info: OpenedPort = { ...key, host: HOST, port: 0, open: true, connections: 0 };
    const server = net.createServer((socket) => {
      info.connections++;
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => socket.destroy());
      socket.once('data', (data: Buffer) => {
        if (HTTP_REQUEST.test(data.toString('latin1'))) socket.end(HTTP_OK);
      });
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, HOST, () => {
        server.off('error', reject);
        info.port = (server.address() as net.AddressInfo).port;
        resolve({ info, server, sockets });
      });
    });
  }
}

function closeListener(l: Listener): Promise<void> {
  l.info.open = false;
  return new Promise((resolve) => {
    if (!l.server.listening) {
      resolve();
      return;
    }
    l.server.close(() => resolve());
    for (const s of l.sockets) s.destroy();
  });
}

/** The record with the given port types on 127.0.0.1 at the given ports, in whichever field set it has. */
function pointAt(record: EncodeServer, ports: ReadonlyMap<string, number>): EncodeServer {
  const access_infos = record.access_infos.map((p): AccessInfo => {
    const port = ports.get(p.type);
    if (port === undefined) return p;
    const q: AccessInfo = { ...p, access_port: port };
    if ('public_ip' in p || !('access_ip' in p)) q.public_ip = HOST;
    if ('access_ip' in p) q.access_ip = HOST;
    return q;
  });
  return { ...record, access_infos };
}
