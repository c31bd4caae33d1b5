import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { PHONE_SERVERS_API, PHONES_API } from '../../src/cph/apis.js';
import { type AttemptGate, CphClient, type ClientOptions, parseRetryAfter } from '../../src/cph/client.js';
import { CphApiError, notNeeded } from '../../src/cph/errors.js';
import { verifySignature } from '../../src/simulator/gateway/verify.js';
import type { Credentials } from '../../src/cph/types.js';

/*
 * The client against a scripted node:http server: each test queues the responses the server
 * gives, in order, and reads back what the server received.
 */

type Reply = { status?: number; headers?: Record<string, string>; body?: string } | 'hang' | 'reset';

const CREDS: Credentials = { accessKey: 'TESTAK0123456789ABCD', secretKey: 'TESTSK0123456789abcdefghijklmnopqrstuvwx' };
const PROJECT = '0123456789abcdef0123456789abcdef';
const GOOD_PAGE = JSON.stringify({
  request_id: 'r1',
  encode_servers: [
    { encode_server_id: 'e1', encode_server_name: 'n1', encode_server_ip: '10.0.0.1', server_id: 's1', keypair_name: 'k', type: 0, status: 1, access_infos: [{ type: 'adb', listen_port: 5555, public_ip: '' }] },
  ],
});

let server: http.Server;
let base: string;
let replies: Reply[] = [];
/** Resolves once `condition` holds, checking on every turn of the event loop (an event, not a time budget). */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((r) => setImmediate(r));
}

let received: Array<{ url: string; headers: http.IncomingHttpHeaders; signatureOk: boolean }> = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', `http://${req.headers.host}`);
    const check = verifySignature({ method: req.method ?? 'GET', url, headers: req.headers }, (ak) => (ak === CREDS.accessKey ? CREDS.secretKey : undefined));
    received.push({ url: req.url ?? '', headers: req.headers, signatureOk: check.ok });
    const reply = replies.shift() ?? { status: 200, body: GOOD_PAGE };
    if (reply === 'hang') return;
    if (reply === 'reset') {
      req.socket.destroy();
      return;
    }
    res.writeHead(reply.status ?? 200, { 'Content-Type': 'application/json', ...reply.headers });
    res.end(reply.body ?? '');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

let client: CphClient | undefined;
const events: string[] = [];
function newClient(options: Partial<ClientOptions> = {}): CphClient {
  client = new CphClient({
    connectTimeoutMs: 1000,
    requestTimeoutMs: 500,
    maxRetries: 2,
    maxResponseBytes: 64 * 1024,
    rateLimit: { requestsPerSecond: 1000, burst: 1000 },
    connectionsPerEndpoint: 4,
    retryBaseDelayMs: 5,
    retryMaxDelayMs: 20,
    observer: {
      request: (_op, code) => events.push(`request:${code}`),
      cancelled: (_op, reason) => events.push(`cancelled:${reason}`),
      retry: (_op, reason) => events.push(`retry:${reason}`),
      apiError: (_op, code) => events.push(`apiError:${code}`),
    },
    ...options,
  });
  return client;
}
afterEach(async () => {
  await client?.close();
  client = undefined;
  replies = [];
  received = [];
  events.length = 0;
});

const list = (c: CphClient, query = {}, signal?: AbortSignal) =>
  c.listEncodeServers({ endpoint: base, projectId: PROJECT }, { offset: 0, limit: 100, ...query }, { credentials: () => CREDS, signal });

async function failure(p: Promise<unknown>): Promise<CphApiError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(CphApiError);
    return err as CphApiError;
  }
  throw new Error('expected a failure');
}

describe('CphClient', () => {
  it('sends a signed GET with the query and X-Project-Id, and returns the validated page', async () => {
    const page = await list(newClient(), { offset: 200, limit: 50, type: 1, status: 2, server_id: 'abc' });
    expect(page.response.encode_servers[0]?.encode_server_id).toBe('e1');
    expect(received).toHaveLength(1);
    const r = received[0]!;
    expect(r.signatureOk).toBe(true);
    expect(r.url).toBe(`/v1/${PROJECT}/cloud-phone/encode-servers?offset=200&limit=50&type=1&status=2&server_id=abc`);
    expect(r.headers['x-project-id']).toBe(PROJECT);
    expect(r.headers['authorization']).toMatch(/^SDK-HMAC-SHA256 Access=TESTAK0123456789ABCD, SignedHeaders=host;x-project-id;x-sdk-date, Signature=[0-9a-f]{64}$/);
    expect(events).toEqual(['request:200']);
  });

  it('signs the security token of temporary credentials', async () => {
    const c = newClient();
    await c.listEncodeServers({ endpoint: base, projectId: PROJECT }, {}, { credentials: () => ({ ...CREDS, securityToken: 'TOKEN123' }) });
    expect(received[0]?.headers['x-security-token']).toBe('TOKEN123');
    expect(received[0]?.headers['authorization']).toContain('SignedHeaders=host;x-project-id;x-sdk-date;x-security-token');
    expect(received[0]?.signatureOk).toBe(true);
  });

  it.each([
    ['error_code/error_msg', { error_code: 'CPS.0002', error_msg: 'Parameter: offset or limit is invalid.' }],
    ['code/message', { code: 'CPS.0002', message: 'Parameter: offset or limit is invalid.' }],
    ['errorCode/errorMsg', { errorCode: 'CPS.0002', errorMsg: 'Parameter: offset or limit is invalid.' }],
    ['error wrapper', { error: { code: 'CPS.0002', message: 'Parameter: offset or limit is invalid.' } }],
    ['nested one level down', { badRequest: { error_code: 'CPS.0002', error_msg: 'Parameter: offset or limit is invalid.' } }],
  ])('reads the API error from the %s body shape', async (_shape, body) => {
    replies = [{ status: 400, headers: { 'X-Request-Id': 'req-400' }, body: JSON.stringify(body) }];
    const err = await failure(list(newClient()));
    expect(err.code).toBe('CPH_CLIENT');
    expect(err.status).toBe(400);
    expect(err.apiErrorCode).toBe('CPS.0002');
    expect(err.apiErrorMessage).toBe('Parameter: offset or limit is invalid.');
    expect(err.requestId).toBe('req-400');
    expect(received).toHaveLength(1); // 4xx are not retried
    expect(events).toEqual(['apiError:CPS.0002', 'request:400']);
  });

  it.each([
    [401, 'APIGW.0301', 'CPH_AUTH'],
    [403, 'APIGW.0302', 'CPH_AUTH'],
    [500, 'APIGW.0201', 'CPH_SERVER'],
    [404, 'APIGW.0101', 'CPH_CLIENT'],
  ])('HTTP %i %s is %s and is not retried', async (status, apiCode, code) => {
    replies = [{ status, body: JSON.stringify({ error_code: apiCode, error_msg: 'x' }) }];
    const err = await failure(list(newClient()));
    expect(err.code).toBe(code);
    expect(received).toHaveLength(1);
  });

  it.each([
    [502, 'server_error'],
    [503, 'server_error'],
    [504, 'server_error'],
    [429, 'throttled'],
  ])('retries HTTP %i and succeeds', async (status, reason) => {
    const apiCode = status === 429 ? 'APIGW.0308' : 'APIGW.0201';
    replies = [{ status, body: JSON.stringify({ error_code: apiCode, error_msg: 'x' }) }];
    const page = await list(newClient());
    expect(page.response.encode_servers).toHaveLength(1);
    expect(received).toHaveLength(2);
    expect(events.filter((e) => e.startsWith('retry:'))).toEqual([`retry:${reason}`]);
  });

  it('treats APIGW.0308 as throttling whatever the status', async () => {
    replies = Array.from({ length: 3 }, () => ({ status: 400, body: '{"error_code":"APIG.0308","error_msg":"over ratelimit"}' }));
    const err = await failure(list(newClient()));
    expect(err.code).toBe('CPH_THROTTLED');
    expect(received).toHaveLength(3); // first attempt + 2 retries
  });

  it('gives up after max_retries with the last error', async () => {
    replies = Array.from({ length: 5 }, () => ({ status: 503, headers: { 'X-Request-Id': 'req-503' }, body: '' }));
    const err = await failure(list(newClient()));
    expect(err.code).toBe('CPH_SERVER');
    expect(err.requestId).toBe('req-503');
    expect(received).toHaveLength(3);
  });

  it('honours Retry-After, and refuses to wait longer than the caller allows', async () => {
    replies = [{ status: 429, headers: { 'Retry-After': '1' }, body: '{}' }];
    // What the client asked the timer for, not how long the machine took: the retry waits the 1 s asked.
    const timers = vi.spyOn(globalThis, 'setTimeout');
    try {
      await list(newClient({ connectTimeoutMs: 3000 })); // no other timer of 1 s
      expect(timers.mock.calls.map(([, ms]) => ms)).toContain(1000);
    } finally {
      timers.mockRestore();
    }
    expect(received).toHaveLength(2);
    received = [];
    replies = [{ status: 429, headers: { 'Retry-After': '30' }, body: '{}' }];
    // The caller's deadline comes while the client waits the 30 s asked for: an event (the wait began), not a
    // 200 ms timer that a slow machine could spend before the 429 even arrives.
    const deadline = new AbortController();
    const waits = vi.spyOn(globalThis, 'setTimeout');
    let err: CphApiError;
    try {
      const pending = failure(list(newClient(), {}, deadline.signal));
      await vi.waitFor(() => expect(waits.mock.calls.map(([, ms]) => ms)).toContain(30_000), { timeout: 10_000 });
      deadline.abort(new Error('poll deadline'));
      err = await pending;
    } finally {
      waits.mockRestore();
    }
    expect(err.code).toBe('CPH_THROTTLED'); // the last real error, not "aborted"
    expect(received).toHaveLength(1); // the 429 was not retried: its Retry-After lies beyond the deadline
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('7')).toBe(7);
    // An HTTP date is read against the `now` given (a fixed instant, not the machine's clock), rounded up.
    const now = Date.parse('Thu, 03 Dec 2026 09:00:00 GMT');
    expect(parseRetryAfter('Thu, 03 Dec 2026 09:00:05 GMT', now)).toBe(5);
    expect(parseRetryAfter('Thu, 03 Dec 2026 09:00:05 GMT', now + 300)).toBe(5);
    expect(parseRetryAfter('Thu, 03 Dec 2026 08:59:00 GMT', now)).toBe(0); // a date in the past: retry at once
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });

  it.each([
    ['an HTML page with a JSON content type', { body: '<html>oops</html>' }, /not valid JSON/],
    ['a wrong content type', { headers: { 'Content-Type': 'text/html' }, body: GOOD_PAGE }, /content type "text\/html"/],
    ['truncated JSON', { body: GOOD_PAGE.slice(0, 40) }, /not valid JSON/],
    ['a body over the size cap', { body: JSON.stringify({ encode_servers: [], pad: 'x'.repeat(70_000) }) }, /larger than 65536 bytes/],
    ['no encode_servers', { body: '{"request_id":"x"}' }, /encode_servers: missing/],
    ['a mistyped field', { body: JSON.stringify({ encode_servers: [{ encode_server_id: 'e', server_id: 's', type: '0', status: 1 }] }) }, /encode_servers\[0\]\.type: expected integer, got string/],
    ['a missing field', { body: JSON.stringify({ encode_servers: [{ encode_server_id: 'e', type: 0, status: 1 }] }) }, /encode_servers\[0\]\.server_id: expected string, got undefined/],
    ['access_infos not an array', { body: JSON.stringify({ encode_servers: [{ encode_server_id: 'e', server_id: 's', type: 0, status: 1, access_infos: {} }] }) }, /access_infos: expected array, got object/],
  ])('rejects %s as a bad response, without retrying', async (_name, reply, message) => {
    replies = [{ status: 200, ...reply }];
    const err = await failure(list(newClient()));
    expect(err.code).toBe('CPH_BAD_RESPONSE');
    expect(err.message).toMatch(message);
    expect(received).toHaveLength(1);
  });

  it('accepts unknown enum values and extra fields (the mapping to labels decides later)', async () => {
    replies = [{ body: JSON.stringify({ encode_servers: [{ encode_server_id: 'e', server_id: 's', type: 9, status: 42, encode_server_ipv6: '::1', access_infos: [{ type: 'rtc', server_ipv6: '::1' }] }] }) }];
    const page = await list(newClient());
    expect(page.response.encode_servers[0]).toMatchObject({ type: 9, status: 42, encode_server_name: '', keypair_name: '' });
  });

  it('times out a hung request and retries it', async () => {
    replies = ['hang'];
    const page = await list(newClient({ requestTimeoutMs: 200 }));
    expect(page.response.encode_servers).toHaveLength(1);
    expect(events).toContain('retry:timeout');
    expect(events).toContain('request:timeout');
  });

  it('retries a reset connection', async () => {
    replies = ['reset'];
    await list(newClient());
    expect(events).toContain('retry:network');
  });

  it('reports a refused connection as a network error', async () => {
    const c = newClient({ maxRetries: 0 });
    const err = await failure(c.listEncodeServers({ endpoint: 'http://127.0.0.1:1', projectId: PROJECT }, {}, { credentials: () => CREDS }));
    expect(err.code).toBe('CPH_NETWORK');
  });

  it('stops at once when the caller aborts', async () => {
    replies = ['hang', 'hang', 'hang'];
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('shutdown')), 50);
    const err = await failure(list(newClient({ requestTimeoutMs: 5000 }), {}, controller.signal));
    expect(err.code).toBe('CPH_ABORTED');
    expect(received).toHaveLength(1);
  });

  it('scrubs the secret key and token from an API message that echoes them', async () => {
    const c = newClient();
    const creds = { ...CREDS, securityToken: 'TEMPORARY-TOKEN-1234' };
    replies = [{ status: 401, body: JSON.stringify({ error_code: 'APIGW.0301', error_msg: `bad request: sk=${creds.secretKey} token=${creds.securityToken}` }) }];
    const err = await failure(c.listEncodeServers({ endpoint: base, projectId: PROJECT }, {}, { credentials: () => creds }));
    expect(err.apiErrorMessage).toBe('bad request: sk=[redacted] token=[redacted]');
    expect(err.message).not.toContain(creds.secretKey);
  });

  it('sends and counts nothing for a call whose signal is already aborted (it waited in a queue)', async () => {
    const controller = new AbortController();
    controller.abort(new CphApiError('CPH_ABORTED', 'beyond the end of the listing'));
    const err = await failure(list(newClient(), {}, controller.signal));
    expect(err.code).toBe('CPH_ABORTED');
    expect(received).toHaveLength(0);
    expect(events).toEqual([]);
  });

  it('counts a request its caller abandoned as cancelled, not as an answer or a failure, whatever error the abort carries', async () => {
    replies = ['hang'];
    const controller = new AbortController();
    const attempts: Array<number | undefined> = [];
    const c = newClient({ requestTimeoutMs: 5000 });
    const listing = failure(c.listEncodeServers({ endpoint: base, projectId: PROJECT }, {}, { credentials: () => CREDS, signal: controller.signal, gate: recordingGate(attempts) }));
    await until(() => received.length === 1); // the request is on the wire
    controller.abort(new CphApiError('CPH_SERVER', 'a sibling page failed', { status: 500 }));
    await listing;
    expect(events).toEqual(['cancelled:abandoned']);
    expect(attempts).toEqual([undefined]);
  });

  it('counts a speculative page cancelled because it is not needed as cancelled:not_needed', async () => {
    replies = ['hang'];
    const controller = new AbortController();
    const listing = failure(list(newClient({ requestTimeoutMs: 5000 }), {}, controller.signal));
    await until(() => received.length === 1);
    controller.abort(notNeeded('beyond the end of the listing'));
    expect((await listing).code).toBe('CPH_ABORTED');
    expect(events).toEqual(['cancelled:not_needed']);
  });

  it('counts a request cut by the poll deadline as a timeout', async () => {
    replies = ['hang'];
    const controller = new AbortController();
    const listing = failure(list(newClient({ requestTimeoutMs: 5000 }), {}, controller.signal));
    await until(() => received.length === 1);
    controller.abort(new CphApiError('CPH_TIMEOUT', 'poll deadline reached'));
    await listing;
    expect(events).toEqual(['request:timeout']);
  });

  it('passes every attempt, retries included, through the gate, and tells it each answer with the API error code', async () => {
    replies = [{ status: 503, body: '{}' }];
    const attempts: Array<number | undefined> = [];
    const c = newClient();
    await c.listEncodeServers({ endpoint: base, projectId: PROJECT }, {}, { credentials: () => CREDS, gate: recordingGate(attempts) });
    expect(attempts).toEqual([503, 200]);
    replies = [{ status: 401, body: JSON.stringify({ error_code: 'APIGW.0301', error_msg: 'verify aksk signature fail' }) }];
    const answers: unknown[] = [];
    await failure(c.listEncodeServers({ endpoint: base, projectId: PROJECT }, {}, { credentials: () => CREDS, gate: { enter: async () => (a) => answers.push(a) } }));
    expect(answers).toEqual([{ status: 401, apiErrorCode: 'APIGW.0301', apiErrorMessage: 'verify aksk signature fail' }]);
  });

  it('sends nothing when the gate refuses the attempt', async () => {
    const refused = new CphApiError('CPH_AUTH', 'held', { status: 401 });
    const err = await failure(newClient().listEncodeServers({ endpoint: base, projectId: PROJECT }, {}, { credentials: () => CREDS, gate: { enter: () => Promise.reject(refused) } }));
    expect(err).toBe(refused);
    expect(received).toHaveLength(0);
  });

  it('never puts the secret key in an error', async () => {
    replies = [{ status: 401, body: JSON.stringify({ error_code: 'APIGW.0301', error_msg: 'verify aksk signature fail' }) }];
    const err = await failure(list(newClient()));
    expect(JSON.stringify({ ...err, message: err.message, log: err.toLogFields() })).not.toContain(CREDS.secretKey);
  });
});

/** A gate that lets every attempt through and records each answer's status. */
function recordingGate(statuses: Array<number | undefined>): AttemptGate {
  return { enter: async () => (answer) => statuses.push(answer?.status) };
}

describe('CphClient.list (the counted APIs)', () => {
  it('ListCloudPhones: its own path, the query as given, the validated page, and its operation in the metrics', async () => {
    const operations: string[] = [];
    const c = newClient({ observer: { request: (op) => operations.push(op), retry: () => undefined, apiError: () => undefined } });
    replies = [{ body: JSON.stringify({ request_id: 'r', count: 1, phones: [{ phone_id: 'p1', server_id: 's1', status: -7 }] }) }];
    const page = await c.list(PHONES_API, { endpoint: base, projectId: PROJECT }, { offset: 0, limit: 200 }, { credentials: () => CREDS });
    expect(received[0]?.url).toBe(`/v1/${PROJECT}/cloud-phone/phones?offset=0&limit=200`);
    expect(received[0]?.signatureOk).toBe(true);
    expect(page.response).toMatchObject({ count: 1, items: [{ phone_id: 'p1', status: -7 }] });
    expect(operations).toEqual(['ListCloudPhones']);
  });

  it('ListCloudPhoneServers: a body without count is a bad response', async () => {
    replies = [{ body: JSON.stringify({ servers: [] }) }];
    const err = await failure(newClient().list(PHONE_SERVERS_API, { endpoint: base, projectId: PROJECT }, { offset: 0, limit: 100 }, { credentials: () => CREDS }));
    expect(received[0]?.url).toBe(`/v1/${PROJECT}/cloud-phone/servers?offset=0&limit=100`);
    expect(err.code).toBe('CPH_BAD_RESPONSE');
    expect(err.message).toContain('ListCloudPhoneServers');
  });
});
