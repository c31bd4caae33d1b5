import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { Credentials } from '../../src/cph/types.js';
import { type RunningExporter, startExporter } from '../../src/exporter.js';
import { silentLogger } from '../../src/log/logger.js';
import { DEMO_ACCESS_KEY, DEMO_SECRET_KEY } from '../../src/simulator/demo-credentials.js';
import { createSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/server.js';

export const DEMO_CREDENTIALS: Credentials = { accessKey: DEMO_ACCESS_KEY, secretKey: DEMO_SECRET_KEY };

export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const sim = createSimulator({ credentials: { [DEMO_ACCESS_KEY]: DEMO_SECRET_KEY }, ...options });
  await sim.listen(0, '127.0.0.1');
  return sim;
}

export interface HarnessTarget {
  projectId: string;
  region?: string;
}

/**
 * Starts the exporter in-process against a simulator, with the cron schedule off: the test
 * drives polls with `exporter.poll()`. `raw` is merged into the config file's object.
 */
export async function startTestExporter(
  sim: Simulator,
  targets: HarnessTarget[],
  raw: { poll?: Record<string, unknown>; api?: Record<string, unknown>; metrics?: Record<string, unknown>; resources?: readonly string[] } = {},
  credentials: { get(): Credentials } = { get: () => DEMO_CREDENTIALS },
): Promise<RunningExporter> {
  const config = parseConfig({
    targets: targets.map((t) => ({ project_id: t.projectId, region: t.region ?? 'cn-north-4', endpoint: sim.url })),
    poll: { schedule: '0 0 * * * *', ...raw.poll },
    api: { connect_timeout: '2s', request_timeout: '5s', ...raw.api },
    ...(raw.metrics ? { metrics: raw.metrics } : {}),
    ...(raw.resources ? { resources: raw.resources } : {}),
  });
  const exporter = await startExporter({
    config,
    credentials,
    listen: { host: '127.0.0.1', port: 0 },
    log: silentLogger(),
    schedule: false,
    processMetrics: false,
  });
  await exporter.firstPoll;
  return exporter;
}

export async function scrape(url: string, headers: Record<string, string> = {}): Promise<string> {
  const res = await fetch(`${url}/metrics`, { headers });
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return res.text();
}

export function tempFile(name: string, content: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'cph-exporter-test-'));
  const file = join(dir, name);
  writeFileSync(file, content);
  return file;
}

/** A simulator and an exporter per test, both stopped after each test (assign them in the test). */
export function perTestRig(): { sim?: Simulator | undefined; exporter?: RunningExporter | undefined } {
  const rig: { sim?: Simulator | undefined; exporter?: RunningExporter | undefined } = {};
  afterEach(async () => {
    await rig.exporter?.stop();
    await rig.sim?.close();
    rig.exporter = undefined;
    rig.sim = undefined;
  });
  return rig;
}
