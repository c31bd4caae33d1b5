import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CphClient } from '../../src/cph/client.js';
import type { Credentials } from '../../src/cph/types.js';
import { FAULT_KINDS, type FaultKind, type FaultSpec } from '../../src/simulator/faults.js';
import type { Simulator } from '../../src/simulator/server.js';
import { samplesOf } from '../helpers/exposition.js';
import { startSimulator } from '../helpers/harness.js';
import { assertValidExposition } from '../helpers/validity.js';

/*
 * Recognisable fake secrets (SK, security token, basic-auth password, and the SK after a
 * rotation) go through every fault the simulator offers. None of them may appear in the CLI's
 * stdout or stderr (debug level), in /metrics, the landing page or any other answer, or in any
 * error the API client throws (message, stack, cause chain, util.inspect, JSON).
 *
 * The CLI runs as `npx tsx src/main.ts` in its own process group; npm does not pass SIGTERM on,
 * so it is stopped by signalling the whole group.
 */

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const MARK = 'DO-NOT-LEAK';
const AK1 = 'SECRETTESTAK00000001';
const AK2 = 'SECRETTESTAK00000002';
const SK1 = `SK1-${MARK}-7f3a9c2e5b8d1f4a6c0e9b2d`;
const SK2 = `SK2-${MARK}-4c8e1a7d3f9b5e2c6a0d8f1b`;
const TOKEN = `TOKEN-${MARK}-${'q9Zx4Lm2Rt7Vb1Nc8Kp3Hs6Jd0Wf5Gy'.repeat(8)}`;
const USER = 'prometheus';
const PASSWORD = `PW-${MARK}-b7e29f14`;
const SECRETS = [SK1, SK2, TOKEN, PASSWORD];

/** Every form a secret could leak in: itself, base64 (as in an Authorization header), URL-encoded, and any 12-character piece. */
function leakPatterns(): string[] {
  const out = new Set<string>([MARK]);
  for (const s of SECRETS) {
    out.add(s);
    out.add(Buffer.from(s).toString('base64'));
    out.add(encodeURIComponent(s));
    const distinctive = s.slice(s.indexOf(MARK) + MARK.length + 1);
    for (let i = 0; i + 12 <= distinctive.length; i += 4) out.add(distinctive.slice(i, i + 12));
  }
  out.add(Buffer.from(`${USER}:${PASSWORD}`).toString('base64'));
  return [...out];
}

function expectNoSecret(where: string, text: string): void {
  for (const p of leakPatterns()) {
    if (text.includes(p)) throw new Error(`a secret (${JSON.stringify(p.slice(0, 6))}...) appears in ${where}: ...${text.slice(Math.max(0, text.indexOf(p) - 80), text.indexOf(p) + 20)}...`);
  }
}

const TARGETS = Array.from({ length: 7 }, (_, i) => `5ec00000000000000000000000000${String(i + 1).padStart(3, '0')}`);
/** One fault per target per round; bad-signature concerns the key, so it has a round of its own. */
const ROUNDS: FaultKind[][] = [
  ['throttle', 'throttle-no-retry-after', 'error-500', 'error-502', 'error-503', 'error-504', 'html-502'],
  ['wrong-content-type', 'reset', 'hang', 'malformed-json', 'truncated-json', 'oversized', 'wrong-types'],
  ['missing-list', 'unknown-enums', 'weird-names', 'shift', 'forbidden', 'fleet-change', 'unauthorized'],
  ['bad-signature'],
];
const SPECS: Partial<Record<FaultKind, FaultSpec>> = {
  oversized: { kind: 'oversized', sizeBytes: 1 << 20 },
  throttle: { kind: 'throttle', retryAfterSeconds: 0 },
  'fleet-change': { kind: 'fleet-change', remove: 1, insert: 1 },
  unauthorized: { kind: 'unauthorized', error: 'ak-not-found' },
};
const spec = (kind: FaultKind): FaultSpec => SPECS[kind] ?? { kind };

let sim: Simulator;
let dir: string;

beforeAll(async () => {
  sim = await startSimulator({
    seed: 21,
    projects: Object.fromEntries(TARGETS.map((p) => [p, { encodeServers: 25, cloudPhoneServers: 3 }])),
    credentials: { [AK1]: SK1 },
    lockout: { maxFailures: 5, durationMs: 500 },
  });
  dir = mkdtempSync(join(tmpdir(), 'cph-secrets-'));
});
afterAll(async () => {
  await sim?.close();
  rmSync(dir, { recursive: true, force: true });
});

it('covers every fault kind the simulator offers', () => {
  expect(new Set(ROUNDS.flat())).toEqual(new Set(FAULT_KINDS));
});

describe('errors thrown by the API client', () => {
  it('never carry a secret, for any fault', async () => {
    const client = new CphClient({
      connectTimeoutMs: 500,
      requestTimeoutMs: 250,
      maxRetries: 1,
      maxResponseBytes: 256 * 1024,
      rateLimit: { requestsPerSecond: 200, burst: 200 },
      connectionsPerEndpoint: 4,
      retryBaseDelayMs: 10,
    });
    const credentials: Credentials = { accessKey: AK1, secretKey: SK1, securityToken: TOKEN };
    const seen: string[] = [];
    try {
      for (const kind of [...FAULT_KINDS, 'wrong-sk' as const]) {
        sim.faults.set(kind === 'wrong-sk' ? [] : [spec(kind)]);
        sim.clearLockouts();
        const creds = kind === 'wrong-sk' ? { ...credentials, secretKey: SK2 } : credentials;
        const outcome = await client
          .listEncodeServers({ endpoint: sim.url, projectId: TARGETS[0]! }, { offset: 0, limit: 10 }, { credentials: () => creds, signal: AbortSignal.timeout(2000) })
          .then(
            () => 'ok',
            (err: unknown) => {
              const e = err as Error & { toLogFields?: () => unknown };
              const text = [e.message, e.stack, String(e), inspect(e, { depth: 10, showHidden: true }), JSON.stringify(e), JSON.stringify(e.toLogFields?.())].join('\n');
              expectNoSecret(`the error of fault ${kind}`, text);
              return `${(err as { code?: string }).code}`;
            },
          );
        seen.push(`${kind}:${outcome}`);
      }
    } finally {
      sim.faults.clear();
      await client.close();
    }
    // The faults did produce errors of every kind (so the check above looked at something).
    expect(new Set(seen.map((s) => s.split(':')[1]))).toEqual(new Set(['ok', 'CPH_THROTTLED', 'CPH_SERVER', 'CPH_BAD_RESPONSE', 'CPH_NETWORK', 'CPH_TIMEOUT', 'CPH_AUTH']));
  });
});

describe('the CLI under every fault', () => {
  let child: ChildProcess | undefined;
  let stdout = '';
  let stderr = '';
  let closed: Promise<number | null>;
  let url = '';
  const answers: string[] = [];
  const auth = { Authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}` };

  const writeAtomically = (name: string, value: string): void => {
    // As a Kubernetes secret volume does: the new content appears at once, under a new inode.
    writeFileSync(join(dir, `.${name}.tmp`), `${value}\n`);
    renameSync(join(dir, `.${name}.tmp`), join(dir, name));
  };

  async function until(predicate: () => boolean | Promise<boolean>, what: string, timeoutMs = 8000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!(await predicate())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Everything a visitor can see: metrics in both formats, pages, refusals, unknown routes. */
  async function collect(): Promise<string> {
    const get = async (path: string, headers: Record<string, string> = auth, init: RequestInit = {}): Promise<string> => {
      const res = await fetch(`${url}${path}`, { headers, ...init });
      const body = await res.text();
      const text = `${init.method ?? 'GET'} ${path} -> ${res.status}\n${[...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n\n${body}`;
      answers.push(text);
      return body;
    };
    const metrics = await get('/metrics');
    assertValidExposition(metrics);
    await get('/metrics', { ...auth, Accept: 'application/openmetrics-text; version=1.0.0' });
    await Promise.all([
      get('/'),
      get('/healthz'),
      get('/readyz'),
      get('/nope'),
      get('/metrics', {}),
      get('/metrics', { Authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}x`).toString('base64')}` }),
      get('/', { Authorization: `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}` }),
      get('/metrics', auth, { method: 'POST' }),
    ]);
    return metrics;
  }

  beforeAll(async () => {
    writeAtomically('ak', AK1);
    writeAtomically('sk', SK1);
    writeAtomically('token', TOKEN);
    writeFileSync(join(dir, 'web.yml'), `basic_auth_users:\n  ${USER}: "${bcrypt.hashSync(PASSWORD, 4)}"\n`);
    writeFileSync(
      join(dir, 'config.yml'),
      [
        'targets:',
        ...TARGETS.flatMap((p) => [`  - project_id: ${p}`, '    region: cn-north-4', `    endpoint: ${sim.url}`]),
        'credentials:',
        `  access_key_file: ${join(dir, 'ak')}`,
        `  secret_key_file: ${join(dir, 'sk')}`,
        `  security_token_file: ${join(dir, 'token')}`,
        'poll:',
        '  schedule: "* * * * * *"',
        '  timeout: 900ms',
        '  max_staleness: 2s',
        '  auth_failure_backoff: 1s',
        '  page_size: 10',
        '  concurrency: 4',
        'api:',
        '  connect_timeout: 500ms',
        '  request_timeout: 250ms',
        '  max_retries: 1',
        '  max_response_bytes: 256KiB',
        '  requests_per_second: 200',
        '  burst: 200',
        '',
      ].join('\n'),
    );
    child = spawn(
      'npx',
      ['tsx', 'src/main.ts', `--config.file=${join(dir, 'config.yml')}`, `--web.config.file=${join(dir, 'web.yml')}`, '--web.listen-address=127.0.0.1:0', '--log.level=debug'],
      { cwd: repoRoot, env: { PATH: process.env['PATH'], HOME: process.env['HOME'] }, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
    );
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    closed = new Promise((resolve) => child!.on('close', (code) => resolve(code)));
    await until(() => /"msg":"cph-exporter listening"/.test(stderr), 'the exporter to listen', 20_000);
    url = (JSON.parse(stderr.split('\n').find((l) => l.includes('cph-exporter listening')) as string) as { url: string }).url;
  });

  afterAll(async () => {
    if (!child?.pid) return;
    const group = -child.pid;
    try {
      process.kill(group, 'SIGTERM');
    } catch {
      // already gone
    }
    const force = setTimeout(() => {
      try {
        process.kill(group, 'SIGKILL');
      } catch {
        // already gone
      }
    }, 5000);
    await closed;
    clearTimeout(force);
  });

  it('shows no secret anywhere while every fault is injected, and picks up a rotated secret file without a restart', async () => {
    for (const round of ROUNDS) {
      sim.resetStats();
      sim.faults.set(round.length === 1 ? [spec(round[0]!)] : round.map((kind, i) => ({ ...spec(kind), projectId: TARGETS[i] })));
      await until(() => round.every((k) => sim.stats.faultsInjectedOf(k) > 0), `faults ${round.join(', ')} to be injected`);
      await collect();
    }
    sim.faults.clear();
    await until(async () => samplesOf(await collect(), 'cph_up').every((s) => s.value === 1), 'every target up again');

    // Rotation: the API accepts only the new key from now on; the files change under the running process.
    const pid = child!.pid;
    sim.setCredential(AK2, SK2);
    sim.removeCredential(AK1);
    writeAtomically('ak', AK2);
    writeAtomically('sk', SK2);
    sim.resetStats();
    await until(async () => {
      const up = samplesOf(await collect(), 'cph_up');
      return up.length === TARGETS.length && up.every((s) => s.value === 1) && sim.stats.project(TARGETS[0]!).requests > 0;
    }, 'the rotated key to be used');
    expect(child!.pid).toBe(pid);
    expect(child!.exitCode).toBeNull();
    expect(sim.lockedUntil(AK1)).toBeUndefined();
    expect(sim.lockedUntil(AK2)).toBeUndefined();

    // A second instance that cannot start (its port is taken) fails with a message, no secret.
    const crashed = await new Promise<string>((resolve) => {
      let out = '';
      const p = spawn('npx', ['tsx', 'src/main.ts', `--config.file=${join(dir, 'config.yml')}`, `--web.listen-address=${url.replace('http://', '')}`], {
        cwd: repoRoot,
        env: { PATH: process.env['PATH'], HOME: process.env['HOME'], HUAWEICLOUD_SDK_SK: SK1, HUAWEICLOUD_SDK_SECURITY_TOKEN: TOKEN },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      p.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
      p.stderr.on('data', (d: Buffer) => (out += d.toString('utf8')));
      p.on('close', (code) => resolve(`exit ${code}\n${out}`));
    });
    expect(crashed).toMatch(/^exit 1\n/);
    expect(crashed).toMatch(/EADDRINUSE/);

    // Stop the exporter, then search everything it said and served.
    process.kill(-pid!, 'SIGTERM');
    await closed;
    const logLines = stderr.split('\n').filter(Boolean);
    console.info(`secrets: searched ${stdout.length + stderr.length} bytes of CLI output (${logLines.length} log lines), ${answers.length} HTTP answers (${answers.reduce((a, t) => a + t.length, 0)} bytes), crash output; ${leakPatterns().length} patterns`);
    expect(logLines.some((l) => l.includes('"reason":"auth"'))).toBe(true); // the logs did talk about the failures
    expectNoSecret('stdout', stdout);
    expectNoSecret('stderr', stderr);
    answers.forEach((a, i) => expectNoSecret(`HTTP answer ${i}`, a));
    expectNoSecret('the crash output', crashed);
  });
});
