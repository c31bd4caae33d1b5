import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { request } from 'undici';
import { formatSdkDate, signRequest } from '../../src/cph/signer.js';
import {
  MAX_CLOCK_SKEW_MS,
  parseAuthorization,
  parseSdkDate,
  verifySignature,
  type VerifyFailureReason,
} from '../../src/simulator/gateway/verify.js';
import { incoming } from './helpers.js';

describe('parseAuthorization', () => {
  it('parseAuthorization accepts only the canonical form', () => {
    const sig = 'a'.repeat(64);
    expect(parseAuthorization(`SDK-HMAC-SHA256 Access=AK, SignedHeaders=host;x-sdk-date, Signature=${sig}`)).toEqual({
      accessKey: 'AK',
      signedHeaders: ['host', 'x-sdk-date'],
      signature: sig,
    });
    for (const bad of [
      `SDK-HMAC-SHA256 Access=AK, SignedHeaders=x-sdk-date;host, Signature=${sig}`, // not sorted
      `SDK-HMAC-SHA256 Access=AK, SignedHeaders=host;host, Signature=${sig}`,
      `SDK-HMAC-SHA256 Access=AK, SignedHeaders=Host, Signature=${sig}`,
      `SDK-HMAC-SHA256 Access=AK,SignedHeaders=host, Signature=${sig}`,
      `SDK-HMAC-SHA256 Access=AK, SignedHeaders=host, Signature=${sig.toUpperCase()}`,
      `SDK-HMAC-SHA256 Access=AK, SignedHeaders=host, Signature=${sig}0`,
    ]) {
      expect(parseAuthorization(bad), bad).toBeUndefined();
    }
  });
});

describe('verifySignature', () => {
  const AK = 'SIMAK0123456789';
  const SK = 'SimulatorSecret-0123456789ABCDEFabcdef';
  const TOKEN = 'temporary-token+/=0123456789';
  const PID = '0123456789abcdef0123456789abcdef';
  const now = new Date(Date.UTC(2024, 5, 1, 12, 0, 0));
  const secretFor = (ak: string) => (ak === AK ? SK : undefined);
  const sig = (auth: string | undefined) => /Signature=([0-9a-f]{64})$/.exec(auth ?? '')?.[1] as string;
  const ALL_REASONS: VerifyFailureReason[] = [
    'missing authorization',
    'unsupported algorithm',
    'malformed authorization',
    'missing x-sdk-date',
    'malformed x-sdk-date',
    'x-sdk-date not signed',
    'missing signed header',
    'duplicate header',
    'malformed signed header',
    'unknown access key',
    'x-sdk-date too far from now',
    'signature mismatch',
  ];

  function signed(urlText: string, opts: { token?: boolean; sk?: string; at?: Date } = {}) {
    const url = new URL(urlText);
    const sent = signRequest(
      { method: 'GET', url, headers: { 'X-Project-Id': PID } },
      { accessKey: AK, secretKey: opts.sk ?? SK, securityToken: opts.token ? TOKEN : undefined },
      opts.at ?? now,
    );
    return { url, headers: incoming(url, sent) };
  }
  const base = `https://cph.cn-north-4.myhuaweicloud.com/v1/${PID}/cloud-phone/encode-servers?limit=100&offset=0`;

  it('accepts what signRequest produced, with and without token, with a port, with reserved and Unicode chars', () => {
    for (const u of [base, 'http://127.0.0.1:18080/v1/p/cloud-phone/encode-servers?limit=1', "https://h.example.com/a b/!'()*/é?q=a+b&q=%F0%9F%98%80&z"]) {
      for (const token of [false, true]) {
        const { url, headers } = signed(u, { token });
        expect(verifySignature({ method: 'GET', url, headers }, secretFor, now), `${u} ${token}`).toEqual({ ok: true, accessKey: AK });
      }
    }
  });

  it('accepts the Go SDK vector (x-sdk-date only, no host) and tolerates skew up to 15 min', () => {
    const url = new URL('https://example.huaweicloud.com/path?limit=1');
    const headers = {
      'x-sdk-date': '20060102T150405Z',
      authorization:
        'SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=x-sdk-date, Signature=5a2ce64c865e0e6046321c6f3d5a77ba8413eeaf355c3166c03d58d02ac79624',
    };
    const t = parseSdkDate('20060102T150405Z') as Date;
    const keys = (ak: string) => (ak === 'AccessKey' ? 'SecretKey' : undefined);
    for (const skew of [0, MAX_CLOCK_SKEW_MS, -MAX_CLOCK_SKEW_MS]) {
      const result = verifySignature({ method: 'GET', url, headers }, keys, new Date(t.getTime() + skew));
      expect(result).toEqual({ ok: true, accessKey: 'AccessKey' });
    }
    for (const skew of [MAX_CLOCK_SKEW_MS + 1000, -MAX_CLOCK_SKEW_MS - 1000]) {
      const result = verifySignature({ method: 'GET', url, headers }, keys, new Date(t.getTime() + skew));
      expect(result).toEqual({ ok: false, reason: 'x-sdk-date too far from now' });
    }
  });

  const editAuthorization = (r: { headers: Record<string, string> }, edit: (value: string) => string) => {
    r.headers['authorization'] = edit(r.headers['authorization'] as string);
  };
  /** Each tampering and the reason it must give. */
  const tamperings: [string, (r: { method: string; url: URL; headers: Record<string, string> }) => void, VerifyFailureReason][] = [
    ['tampered query value', (r) => r.url.searchParams.set('limit', '101'), 'signature mismatch'],
    ['added query parameter', (r) => r.url.searchParams.append('type', '0'), 'signature mismatch'],
    ['tampered path', (r) => (r.url.pathname = r.url.pathname.replace('encode-servers', 'servers')), 'signature mismatch'],
    ['tampered method', (r) => (r.method = 'DELETE'), 'signature mismatch'],
    ['tampered signed header', (r) => (r.headers['x-project-id'] = 'ffffffffffffffffffffffffffffffff'), 'signature mismatch'],
    ['tampered host', (r) => (r.headers['host'] = 'evil.example.com'), 'signature mismatch'],
    ['tampered x-sdk-date', (r) => (r.headers['x-sdk-date'] = formatSdkDate(new Date(now.getTime() + 1000))), 'signature mismatch'],
    ['tampered signature', (r) => editAuthorization(r, (a) => a.replace(/.$/, (c) => (c === '0' ? '1' : '0'))), 'signature mismatch'],
    ['missing signed header', (r) => delete r.headers['x-project-id'], 'missing signed header'],
    ['missing host', (r) => delete r.headers['host'], 'missing signed header'],
    ['missing x-sdk-date', (r) => delete r.headers['x-sdk-date'], 'missing x-sdk-date'],
    ['malformed x-sdk-date', (r) => (r.headers['x-sdk-date'] = '2024-06-01T12:00:00Z'), 'malformed x-sdk-date'],
    ['missing authorization', (r) => delete r.headers['authorization'], 'missing authorization'],
    ['other algorithm', (r) => (r.headers['authorization'] = 'Bearer x'), 'unsupported algorithm'],
    ['garbled authorization', (r) => (r.headers['authorization'] = `${r.headers['authorization'] as string},`), 'malformed authorization'],
    ['unknown access key', (r) => editAuthorization(r, (a) => a.replace(`Access=${AK}`, 'Access=OTHER')), 'unknown access key'],
    ['x-sdk-date not signed', (r) => editAuthorization(r, (a) => a.replace(';x-sdk-date', '')), 'x-sdk-date not signed'],
    ['duplicate signed header', (r) => (r.headers['X-Project-Id'] = PID), 'duplicate header'],
  ];

  it.each(tamperings)('rejects: %s', (_name, tamper, reason) => {
    const { url, headers } = signed(base, { token: true });
    const req = { method: 'GET', url, headers: { ...headers } };
    expect(verifySignature(req, secretFor, now)).toEqual({ ok: true, accessKey: AK });
    tamper(req);
    expect(verifySignature(req, secretFor, now)).toEqual({ ok: false, reason });
  });

  it('rejects a wrong SK and a stale date', () => {
    const wrong = signed(base, { sk: `${SK}x` });
    expect(verifySignature({ method: 'GET', ...wrong }, secretFor, now)).toEqual({ ok: false, reason: 'signature mismatch' });
    const stale = signed(base, { at: new Date(now.getTime() - 16 * 60 * 1000) });
    expect(verifySignature({ method: 'GET', ...stale }, secretFor, now)).toEqual({ ok: false, reason: 'x-sdk-date too far from now' });
    const future = signed(base, { at: new Date(now.getTime() + 16 * 60 * 1000) });
    expect(verifySignature({ method: 'GET', ...future }, secretFor, now)).toEqual({ ok: false, reason: 'x-sdk-date too far from now' });
  });

  it('a reason is always one of the fixed strings and never contains the SK, the token or a signature', () => {
    fc.assert(
      fc.property(
        // SKs with an uppercase letter or digit, so a fixed lowercase reason cannot contain one by accident.
        fc.stringMatching(/^[A-Za-z0-9+/]{8,40}$/).filter((s) => /[A-Z0-9]/.test(s)),
        fc.integer({ min: 0, max: tamperings.length - 1 }),
        fc.boolean(),
        (sk, i, useWrongKey) => {
          const keys = (ak: string) => (ak === AK ? sk : undefined);
          const url = new URL(base);
          const sign = (secretKey: string) =>
            signRequest({ method: 'GET', url, headers: { 'X-Project-Id': PID } }, { accessKey: AK, secretKey, securityToken: TOKEN }, now);
          const expectedSignature = sig(sign(sk)['Authorization']);
          const req = { method: 'GET', url, headers: incoming(url, sign(useWrongKey ? `${sk}!` : sk)) };
          (tamperings[i] as (typeof tamperings)[number])[1](req);
          const result = verifySignature(req, keys, now);
          if (!result.ok) {
            expect(ALL_REASONS).toContain(result.reason);
            expect(result.reason).not.toContain(sk);
            expect(result.reason).not.toContain(TOKEN);
            expect(result.reason).not.toMatch(/[0-9a-f]{16}/);
            expect(result.reason).not.toContain(expectedSignature);
          }
          expect(JSON.stringify(result)).not.toContain(sk);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('verifies a request that went over the wire (node:http server, undici client)', async () => {
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', `http://${req.headers.host ?? ''}`);
      const result = verifySignature({ method: req.method ?? '', url, headers: req.headers }, secretFor);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(result));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const url = new URL(`http://127.0.0.1:${port}/`);
      url.pathname = `/v1/${PID}/cloud-phone/encode-servers/a b!*'()é`;
      url.searchParams.set('limit', '100');
      url.searchParams.append('q', "x y+z&=#?!*'()é😀");
      for (const securityToken of [undefined, TOKEN]) {
        const headers = signRequest({ method: 'GET', url, headers: { 'X-Project-Id': PID } }, { accessKey: AK, secretKey: SK, securityToken });
        const res = await request(url, { method: 'GET', headers });
        expect(await res.body.json()).toEqual({ ok: true, accessKey: AK });
      }
      const res = await request(url, { method: 'GET', headers: { 'X-Sdk-Date': formatSdkDate(new Date()) } });
      expect(await res.body.json()).toEqual({ ok: false, reason: 'missing authorization' });
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
