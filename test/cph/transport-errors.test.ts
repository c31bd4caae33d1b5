import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CphClient } from '../../src/cph/client.js';
import { type CphApiError, describeNetworkCause, failureReasonOf } from '../../src/cph/errors.js';
import { DEMO_CREDENTIALS, perTestRig, startSimulator } from '../helpers/harness.js';
import { FakeClock, captureLogger, startClockedExporter } from '../helpers/clocked-exporter.js';
import { samplesOf } from '../helpers/exposition.js';
import { scrapeValid } from '../helpers/validity.js';

/*
 * Transport failures as an operator reads them: which host, what went wrong in words, and a TLS
 * certificate error as its own reason (`tls`), never retried (a retry cannot fix a certificate).
 * Against a real TLS server whose self-signed certificate is made here with openssl.
 */

const opensslBin = ['/usr/bin/openssl', '/usr/local/bin/openssl'].find((p) => existsSync(p));
if (!opensslBin && process.env['CI']) throw new Error('openssl is required in CI (the TLS tests make their certificates with it)');

const PROJECT = 'e7000000000000000000000000000001';
let server: https.Server;
let base: string;
const seen = { connections: 0, tlsErrors: 0, requests: 0 };

beforeAll(async () => {
  if (!opensslBin) return;
  const dir = mkdtempSync(join(tmpdir(), 'cph-tls-'));
  execFileSync(
    opensslBin,
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem', '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
    { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  server = https.createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (_req, res) => {
    seen.requests++;
    res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"encode_servers":[]}');
  });
  server.on('connection', () => seen.connections++);
  server.on('tlsClientError', () => seen.tlsErrors++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
});

function client(events: string[]): CphClient {
  return new CphClient({
    connectTimeoutMs: 2000,
    requestTimeoutMs: 2000,
    maxRetries: 3,
    maxResponseBytes: 64 * 1024,
    rateLimit: { requestsPerSecond: 1000, burst: 1000 },
    connectionsPerEndpoint: 2,
    retryBaseDelayMs: 5,
    retryMaxDelayMs: 20,
    observer: {
      request: (_op, code) => events.push(`request:${code}`),
      retry: (_op, reason) => events.push(`retry:${reason}`),
      apiError: () => undefined,
    },
  });
}

async function failure(p: Promise<unknown>): Promise<CphApiError> {
  try {
    await p;
  } catch (err) {
    return err as CphApiError;
  }
  throw new Error('expected a failure');
}

describe.skipIf(!opensslBin)('a TLS certificate the client does not trust', () => {
  it('fails with its own reason, tls, naming the host and the cause, and is not retried', async () => {
    const events: string[] = [];
    const c = client(events);
    Object.assign(seen, { connections: 0, tlsErrors: 0, requests: 0 });
    try {
      const err = await failure(c.listEncodeServers({ endpoint: base, projectId: PROJECT }, {}, { credentials: () => DEMO_CREDENTIALS }));
      expect(err.code).toBe('CPH_TLS');
      expect(failureReasonOf(err)).toBe('tls');
      expect(err.message).toBe(`TLS error reaching 127.0.0.1:${new URL(base).port}: TLS certificate rejected: self-signed (DEPTH_ZERO_SELF_SIGNED_CERT); not retried`);
      expect(events).toEqual(['request:tls']);
      expect(seen.connections).toBe(1);
      expect(seen.requests).toBe(0);
    } finally {
      await c.close();
    }
  });

  const rig = perTestRig();
  it('shows on /metrics as cph_poll_error{reason="tls"}, with the host and the cause in the log', async () => {
    const sim = (rig.sim = await startSimulator({ projects: { [PROJECT]: { encodeServers: 3, cloudPhoneServers: 1 } } }));
    const { log, lines } = captureLogger();
    rig.exporter = await startClockedExporter(sim, { targets: [{ projectId: PROJECT }], clock: new FakeClock(), log, endpoint: base });
    const { text } = await scrapeValid(rig.exporter.url);
    // Every resource of the target fails the same way, each on its own error series.
    expect(samplesOf(text, 'cph_poll_error').map((s) => `${s.labels['resource']} ${s.labels['reason']}`)).toEqual(['encode_servers tls', 'phone_servers tls', 'phones tls']);
    const warning = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l['reason'] === 'tls');
    expect(warning?.['msg']).toBe('listing failed; no listing yet');
    expect(warning?.['endpoint']).toBe(new URL(base).host);
    expect(String(warning?.['error'])).toContain('self-signed');
  });
});

describe('network errors in words', () => {
  it('a closed port: "connection refused", with the host', async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const events: string[] = [];
    const c = client(events);
    try {
      const err = await failure(c.listEncodeServers({ endpoint: `http://127.0.0.1:${port}`, projectId: PROJECT }, {}, { credentials: () => DEMO_CREDENTIALS }));
      expect(err.code).toBe('CPH_NETWORK');
      expect(err.message).toBe(`network error reaching 127.0.0.1:${port}: connection refused (ECONNREFUSED)`);
      expect(events.filter((e) => e.startsWith('retry:'))).toEqual(['retry:network', 'retry:network', 'retry:network']);
    } finally {
      await c.close();
    }
  });

  it.each([
    ['ENOTFOUND', 'DNS name not found (ENOTFOUND)'],
    ['ECONNREFUSED', 'connection refused (ECONNREFUSED)'],
    ['CERT_HAS_EXPIRED', 'TLS certificate rejected: expired (CERT_HAS_EXPIRED)'],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'TLS certificate rejected: issued for another host name (ERR_TLS_CERT_ALTNAME_INVALID)'],
    ['ERR_SSL_WRONG_VERSION_NUMBER', 'TLS handshake failed (ERR_SSL_WRONG_VERSION_NUMBER)'],
    ['EWHATEVER', 'EWHATEVER'],
  ])('%s -> %s', (code, words) => {
    expect(describeNetworkCause(code)).toBe(words);
  });
});
