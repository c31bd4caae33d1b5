import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningExporter } from '../../src/exporter.js';
import type { Simulator } from '../../src/simulator/server.js';
import { parseExposition } from '../helpers/exposition.js';
import { scrape, startSimulator, startTestExporter } from '../helpers/harness.js';
import { promtool } from '../helpers/tools.js';

/*
 * Golden /metrics output for a fixed simulator seed (process metrics off). Values that depend on
 * time are normalised first: durations and timestamps become 0, histogram buckets other than
 * +Inf become 0, and the Node.js version becomes "vX". Regenerate after an intended change with
 *   npm run test:golden:update
 * and review the diff.
 */

const VOLATILE_VALUE = /^(cph_poll_duration_seconds|cph_poll_last_success_timestamp_seconds|cph_config_last_reload_success_timestamp_seconds|cph_api_request_duration_seconds_sum)\b/;
const BUCKET = /^cph_api_request_duration_seconds_bucket\{.*le="(?!\+Inf)/;

function normalise(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      if (VOLATILE_VALUE.test(line) || BUCKET.test(line)) return line.replace(/ [^ ]+$/, ' 0');
      return line.replace(/nodejs_version="[^"]*"/, 'nodejs_version="vX"');
    })
    .join('\n');
}

const PROJECT = 'b0000000000000000000000000000001';

describe('golden /metrics', () => {
  let sim: Simulator;
  let exporter: RunningExporter;
  beforeAll(async () => {
    sim = await startSimulator({ seed: 2024, projects: { [PROJECT]: { encodeServers: 64, cloudPhoneServers: 6 } } });
    exporter = await startTestExporter(sim, [{ projectId: PROJECT, region: 'cn-north-4' }], { poll: { concurrency: 2, page_size: 25 }, metrics: { phone_info: true } });
  });
  afterAll(async () => {
    await exporter?.stop();
    await sim?.close();
  });

  it('Prometheus text format matches test/golden/metrics.prom', async () => {
    const res = await fetch(`${exporter.url}/metrics`);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = normalise(await res.text());
    parseExposition(text);
    await expect(text).toMatchFileSnapshot('./metrics.prom');
  });

  it('OpenMetrics matches test/golden/metrics.openmetrics.txt', async () => {
    const res = await fetch(`${exporter.url}/metrics`, { headers: { Accept: 'application/openmetrics-text; version=1.0.0' } });
    expect(res.headers.get('content-type')).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    const text = normalise(await res.text());
    expect(text.endsWith('# EOF\n')).toBe(true);
    parseExposition(text);
    await expect(text).toMatchFileSnapshot('./metrics.openmetrics.txt');
  });

  it('promtool check metrics accepts the exposition, also after an OpenMetrics scrape', async (ctx) => {
    const tool = promtool(ctx);
    if (!tool) return;
    await fetch(`${exporter.url}/metrics`, { headers: { Accept: 'application/openmetrics-text' } }).then((r) => r.text());
    const text = normalise(await scrape(exporter.url));
    const result = spawnSync(tool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(`${result.stdout}${result.stderr}`).toBe('');
    expect(result.status).toBe(0);
  });
});
