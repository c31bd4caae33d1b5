import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import type { z } from 'zod';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { ConfigFileSchema } from '../../src/config/schema.js';
import { main } from '../../src/main.js';
import { loadWebConfig, WebConfigError, WebConfigSchema } from '../../src/server/web-config.js';

/*
 * A value of the wrong type is never reported as missing: for EVERY key of the configuration file
 * and of the web config (found by walking their schemas, so a key added later is covered too), a
 * wrongly typed value gives one line that names the key, what was expected and what was found.
 */

type Kind = 'string' | 'number' | 'boolean' | 'array' | 'object';
interface Key {
  /** Path into the YAML document; 0 is the first element of a list. */
  path: (string | number)[];
  accepts: Set<Kind>;
}

function def(schema: z.core.$ZodType): z.core.$ZodTypeDef & Record<string, unknown> {
  return schema._zod.def as z.core.$ZodTypeDef & Record<string, unknown>;
}

/** Every key under `schema` with the JavaScript types it accepts. */
function keysOf(schema: z.core.$ZodType, at: (string | number)[] = []): Key[] {
  const d = def(schema);
  switch (d.type) {
    case 'optional':
    case 'default':
    case 'nullable':
    case 'prefault':
      return keysOf(d['innerType'] as z.core.$ZodType, at);
    case 'pipe':
      return keysOf(d['in'] as z.core.$ZodType, at);
    case 'object': {
      const shape = d['shape'] as Record<string, z.core.$ZodType>;
      const self = at.length > 0 ? [{ path: at, accepts: new Set<Kind>(['object']) }] : [];
      return [...self, ...Object.entries(shape).flatMap(([k, v]) => keysOf(v, [...at, k]))];
    }
    case 'record':
      // One entry under a sample name stands for every entry (an account, a user, a header).
      return [{ path: at, accepts: new Set<Kind>(['object']) }, ...keysOf(d['valueType'] as z.core.$ZodType, [...at, 'sample'])];
    case 'array':
      return [{ path: at, accepts: new Set<Kind>(['array']) }, ...keysOf(d['element'] as z.core.$ZodType, [...at, 0])];
    case 'union': {
      const options = (d['options'] as z.core.$ZodType[]).flatMap((o) => keysOf(o, at));
      return [{ path: at, accepts: new Set(options.flatMap((o) => [...o.accepts])) }];
    }
    case 'string':
    case 'enum':
    case 'template_literal':
      return [{ path: at, accepts: new Set<Kind>(['string']) }];
    case 'number':
    case 'int':
      return [{ path: at, accepts: new Set<Kind>(['number']) }];
    case 'boolean':
      return [{ path: at, accepts: new Set<Kind>(['boolean']) }];
    default:
      throw new Error(`${at.join('.')}: schema type ${d.type} is not walked by this test; teach keysOf about it`);
  }
}

/** A value of a type the key does not accept, with how the message must describe it. */
function wrongValueFor(accepts: Set<Kind>, key: string): { value: unknown; found: string } {
  // Where a secret may be written (a password hash, a header value), the message says only what kind of value it is.
  const secret = /^(basic_auth_users|http_server_config\.headers)\./.test(key);
  if (!accepts.has('number')) return { value: 30, found: secret ? 'a number' : 'the number 30' };
  if (!accepts.has('string')) return { value: '8', found: secret ? 'a string' : 'the string "8"' };
  return { value: true, found: secret ? 'a boolean' : 'the boolean true' };
}

const keyText = (p: (string | number)[]): string => p.reduce<string>((out, k) => (typeof k === 'number' ? `${out}[${k}]` : out ? `${out}.${k}` : k), '');

function withValue(base: unknown, at: (string | number)[], value: unknown): unknown {
  const doc = structuredClone(base) as Record<string | number, unknown>;
  let node = doc;
  at.slice(0, -1).forEach((k, i) => {
    node[k] ??= typeof at[i + 1] === 'number' ? [] : {};
    node = node[k] as Record<string | number, unknown>;
  });
  node[at.at(-1)!] = value;
  return doc;
}

function expectWrongTypeLine(problems: readonly string[], key: string, found: string, prefix = ''): void {
  const lines = problems.filter((p) => p.startsWith(`${prefix}${key}: `));
  expect(lines, problems.join('\n')).toHaveLength(1);
  const line = lines[0]!;
  expect(line).toMatch(new RegExp(`^${(prefix + key).replace(/[.[\]]/g, '\\$&')}: expected .+, got ${found.replace(/"/g, '"')}$`));
  expect(line).not.toMatch(/required|Invalid|received|undefined/);
}

/** The problems of the ConfigError or WebConfigError that `load` throws; fails the test when it throws none. */
function problemsOf(load: () => unknown): readonly string[] {
  try {
    load();
  } catch (err) {
    if (err instanceof ConfigError || err instanceof WebConfigError) return err.problems;
    throw err;
  }
  return expect.unreachable('accepted');
}

const CONFIG_KEYS = keysOf(ConfigFileSchema);
const VALID = { targets: [{ project_id: '0123456789abcdef0123456789abcdef', region: 'cn-north-4' }] };

describe('configuration file: a wrongly typed value names the key, the expected type and what was found', () => {
  it('walks every key of the schema', () => {
    const keys = CONFIG_KEYS.map((k) => keyText(k.path));
    for (const key of ['targets', 'targets[0].project_id', 'targets[0].account', 'accounts.sample.access_key_env', 'accounts.sample.metadata', 'targets[0].endpoint', 'credentials.access_key_file', 'poll.timeout', 'poll.concurrency', 'api.max_response_bytes', 'metrics.encode_server_info']) {
      expect(keys).toContain(key);
    }
  });

  it.each(CONFIG_KEYS.map((k) => [keyText(k.path), k] as const))('%s', (key, { path: at, accepts }) => {
    const { value, found } = wrongValueFor(accepts, key);
    expectWrongTypeLine(problemsOf(() => parseConfig(withValue(VALID, at, value))), key, found);
  });

  it.each([
    ['poll:\n  timeout: 30', 'poll.timeout: expected a duration such as 30s, got the number 30'],
    ['poll:\n  concurrency: "8"', 'poll.concurrency: expected an integer from 1 to 256, got the string "8"'],
    ['metrics:\n  encode_server_info: "false"', 'metrics.encode_server_info: expected true or false, got the string "false"'],
    ['poll:\n  timeout:', 'poll.timeout: expected a duration such as 30s, got an empty value'],
  ])('%j', (yaml, message) => {
    expect(problemsOf(() => parseConfig({ ...VALID, ...(YAML.parse(yaml) as object) }))).toEqual([message]);
  });

  it('an all-digit project_id is a number in YAML: the message says to quote it', () => {
    expect(problemsOf(() => parseConfig({ targets: [{ project_id: 12345, region: 'cn-north-4' }] }))).toEqual([
      'targets[0].project_id: expected a string such as 0123456789abcdef0123456789abcdef (quote an all-digit id), got the number 12345',
    ]);
  });

  it('a key that is really missing is still "required"', () => {
    expect(problemsOf(() => parseConfig({ targets: [{ project_id: '0123456789abcdef0123456789abcdef' }] }))).toEqual(['targets[0].region: required']);
  });
});

describe('web config file: the same, with the file name first and no zod wording', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cph-web-types-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'web.yml');
  const WEB_KEYS = keysOf(WebConfigSchema);

  it('walks every key of the schema', () => {
    expect(WEB_KEYS.map((k) => keyText(k.path))).toEqual(expect.arrayContaining(['tls_server_config.cert_file', 'tls_server_config.min_version', 'basic_auth_users']));
  });

  it.each(WEB_KEYS.map((k) => [keyText(k.path), k] as const))('%s', (key, { path: at, accepts }) => {
    const { value, found } = wrongValueFor(accepts, key);
    writeFileSync(file, YAML.stringify(withValue({}, at, value)));
    expectWrongTypeLine(problemsOf(() => loadWebConfig(file)), key, found, `${file}: `);
  });

  it('a missing required key says "required", in words', () => {
    writeFileSync(file, 'tls_server_config:\n  cert_file: /x.crt\n');
    expect(problemsOf(() => loadWebConfig(file))).toEqual([`${file}: tls_server_config.key_file: required`]);
  });

  it('a password of the wrong type is not echoed', () => {
    writeFileSync(file, 'basic_auth_users:\n  prometheus: 123456789\n');
    expect(problemsOf(() => loadWebConfig(file))).toEqual([`${file}: basic_auth_users.prometheus: expected a bcrypt hash, got a number`]);
  });
});

describe('secret files: problems carry the config file name, an empty file is said in a sentence', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cph-secret-files-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('names the config file, the key, the secret file and what is wrong with it, never its content', async () => {
    writeFileSync(path.join(dir, 'ak'), '  \n');
    const config = path.join(dir, 'cph.yml');
    writeFileSync(config, 'targets:\n  - {project_id: p1, region: cn-north-4}\ncredentials:\n  access_key_file: ak\n  secret_key_file: sk\n');
    let stderr = '';
    const code = await main(['--check-config', `--config.file=${config}`], { stdout: () => undefined, stderr: (t) => void (stderr += t) }, {});
    expect(code).toBe(1);
    const lines = stderr.split('\n').map((l) => l.trim());
    expect(lines).toContain(`${config}: credentials.access_key_file: the secret file ${path.join(dir, 'ak')} is empty (or holds only whitespace)`);
    expect(lines).toContain(`${config}: credentials.secret_key_file: cannot read the secret file ${path.join(dir, 'sk')}: no such file (ENOENT)`);
    expect(stderr).not.toContain('EMPTY');
  });
});
