import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { KeyRing } from '../../src/credentials/accounts.js';
import { CredentialSource } from '../../src/credentials/static.js';
import { ConfigError, loadConfigFile } from '../../src/config/load.js';
import { ConfigFileSchema } from '../../src/config/schema.js';
import { main } from '../../src/main.js';

/*
 * One fixture per bad configuration (test/config/fixtures/*.bad.yml). The first line of each
 * says which keys its problems must name: `# expect: key | key ...`. Every one is rejected
 * through the library (loadConfigFile, then the credential check main runs before starting) and
 * through the CLI (--check-config exits 1 naming the key; without it the exporter does not start).
 * The *.ok.yml fixtures and examples/config.yml are accepted.
 */

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..');
const fixtures = join(here, 'fixtures');
const files = readdirSync(fixtures).sort();
const badFiles = files.filter((f) => f.endsWith('.bad.yml'));
const okFiles = files.filter((f) => f.endsWith('.ok.yml'));
const example = join(repoRoot, 'examples', 'config.yml');

/** Credentials from the environment, as the SDKs read them, so only the file's own problems show. */
const ENV = { HUAWEICLOUD_SDK_AK: 'FIXTUREAK00000000000', HUAWEICLOUD_SDK_SK: 'FIXTURE-SK-NOT-A-SECRET-000000000000000' };
const INLINE_SECRET = 'INLINE-SECRET-MUST-NOT-BE-ECHOED';

function expectedKeys(file: string): string[] {
  const first = readFileSync(join(fixtures, file), 'utf8').split('\n')[0] ?? '';
  const m = /^# expect: (.+)$/.exec(first);
  if (!m) throw new Error(`${file}: first line must be "# expect: key | key ..."`);
  return (m[1] as string).split('|').map((s) => s.trim());
}

/** What the exporter checks before starting: the file, then whether the credentials can be read. */
function problemsOf(path: string): string[] {
  try {
    const config = loadConfigFile(path);
    return new KeyRing(config, { env: ENV }, new CredentialSource(config.credentials, ENV)).check();
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
}

async function cli(args: string[]): Promise<{ result: number | 'started'; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io = { stdout: (t: string) => void (stdout += t), stderr: (t: string) => void (stderr += t) };
  const result = await main(args, io, ENV);
  if (typeof result !== 'number') {
    await result.stop();
    return { result: 'started', stdout, stderr };
  }
  return { result, stdout, stderr };
}

describe('bad configurations', () => {
  it('there is a fixture for each kind of mistake', () => {
    expect(badFiles.length).toBeGreaterThanOrEqual(30);
  });

  describe.each(badFiles)('%s', (file) => {
    const path = join(fixtures, file);
    const keys = expectedKeys(file);

    it('is rejected by the loader, one problem per line, each naming its key', () => {
      const problems = problemsOf(path);
      expect(problems.length).toBeGreaterThan(0);
      for (const key of keys) expect(problems.some((p) => p.startsWith(key)), `${key} in\n${problems.join('\n')}`).toBe(true);
      if (keys.length > 1) expect(problems).toHaveLength(keys.length);
      for (const p of problems) {
        expect(p).not.toContain('\n');
        expect(p).not.toContain(INLINE_SECRET);
      }
    });

    it('--check-config exits 1 and names the key; without it nothing starts', async () => {
      const checked = await cli(['--check-config', `--config.file=${path}`]);
      expect(checked.result).toBe(1);
      expect(checked.stdout).toBe('');
      for (const key of keys) expect(checked.stderr).toContain(key);
      expect(checked.stderr).not.toContain(INLINE_SECRET);

      const run = await cli([`--config.file=${path}`, '--web.listen-address=127.0.0.1:0']);
      expect(run.result).toBe(1);
      expect(run.stderr).toBe(checked.stderr);
    });
  });
});

describe('good configurations', () => {
  it.each([...okFiles.map((f) => join(fixtures, f)), example])('%s is accepted', async (path) => {
    expect(problemsOf(path)).toEqual([]);
    const checked = await cli(['--check-config', `--config.file=${path}`]);
    expect(checked.stderr).toBe('');
    expect(checked.stdout).toMatch(/^configuration OK: \d+ target\(s\)/);
    expect(checked.result).toBe(0);
  });

  it('examples/config.yml documents every configuration key', () => {
    const text = readFileSync(example, 'utf8');
    const missing = keysOf(ConfigFileSchema).filter((k) => !new RegExp(`^\\s*#?\\s*(- )?${k.split('.').at(-1)}:`, 'm').test(text));
    expect(missing).toEqual([]);
  });

  it('examples/config.yml spells out the defaults of the schema', () => {
    const config = loadConfigFile(example);
    const defaults = loadConfigFile(join(fixtures, 'minimal.ok.yml'));
    expect(config.api).toEqual(defaults.api);
    expect(config.metrics).toEqual(defaults.metrics);
    expect({ ...config.poll, timeoutMs: 0 }).toEqual({ ...defaults.poll, timeoutMs: 0 });
  });
});

/** Every key path of the config file's schema (zod 4 introspection). */
function keysOf(schema: unknown, prefix = ''): string[] {
  const def = (schema as { _zod: { def: Record<string, unknown> } })._zod.def;
  switch (def['type']) {
    case 'default':
    case 'optional':
    case 'nullable':
    case 'prefault':
      return keysOf(def['innerType'], prefix);
    case 'pipe':
      return keysOf(def['in'], prefix);
    case 'array':
      return keysOf(def['element'], prefix);
    case 'record':
      return keysOf(def['valueType'], `${prefix}<name>.`);
    case 'object':
      return Object.entries(def['shape'] as Record<string, unknown>).flatMap(([k, v]) => [`${prefix}${k}`, ...keysOf(v, `${prefix}${k}.`)]);
    default:
      return [];
  }
}

describe('the real CLI as a child process', () => {
  const run = promisify(execFile);
  const exec = async (args: string[]) => {
    try {
      // No per-process time limit: five tsx start-ups at once on a shared 2-core CI machine can take tens of
      // seconds. The test's own timeout (below) only catches a CLI that never exits.
      const { stdout, stderr } = await run('npx', ['tsx', 'src/main.ts', ...args], { cwd: repoRoot, env: { ...process.env, ...ENV } });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code?: number; stdout: string; stderr: string };
      return { code: e.code ?? -1, stdout: e.stdout, stderr: e.stderr };
    }
  };

  it('rejects bad files with exit code 1, naming the keys, and accepts the example', async () => {
    const sample = ['concurrency-zero.bad.yml', 'unknown-key-target.bad.yml', 'unreadable-secret-file.bad.yml'];
    const results = await Promise.all([
      ...sample.map((f) => exec(['--check-config', `--config.file=${relative(repoRoot, join(fixtures, f))}`])),
      // Without --check-config: still exit 1 before anything starts (no "listening" line).
      exec([`--config.file=${relative(repoRoot, join(fixtures, 'several-problems.bad.yml'))}`, '--web.listen-address=127.0.0.1:0']),
      exec(['--check-config', '--config.file=examples/config.yml']),
    ]);
    sample.forEach((f, i) => {
      const r = results[i]!;
      expect(r.code, f).toBe(1);
      expect(r.stdout, f).toBe('');
      for (const key of expectedKeys(f)) expect(r.stderr, f).toContain(key);
    });
    const notStarted = results[3]!;
    expect(notStarted.code).toBe(1);
    for (const key of expectedKeys('several-problems.bad.yml')) expect(notStarted.stderr).toContain(key);
    expect(`${notStarted.stdout}${notStarted.stderr}`).not.toMatch(/listening/);
    const ok = results[4]!;
    expect(ok).toMatchObject({ code: 0, stderr: '' });
    expect(ok.stdout).toMatch(/^configuration OK: 2 target\(s\)/);
  }, 180_000);
});
