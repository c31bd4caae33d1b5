import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { CphClient } from '../../src/cph/client.js';
import { type RunningExporter, startExporter } from '../../src/exporter.js';
import { type Logger, silentLogger } from '../../src/log/logger.js';
import { captureLogger } from '../helpers/clocked-exporter.js';
import { Poller } from '../../src/poller/poll.js';
import { startSchedule } from '../../src/poller/schedule.js';
import type { Simulator } from '../../src/simulator/server.js';
import { DEMO_CREDENTIALS, startSimulator } from '../helpers/harness.js';

/*
 * How startExporter starts and stops its parts: the HTTP server, the API client, the poller and
 * the cron schedule (replaced here by a stand-in, so that when it starts is seen, not raced).
 */

vi.mock('../../src/poller/schedule.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../src/poller/schedule.js')>()),
  startSchedule: vi.fn(),
}));

const P1 = 'a1000000000000000000000000000001';
let sim: Simulator;
let exporter: RunningExporter | undefined;
const scheduleStop = vi.fn(async (): Promise<void> => undefined);

beforeAll(async () => {
  sim = await startSimulator({ seed: 1, projects: { [P1]: { encodeServers: 3, cloudPhoneServers: 1 } } });
});
afterAll(async () => {
  await sim.close();
});
beforeEach(() => {
  vi.mocked(startSchedule).mockReset().mockImplementation(() => ({ stop: scheduleStop }));
  scheduleStop.mockReset().mockResolvedValue(undefined);
});
afterEach(async () => {
  sim.faults.clear();
  vi.restoreAllMocks();
  await exporter?.stop().catch(() => undefined);
  if (exporter?.server.server.listening) await exporter.server.close();
  exporter = undefined;
});

async function start(options: { targets?: number; log?: Logger; shard?: { index: number; count: number } } = {}): Promise<RunningExporter> {
  const config = parseConfig({
    targets: [{ project_id: P1, region: 'cn-north-4', endpoint: sim.url }],
    poll: { schedule: '0 0 * * * *' },
  });
  exporter = await startExporter({
    config: options.targets === 0 ? { ...config, targets: [] } : config,
    credentials: { get: () => DEMO_CREDENTIALS },
    listen: { host: '127.0.0.1', port: 0 },
    log: options.log ?? silentLogger(),
    processMetrics: false,
    shard: options.shard,
  });
  return exporter;
}

describe('stop()', () => {
  it('still closes the HTTP server and the API client when stopping the poller fails', async () => {
    const running = await start();
    await running.firstPoll;
    vi.spyOn(Poller.prototype, 'stop').mockRejectedValueOnce(new Error('poller would not stop'));
    const clientClose = vi.spyOn(CphClient.prototype, 'close');
    await expect(running.stop()).rejects.toThrow('poller would not stop');
    expect(clientClose).toHaveBeenCalledTimes(1);
    expect(running.server.server.listening).toBe(false);
  });

  it('still stops the poller and closes everything when stopping the schedule fails', async () => {
    const running = await start();
    await running.firstPoll;
    scheduleStop.mockRejectedValueOnce(new Error('cron would not stop'));
    const pollerStop = vi.spyOn(Poller.prototype, 'stop');
    const clientClose = vi.spyOn(CphClient.prototype, 'close');
    await expect(running.stop()).rejects.toThrow('cron would not stop');
    expect(pollerStop).toHaveBeenCalledTimes(1);
    expect(clientClose).toHaveBeenCalledTimes(1);
    expect(running.server.server.listening).toBe(false);
  });
});

describe('the poll schedule', () => {
  it('starts only once the first poll has settled, so no tick lands in it', async () => {
    sim.faults.set({ kind: 'hang' }); // the first poll's request gets no answer until the faults change
    const running = await start();
    await vi.waitFor(() => expect(sim.stats.project(P1).inFlight).toBe(1)); // the first poll is under way
    expect(startSchedule).not.toHaveBeenCalled();
    sim.faults.clear();
    await running.firstPoll;
    expect(startSchedule).toHaveBeenCalledTimes(1);
  });

  it('never starts when the exporter is stopped during the first poll', async () => {
    sim.faults.set({ kind: 'hang' });
    const running = await start();
    await vi.waitFor(() => expect(sim.stats.project(P1).inFlight).toBe(1)); // the first poll is under way
    await running.stop();
    await running.firstPoll;
    await new Promise((resolve) => setImmediate(resolve));
    expect(startSchedule).not.toHaveBeenCalled();
  });
});

describe('an empty share of the targets', () => {
  const warnings = (lines: string[]) =>
    lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['msg'] === 'no targets to poll');

  it('is logged as a warning naming the shard', async () => {
    const { log, lines } = captureLogger();
    await (await start({ targets: 0, shard: { index: 2, count: 5 }, log })).firstPoll;
    expect(warnings(lines)).toEqual([expect.objectContaining({ level: 'warn', shard: { index: 2, count: 5 } })]);
  });

  it('is logged without a shard when the exporter is not sharded, and not at all with targets', async () => {
    const empty = captureLogger();
    await (await start({ targets: 0, log: empty.log })).firstPoll;
    expect(warnings(empty.lines)).toEqual([expect.objectContaining({ level: 'warn' })]);
    expect(warnings(empty.lines)[0]).not.toHaveProperty('shard');
    await exporter?.stop();

    const some = captureLogger();
    await (await start({ log: some.log })).firstPoll;
    expect(warnings(some.lines)).toEqual([]);
  });
});
