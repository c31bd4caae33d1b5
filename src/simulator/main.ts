/**
 * `npm run simulator`: runs the CPH simulator alone.
 *
 *   --listen=HOST:PORT        default 127.0.0.1:8443 (plain HTTP)
 *   --seed=N                  default 1
 *   --projects=ID:N[,ID:N]    project ids and their encode-server counts (default: the demo projects)
 *   --cloud-phone-servers=N   cloud-phone servers per project (default: one per 10 encode servers)
 *   --phones-per-server=N     cloud phones per cloud-phone server (default 4)
 *   --latency-ms=N            per-request latency (default 0)
 *   --rate-limit=RPS[:BURST]  token bucket over all API requests (default: none)
 *   --no-verify-signatures    accept any request without checking its signature
 *   --open-ports=PID:ESID[:TYPE[+TYPE]][,…]  real TCP listeners for those encode servers' access ports
 *   --help                    these flags, then every API and admin route (with a curl example) and fault kind
 */
import { parseArgs } from 'node:util';
import { DEMO_ACCESS_KEY, DEMO_PROJECTS } from './demo-credentials.js';
import { adminPaths, apiRouteLines, simulatorHelp } from './help.js';
import { createSimulator, type FleetSize, type SimulatorOptions } from './server.js';

const USAGE = `Usage: npm run simulator -- [--listen=127.0.0.1:8443] [--seed=1] [--projects=ID:N,ID:N]
  [--cloud-phone-servers=N] [--phones-per-server=N] [--latency-ms=N] [--rate-limit=RPS[:BURST]] [--no-verify-signatures]
  [--open-ports=PROJECT_ID:ENCODE_SERVER_ID[:TYPE[+TYPE]][,...]]   listen on 127.0.0.1 for those access ports`;

function fail(message: string): never {
  process.stderr.write(`simulator: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function nonNegativeInt(value: string, flag: string): number {
  if (!/^\d+$/.test(value)) fail(`${flag} must be a non-negative integer`);
  return Number(value);
}

function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value);
  if (!m) fail('--listen must be HOST:PORT');
  const port = Number(m[3]);
  if (port > 65535) fail('--listen port out of range');
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        listen: { type: 'string', default: '127.0.0.1:8443' },
        seed: { type: 'string', default: '1' },
        projects: { type: 'string' },
        'cloud-phone-servers': { type: 'string' },
        'phones-per-server': { type: 'string', default: '4' },
        'latency-ms': { type: 'string', default: '0' },
        'rate-limit': { type: 'string' },
        'no-verify-signatures': { type: 'boolean', default: false },
        'open-ports': { type: 'string' },
        help: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    fail(err instanceof Error ? err.message : String(err));
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n\n${simulatorHelp(`http://${values.listen}`)}\n`);
    return;
  }

  const { host, port } = parseListen(values.listen);
  const cps = values['cloud-phone-servers'];
  const perServer = nonNegativeInt(values['phones-per-server'], '--phones-per-server');
  const sizeOf = (n: number): FleetSize => {
    const cloudPhoneServers = cps !== undefined ? Math.max(1, nonNegativeInt(cps, '--cloud-phone-servers')) : Math.max(1, Math.ceil(n / 10));
    return { encodeServers: n, cloudPhoneServers, phones: cloudPhoneServers * perServer };
  };
  const projects: Record<string, FleetSize> = {};
  if (values.projects !== undefined) {
    for (const item of values.projects.split(',').filter((s) => s !== '')) {
      const m = /^([A-Za-z0-9_-]{1,64}):(\d+)$/.exec(item);
      if (!m) fail(`--projects entry "${item}" must be ID:N`);
      projects[m[1] as string] = sizeOf(Number(m[2]));
    }
  } else {
    for (const [id, n] of Object.entries(DEMO_PROJECTS)) projects[id] = sizeOf(n);
  }

  const options: SimulatorOptions = {
    seed: nonNegativeInt(values.seed, '--seed'),
    projects,
    latencyMs: nonNegativeInt(values['latency-ms'], '--latency-ms'),
    verifySignatures: !values['no-verify-signatures'],
  };
  if (values['rate-limit'] !== undefined) {
    const m = /^(\d+(?:\.\d+)?)(?::(\d+))?$/.exec(values['rate-limit']);
    if (!m || !(Number(m[1]) > 0)) fail('--rate-limit must be RPS[:BURST] with RPS > 0');
    options.rateLimit = { requestsPerSecond: Number(m[1]), burst: m[2] !== undefined ? Number(m[2]) : undefined };
  }

  if (values['open-ports'] !== undefined) {
    options.openPorts = values['open-ports']
      .split(',')
      .filter((s) => s !== '')
      .map((item) => {
        const m = /^([A-Za-z0-9_-]{1,64}):([0-9a-f]{32})(?::([A-Za-z0-9_+-]+))?$/.exec(item);
        if (!m) fail(`--open-ports entry "${item}" must be PROJECT_ID:ENCODE_SERVER_ID[:TYPE[+TYPE]]`);
        return { projectId: m[1] as string, encodeServerId: m[2] as string, portTypes: m[3]?.split('+') };
      });
  }

  const sim = createSimulator(options);
  const url = await sim.listen(port, host).catch((err: unknown) => fail(err instanceof Error ? err.message : String(err)));
  const lines = [
    `CPH simulator listening on ${url}`,
    ...apiRouteLines().map((l, i) => `  ${i === 0 ? 'API:     ' : '         '} ${l}`),
    `  admin:    ${url} + ${adminPaths().join(', ')} (examples: npm run simulator -- --help)`,
    `  projects: ${Object.entries(projects)
      .map(([id, s]) => `${id} (${s.encodeServers} encode servers, ${s.cloudPhoneServers} cloud-phone servers, ${s.phones ?? 0} phones)`)
      .join(', ')}`,
    options.verifySignatures
      ? `  auth:     demo access key ${DEMO_ACCESS_KEY} (fake; its secret key is DEMO_SECRET_KEY in src/simulator/demo-credentials.ts)`
      : '  auth:     signatures are NOT checked',
    ...sim.listeners.list().map((l) => `  listening for ${l.projectId}/${l.encodeServerId} ${l.portType} on ${l.host}:${l.port}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`simulator: ${signal}, stopping\n`);
    sim.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  process.stderr.write(`simulator: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
