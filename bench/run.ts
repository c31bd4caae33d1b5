/**
 * `npm run bench`: issue 6's four scenarios, the service-discovery one and issue 11's estate against the simulator on 127.0.0.1. Prints the figures
 * and writes BENCHMARKS.md. Bounded: every scenario stops by itself, and a watchdog ends the run
 * (and every child) if it ever takes longer than WATCHDOG_MS.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { goals, renderMarkdown, type Results, type RunInfo } from './report.js';
import { memoryScenario, type Paths, pollScenario, scrapeAndImpactScenarios } from './scenarios.js';
import { renderSdSection, sdScenario, spliceSdSection } from './sd-scenario.js';
import { estateGoals, estateScenario, renderEstateSection, spliceEstateSection } from './estate.js';

const WATCHDOG_MS = 520_000;
/** `npm run bench -- --only=sd`: only the HTTP service discovery scenario, replacing its section of BENCHMARKS.md. */
const ONLY_SD = process.argv.includes('--only=sd');
/** `npm run bench -- --only=estate`: only issue 11's estate scenario, replacing its section of BENCHMARKS.md. */
const ONLY_ESTATE = process.argv.includes('--only=estate');
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BUILD = join(ROOT, '.tmp', 'bench-build', 'bench');

function log(message: string): void {
  process.stderr.write(`[bench ${((performance.now() - startedAt) / 1000).toFixed(0).padStart(3)} s] ${message}\n`);
}

function revision(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'bench'], { cwd: ROOT, encoding: 'utf8' }).trim() !== '';
    return dirty ? `${sha} with uncommitted changes in src/ or bench/` : sha;
  } catch {
    return 'unknown';
  }
}

const startedAt = performance.now();

async function main(): Promise<void> {
  const watchdog = setTimeout(() => {
    log(`watchdog: still running after ${WATCHDOG_MS / 1000} s; stopping`);
    process.exit(2); // children exit when their IPC channel closes
  }, WATCHDOG_MS);
  watchdog.unref();

  const loadAtStart = os.loadavg();
  log('compiling src/ and bench/ (bench/tsconfig.json)');
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', join(ROOT, 'bench', 'tsconfig.json')], { stdio: 'inherit' });
  const paths: Paths = {
    sim: join(BUILD, 'sim-child.js'),
    exporter: join(BUILD, 'exporter-child.js'),
    naive: join(BUILD, 'naive-child.js'),
    bare: join(BUILD, 'bare-child.js'),
  };

  if (ONLY_SD) {
    log('5. HTTP service discovery (alone)');
    const sd = await sdScenario(paths, log);
    const file = join(ROOT, 'BENCHMARKS.md');
    const section = renderSdSection(sd, { command: 'npm run bench -- --only=sd', date: new Date().toISOString(), revision: revision(), loadAverage: loadAtStart[0] ?? 0 });
    writeFileSync(file, spliceSdSection(existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n', section));
    process.stdout.write(`${section}\n`);
    log('done; the SD section of BENCHMARKS.md written');
    clearTimeout(watchdog);
    return;
  }

  if (ONLY_ESTATE) {
    log('6. the estate (alone)');
    const estate = await estateScenario(paths, log);
    const file = join(ROOT, 'BENCHMARKS.md');
    const command = `npm run bench -- --only=estate (${new Date().toISOString()}, revision ${revision()}, load average ${(loadAtStart[0] ?? 0).toFixed(2)})`;
    const section = renderEstateSection(estate, command, loadAtStart[0]);
    writeFileSync(file, spliceEstateSection(existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n', section));
    process.stdout.write(`${section}\n`);
    const missed = estateGoals(estate).filter((g) => !g.ok);
    log(`done; ${missed.length === 0 ? 'every estate goal met' : `estate goals not met: ${missed.map((g) => g.goal).join('; ')}`}`);
    clearTimeout(watchdog);
    return;
  }

  log('1. poll against the latency bound');
  const poll = await pollScenario(paths, log);
  log('2 and 3. scrape cost, poll impact on scrapes');
  const { scrape, impact } = await scrapeAndImpactScenarios(paths, log);
  log('4. memory and scaling');
  const memory = await memoryScenario(paths, log);
  log('5. HTTP service discovery');
  const sd = await sdScenario(paths, log);
  log('6. the estate');
  const estate = await estateScenario(paths, log);
  const results: Results = { poll, scrape, impact, memory };

  const cpus = os.cpus();
  const info: RunInfo = {
    command: 'npm run bench',
    date: new Date().toISOString(),
    node: process.version,
    cores: os.availableParallelism(),
    cpuModel: cpus[0]?.model.trim() ?? 'unknown CPU',
    os: `${os.type()} ${os.release()}`,
    revision: revision(),
    loadAtStart,
    loadAtEnd: os.loadavg(),
    seconds: (performance.now() - startedAt) / 1000,
  };
  const markdown = spliceEstateSection(
    `${renderMarkdown(results, info)}\n${renderSdSection(sd, { command: info.command, date: info.date, revision: info.revision, loadAverage: loadAtStart[0] ?? 0 })}`,
    renderEstateSection(estate, info.command, loadAtStart[0]),
  );
  writeFileSync(join(ROOT, 'BENCHMARKS.md'), markdown);
  writeFileSync(join(ROOT, '.tmp', 'bench-results.json'), `${JSON.stringify({ info, results }, null, 2)}\n`);
  process.stdout.write(`${markdown}\n`);
  const missed = goals(results).filter((g) => !g.ok);
  log(`done; BENCHMARKS.md written; ${missed.length === 0 ? 'every goal met' : `goals not met: ${missed.map((g) => g.goal).join('; ')}`}`);
  clearTimeout(watchdog);
}

main().catch((err: unknown) => {
  log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
});
