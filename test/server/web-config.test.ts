import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RunningExporter } from '../../src/exporter.js';
import { main } from '../../src/main.js';
import { loadWebConfig, WebConfigError } from '../../src/server/web-config.js';
import type { Simulator } from '../../src/simulator/server.js';
import { startClockedExporter } from '../helpers/clocked-exporter.js';
import { startSimulator } from '../helpers/harness.js';
import { assertValidSdAnswer } from '../helpers/http-sd.js';
import { assertValidExposition } from '../helpers/validity.js';

/*
 * --web.config.file (exporter-toolkit format) over real connections: certificates are made at
 * test time with the machine's openssl (a CA, a server certificate for 127.0.0.1, a client
 * certificate, and a client certificate from a CA the server does not trust).
 */

const P1 = 'a1000000000000000000000000000001';
const USER = 'prometheus';
const PASSWORD = 'correct horse:battery staple ✓'; // a colon and non-ASCII on purpose
let dir: string;
let sim: Simulator;
let hash: string;
const file = (name: string): string => join(dir, name);
const pem = (name: string): Buffer => readFileSync(file(name));

function openssl(args: string[]): void {
  execFileSync(opensslBin as string, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** An EC key and a certificate for `cn`, signed by `ca` (self-signed when ca is undefined). */
function makeCert(name: string, cn: string, ca: string | undefined, ext: string): void {
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
  writeFileSync(file(`${name}.ext`), `${ext}\n`);
  const signer = ca ? ['-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial'] : ['-signkey', `${name}.key`];
  openssl(['x509', '-req', '-in', `${name}.csr`, ...signer, '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`]);
}

interface Call {
  path?: string;
  auth?: string;
  ca?: Buffer | undefined;
  cert?: string;
  minVersion?: 'TLSv1.2' | 'TLSv1.3';
  maxVersion?: 'TLSv1.2' | 'TLSv1.3';
}
interface Answer {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

function call(url: string, c: Call = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const u = new URL(c.path ?? '/metrics', url);
    const options: https.RequestOptions = {
      agent: false,
      headers: c.auth ? { Authorization: c.auth } : {},
      ...(c.ca ? { ca: c.ca } : {}),
      ...(c.cert ? { cert: pem(`${c.cert}.crt`), key: pem(`${c.cert}.key`) } : {}),
      ...(c.minVersion ? { minVersion: c.minVersion } : {}),
      ...(c.maxVersion ? { maxVersion: c.maxVersion } : {}),
    };
    const req = (u.protocol === 'https:' ? https : http).get(u, options, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
  });
}

const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;

function writeWebConfig(name: string, yaml: string): string {
  writeFileSync(file(name), yaml);
  return file(name);
}

const opensslBin = ['/usr/bin/openssl', '/usr/local/bin/openssl'].find((p) => existsSync(p));
if (!opensslBin && process.env['CI']) throw new Error('openssl is required in CI (the TLS tests make their certificates with it)');
if (!opensslBin) console.warn('SKIPPED web-config TLS tests: openssl not installed (apt-get install openssl)');

beforeAll(async () => {
  if (!opensslBin) return;
  dir = mkdtempSync(join(tmpdir(), 'cph-web-config-'));
  makeCert('ca', 'test CA', undefined, 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign');
  makeCert('server', 'localhost', 'ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth');
  makeCert('client', 'scraper', 'ca', 'extendedKeyUsage=clientAuth');
  makeCert('other-ca', 'untrusted CA', undefined, 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign');
  makeCert('stranger', 'stranger', 'other-ca', 'extendedKeyUsage=clientAuth');
  hash = bcrypt.hashSync(PASSWORD, 10);
  sim = await startSimulator({ seed: 1, projects: { [P1]: { encodeServers: 5, cloudPhoneServers: 1 } } });
});

afterAll(async () => {
  await sim?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

let exporter: RunningExporter | undefined;
afterEach(async () => {
  await exporter?.stop();
  exporter = undefined;
  vi.restoreAllMocks();
});

async function serve(webYaml: string): Promise<string> {
  const web = loadWebConfig(writeWebConfig('web.yml', webYaml));
  exporter = await startClockedExporter(sim, { targets: [{ projectId: P1 }], web });
  return exporter.url;
}

const tls = (extra = ''): string => `tls_server_config:\n  cert_file: ${file('server.crt')}\n  key_file: ${file('server.key')}\n${extra}`;
const users = (): string => `basic_auth_users:\n  ${USER}: "${hash}"\n`;

describe.skipIf(!opensslBin)('basic auth', () => {
  it.each([
    ['plain HTTP', (): string => users()],
    ['TLS', (): string => tls() + users()],
  ])('over %s: right password 200; wrong, unknown user, none or malformed 401 with no detail', async (_name, config) => {
    const url = await serve(config());
    const ca = url.startsWith('https') ? pem('ca.crt') : undefined;
    const ok = await call(url, { ca, auth: basic(USER, PASSWORD) });
    expect(ok.status).toBe(200);
    assertValidExposition(ok.body);

    const refused = await Promise.all([
      call(url, { ca, auth: basic(USER, 'wrong password') }),
      call(url, { ca, auth: basic(USER, `${PASSWORD} `) }),
      call(url, { ca, auth: basic('admin', PASSWORD) }),
      call(url, { ca }),
      call(url, { ca, auth: 'Bearer abc' }),
      call(url, { ca, auth: 'Basic !!!not-base64' }),
      call(url, { ca, auth: `Basic ${Buffer.from('no-colon').toString('base64')}` }),
    ]);
    for (const r of refused) {
      expect(r.status).toBe(401);
      expect(r.body).toBe('unauthorized\n');
      expect(r.headers['www-authenticate']).toBe('Basic realm="cph-exporter", charset="UTF-8"');
    }
    // Every kind of refusal looks the same: nothing says whether the user exists.
    const shape = (r: Answer) => ({ status: r.status, body: r.body, type: r.headers['content-type'], auth: r.headers['www-authenticate'] });
    for (const r of refused) expect(shape(r)).toEqual(shape(refused[0]!));
    // A refused request leaks nothing of the page behind it.
    expect((await call(url, { ca, path: '/', auth: basic(USER, 'nope') })).body).toBe('unauthorized\n');
    expect((await call(url, { ca, path: '/nope' })).status).toBe(401);
    // Service discovery sits behind the same gate and TLS as /metrics.
    expect((await call(url, { ca, path: '/sd/access-ports' })).status).toBe(401);
    const sd = await call(url, { ca, path: '/sd/access-ports?exposure=all', auth: basic(USER, PASSWORD) });
    expect(sd.status).toBe(200);
    expect(assertValidSdAnswer(sd.body).length).toBeGreaterThan(0);
    // Kubernetes probes carry no credentials: liveness and readiness stay open, and say nothing more.
    expect(await call(url, { ca, path: '/healthz' })).toMatchObject({ status: 200, body: 'ok\n' });
    expect(await call(url, { ca, path: '/readyz' })).toMatchObject({ status: 200, body: 'ready\n' });
  });

  it('an unknown user costs a bcrypt comparison as expensive as a known one (no timing oracle)', async () => {
    const costly = bcrypt.hashSync(PASSWORD, 11);
    const url = await serve(`basic_auth_users:\n  ${USER}: "${costly}"\n`);
    const compare = vi.spyOn(bcrypt, 'compare');
    expect((await call(url, { auth: basic('nobody', PASSWORD) })).status).toBe(401);
    expect((await call(url, { auth: basic(USER, 'wrong') })).status).toBe(401);
    expect(compare).toHaveBeenCalledTimes(2);
    const rounds = compare.mock.calls.map(([, h]) => bcrypt.getRounds(h as string));
    expect(rounds).toEqual([11, 11]);
  });
});

describe.skipIf(!opensslBin)('TLS', () => {
  it('serves /metrics over TLS with the configured certificate, and not over plain HTTP', async () => {
    const url = await serve(tls());
    expect(url).toMatch(/^https:/);
    const ok = await call(url, { ca: pem('ca.crt') });
    expect(ok.status).toBe(200);
    assertValidExposition(ok.body);
    await expect(call(url)).rejects.toThrow(/self.signed|unable to verify|certificate/i); // client does not trust the CA
    await expect(call(url.replace('https:', 'http:'))).rejects.toThrow();
  });

  it('enforces min_version', async () => {
    const url = await serve(tls('  min_version: TLS13\n'));
    await expect(call(url, { ca: pem('ca.crt'), maxVersion: 'TLSv1.2' })).rejects.toThrow(/version|protocol|alert/i);
    expect((await call(url, { ca: pem('ca.crt'), minVersion: 'TLSv1.3' })).status).toBe(200);
  });

  it('enforces max_version', async () => {
    const url = await serve(tls('  max_version: TLS12\n'));
    await expect(call(url, { ca: pem('ca.crt'), minVersion: 'TLSv1.3' })).rejects.toThrow(/version|protocol|alert/i);
    expect((await call(url, { ca: pem('ca.crt'), maxVersion: 'TLSv1.2' })).status).toBe(200);
  });

  describe('client certificates', () => {
    const ca = (): Buffer => pem('ca.crt');
    const mtls = (type: string, withCa = true): string =>
      tls(`  client_auth_type: ${type}\n${withCa ? `  client_ca_file: ${file('ca.crt')}\n` : ''}`);

    it('RequireAndVerifyClientCert: a certificate from the client CA is required', async () => {
      const url = await serve(mtls('RequireAndVerifyClientCert') + users());
      expect((await call(url, { ca: ca(), cert: 'client', auth: basic(USER, PASSWORD) })).status).toBe(200);
      // With a good certificate, basic auth still applies.
      expect((await call(url, { ca: ca(), cert: 'client', auth: basic(USER, 'wrong') })).status).toBe(401);
      await expect(call(url, { ca: ca(), auth: basic(USER, PASSWORD) })).rejects.toThrow();
      await expect(call(url, { ca: ca(), cert: 'stranger', auth: basic(USER, PASSWORD) })).rejects.toThrow();
    });

    it('RequireAnyClientCert: any certificate, none is refused', async () => {
      const url = await serve(mtls('RequireAnyClientCert', false));
      expect((await call(url, { ca: ca(), cert: 'client' })).status).toBe(200);
      expect((await call(url, { ca: ca(), cert: 'stranger' })).status).toBe(200);
      // Node's TLS cannot demand a certificate without verifying it, so this mode is checked per request.
      const none = await call(url, { ca: ca() });
      expect(none.status).toBe(403);
      expect(none.body).toBe('client certificate required\n');
    });

    it('VerifyClientCertIfGiven: none is fine, a given one must verify', async () => {
      const url = await serve(mtls('VerifyClientCertIfGiven'));
      expect((await call(url, { ca: ca() })).status).toBe(200);
      expect((await call(url, { ca: ca(), cert: 'client' })).status).toBe(200);
      expect((await call(url, { ca: ca(), cert: 'stranger' })).status).toBe(403);
    });
  });
});

describe.skipIf(!opensslBin)('bad web config files are rejected with the key named', () => {
  const cases: Array<[string, () => string, string]> = [
    ['unknown top-level key', () => `basic_auth_user:\n  ${USER}: "${hash}"\n`, 'basic_auth_user: unknown'],
    ['unknown TLS key', () => tls('  cert: x\n'), 'tls_server_config.cert: unknown'],
    ['unsupported toolkit key', () => tls('  cipher_suites: [TLS_AES_128_GCM_SHA256]\n'), 'tls_server_config.cipher_suites'],
    ['a password instead of a bcrypt hash', () => `basic_auth_users:\n  ${USER}: "plaintext-password-in-config"\n`, `basic_auth_users.${USER}`],
    ['bad client_auth_type', () => tls('  client_auth_type: Mandatory\n'), 'tls_server_config.client_auth_type'],
    ['bad min_version', () => tls('  min_version: TLS1.2\n'), 'tls_server_config.min_version'],
    ['missing key_file', () => `tls_server_config:\n  cert_file: ${file('server.crt')}\n`, 'tls_server_config.key_file'],
    ['unreadable cert_file', () => `tls_server_config:\n  cert_file: ${file('nope.crt')}\n  key_file: ${file('server.key')}\n`, 'tls_server_config.cert_file'],
    ['client CA needed but missing', () => tls('  client_auth_type: RequireAndVerifyClientCert\n'), 'tls_server_config.client_ca_file'],
    ['key does not match the certificate', () => `tls_server_config:\n  cert_file: ${file('server.crt')}\n  key_file: ${file('client.key')}\n`, 'tls_server_config.key_file'],
    ['cert_file is not a certificate', () => `tls_server_config:\n  cert_file: ${file('server.ext')}\n  key_file: ${file('server.key')}\n`, 'tls_server_config.cert_file'],
    ['client_ca_file is not a certificate', () => tls(`  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ${file('server.ext')}\n`), 'tls_server_config.client_ca_file'],
    ['not YAML', () => 'tls_server_config: [unclosed\n', '--web.config.file'],
    ['not a mapping', () => '- a\n- b\n', '<root>'],
  ];

  it.each(cases)('%s', async (_name, yaml, key) => {
    const path = writeWebConfig('bad-web.yml', yaml());
    let error: unknown;
    try {
      loadWebConfig(path);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(WebConfigError);
    const message = (error as Error).message;
    expect(message).toContain(key);
    expect(message).not.toContain('plaintext-password-in-config');
    expect(message).not.toContain('PRIVATE KEY');

    // The CLI refuses it before starting anything, also with --check-config.
    const config = writeWebConfig('config.yml', `targets:\n  - project_id: ${P1}\n    region: cn-north-4\n    endpoint: ${sim.url}\n`);
    let stderr = '';
    const io = { stdout: () => undefined, stderr: (t: string) => void (stderr += t) };
    const env = { HUAWEICLOUD_SDK_AK: 'AK', HUAWEICLOUD_SDK_SK: 'SK' };
    expect(await main(['--check-config', `--config.file=${config}`, `--web.config.file=${path}`], io, env)).toBe(1);
    expect(stderr).toContain(key);
  });
});
