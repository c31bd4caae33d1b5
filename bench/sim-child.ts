/** Child process: the CPH simulator serving one project of a given size on 127.0.0.1. */
import { DEMO_ACCESS_KEY, DEMO_SECRET_KEY } from '../src/simulator/demo-credentials.js';
import { createSimulator, type Simulator } from '../src/simulator/server.js';
import { serveCommands } from './ipc.js';
import { BENCH_PROJECT } from './setup.js';

let sim: Simulator | undefined;

serveCommands({
  /** Generates the fleet and listens; returns the base URL. */
  async start(args: { encodeServers: number; latencyMs: number; seed?: number }): Promise<string> {
    sim = createSimulator({
      seed: args.seed ?? 7,
      // Ten encode servers per cloud-phone server, as in the demo fleet.
      projects: { [BENCH_PROJECT]: { encodeServers: args.encodeServers, cloudPhoneServers: Math.max(1, Math.round(args.encodeServers / 10)) } },
      credentials: { [DEMO_ACCESS_KEY]: DEMO_SECRET_KEY },
      latencyMs: args.latencyMs,
      lockout: false,
    });
    return sim.listen(0, '127.0.0.1');
  },
  /**
   * The estate scenario: `phoneServers` cloud-phone servers with one encode server each (no orphans: the same
   * servers whatever the number of phones) and `phones` cloud phones spread over them.
   */
  async startEstate(args: { phoneServers: number; phones: number; latencyMs: number }): Promise<string> {
    sim = createSimulator({
      seed: 7,
      projects: { [BENCH_PROJECT]: { encodeServers: args.phoneServers, cloudPhoneServers: args.phoneServers, phones: args.phones, orphans: 0 } },
      credentials: { [DEMO_ACCESS_KEY]: DEMO_SECRET_KEY },
      latencyMs: args.latencyMs,
      lockout: false,
    });
    sim.estate(BENCH_PROJECT); // built now, not during the first poll
    return sim.listen(0, '127.0.0.1');
  },
  operationStats(args: { operation: string }): unknown {
    return sim?.stats.operation(args.operation);
  },
  setLatency(args: { latencyMs: number }): void {
    if (sim) sim.latencyMs = args.latencyMs;
  },
  resetStats(): void {
    sim?.resetStats();
  },
  stats(): unknown {
    return sim?.stats.toJSON();
  },
});
