import { type IamProject, KEYSTONE_LIST_PROJECTS, validateProjectsResponse } from './iam.js';
import { Pool } from 'undici';
import { ENCODE_SERVERS_API, type ListApi } from './apis.js';
import { CphApiError, type CphErrorCode, describeNetworkCause, isCphApiError, isNotNeeded, isTlsErrorCode, parseApiErrorBody } from './errors.js';
import { sleep, TokenBucket } from './ratelimit.js';
import { signRequest } from './signer.js';
import type { Credentials, ListEncodeServersQuery, ListEncodeServersResponse } from './types.js';

export const LIST_ENCODE_SERVERS = ENCODE_SERVERS_API.operation;

/** What the client reports about its own work; the exporter turns it into metrics. */
export interface ClientObserver {
  /** One HTTP attempt got an answer or failed on its own; `code` is the status or `network` / `timeout`. */
  request(operation: string, code: string, seconds: number): void;
  /**
   * One HTTP attempt was cancelled by the exporter before its answer arrived: `not_needed` for a
   * speculative page beyond the end of a listing (by design), `abandoned` when its listing had
   * already failed or the exporter is shutting down. Not a failure of the API.
   */
  cancelled?(operation: string, reason: 'not_needed' | 'abandoned'): void;
  /** An attempt failed and will be retried. */
  retry(operation: string, reason: 'throttled' | 'server_error' | 'timeout' | 'network'): void;
  /** The API answered with its own error code (`APIGW.0308`, `CPS.0002`, ...). */
  apiError(operation: string, errorCode: string): void;
}

export interface ClientOptions {
  connectTimeoutMs: number;
  /** Whole-request timeout of one attempt (headers and body). */
  requestTimeoutMs: number;
  /** Retries after the first attempt, for retryable failures only. */
  maxRetries: number;
  maxResponseBytes: number;
  rateLimit: { requestsPerSecond: number; burst: number };
  /** Connections per endpoint; the poll's concurrency limit is the real bound. */
  connectionsPerEndpoint: number;
  retryBaseDelayMs?: number;
  retryMaxDelayMs?: number;
  userAgent?: string;
  observer?: ClientObserver;
  /** Injectable for tests: returns a number in [0, 1). */
  random?: () => number;
}

export interface TargetRef {
  /** `https://cph.{region}.myhuaweicloud.com` or an override. */
  endpoint: string;
  projectId: string;
}

/** What one HTTP attempt got: its status, with the API's own error code and message when it sent one. */
export interface AttemptAnswer {
  status: number;
  apiErrorCode?: string | undefined;
  apiErrorMessage?: string | undefined;
}

/**
 * Decides when each HTTP attempt of a call may be sent (the poller's per-key policy). `enter` is
 * awaited before every attempt, retries included, and may reject to refuse it (the key is held);
 * the function it resolves to is called exactly once with the attempt's answer, or undefined when
 * none came (network error, timeout, abort, or the attempt was never sent).
 */
export interface AttemptGate {
  enter(signal?: AbortSignal): Promise<(answer: AttemptAnswer | undefined) => void>;
}

export interface CallOptions {
  credentials: () => Credentials | Promise<Credentials>;
  /**
   * The key these credentials belong to (an account's name): each key has its own token bucket per
   * endpoint, so one account's traffic never uses up another's share of the rate limit.
   */
  key?: string | undefined;
  signal?: AbortSignal | undefined;
  gate?: AttemptGate | undefined;
}

export interface PageResult<R = ListEncodeServersResponse> {
  response: R;
  requestId: string | undefined;
}

/** undici error codes that mean "the network or peer failed", worth a retry. */
const NETWORK_ERROR_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ETIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);
const TIMEOUT_ERROR_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** The longest server-requested wait we honour; beyond it the attempt counts as failed. */
const MAX_RETRY_AFTER_MS = 60_000;

/**
 * CPH API client over undici: one keep-alive pool and one token bucket per endpoint,
 * AK/SK signing, bounded bodies, typed errors, and retries of what can succeed on retry
 * (429, 502, 503, 504, network errors, timeouts) with capped, jittered exponential backoff
 * that honours Retry-After and never outlives the caller's signal. 401/403 are never retried.
 */
export class CphClient {
  private readonly pools = new Map<string, Pool>();
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly random: () => number;
  private closed = false;

  constructor(private readonly options: ClientOptions) {
    this.random = options.random ?? Math.random;
  }

  /** One page of a list API (`apis.ts`): GET, signed, validated by the API's own validator. */
  async list<R>(api: ListApi<R>, target: TargetRef, query: Readonly<Record<string, string | number | undefined>>, call: CallOptions): Promise<PageResult<R>> {
    const url = new URL(`/v1/${encodeURIComponent(target.projectId)}/cloud-phone/${api.path}`, target.endpoint);
    for (const [k, v] of Object.entries(query)) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    const body = await this.get(url, target.projectId, api.operation, call);
    return { response: api.validate(body.json, body.requestId), requestId: body.requestId };
  }

  /**
   * IAM KeystoneListProjects filtered by name (a region): the projects that project discovery chooses from.
   * Signed like every call, without X-Project-Id (there is no project yet).
   */
  async listProjects(iamEndpoint: string, region: string, call: CallOptions): Promise<IamProject[]> {
    const url = new URL('/v3/projects', iamEndpoint);
    url.searchParams.set('name', region);
    const body = await this.get(url, undefined, KEYSTONE_LIST_PROJECTS, call);
    return validateProjectsResponse(body.json, body.requestId);
  }

  /** One page of ListEncodeServers. */
  listEncodeServers(target: TargetRef, query: ListEncodeServersQuery, call: CallOptions): Promise<PageResult> {
    return this.list(ENCODE_SERVERS_API, target, { ...query }, call);
  }

  /** Closes every pool; in-flight requests are aborted. */
  async close(): Promise<void> {
    this.closed = true;
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.destroy()));
  }

  private poolFor(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, {
        connections: this.options.connectionsPerEndpoint,
        connect: { timeout: this.options.connectTimeoutMs },
        headersTimeout: this.options.requestTimeoutMs,
        bodyTimeout: this.options.requestTimeoutMs,
        keepAliveTimeout: 30_000,
      });
      this.pools.set(origin, pool);
    }
    return pool;
  }

  private bucketFor(origin: string, key = ''): TokenBucket {
    const id = `${key}\0${origin}`;
    let bucket = this.buckets.get(id);
    if (!bucket) {
      bucket = new TokenBucket(this.options.rateLimit.requestsPerSecond, this.options.rateLimit.burst);
      this.buckets.set(id, bucket);
    }
    return bucket;
  }

  private async get(
    url: URL,
    projectId: string | undefined,
    operation: string,
    call: CallOptions,
  ): Promise<{ json: unknown; requestId: string | undefined }> {
    const base = this.options.retryBaseDelayMs ?? 200;
    const cap = this.options.retryMaxDelayMs ?? 10_000;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.attempt(url, projectId, operation, call);
      } catch (err) {
        if (!(err instanceof CphApiError)) throw err;
        const reason = retryReason(err.code, err.status);
        if (reason === undefined || attempt >= this.options.maxRetries || call.signal?.aborted) throw err;
        // Full jitter (AWS architecture blog, "Exponential Backoff And Jitter"), floor of base/2.
        const backoff = Math.min(cap, base * 2 ** attempt);
        let delay = backoff / 2 + this.random() * (backoff / 2);
        if (err.retryAfterSeconds !== undefined) {
          const asked = err.retryAfterSeconds * 1000;
          // The endpoint asked everyone to wait: pause its bucket even when this call gives up.
          this.bucketFor(url.origin, call.key).pause(asked);
          if (asked > MAX_RETRY_AFTER_MS) throw err;
          delay = Math.max(delay, asked);
        }
        this.options.observer?.retry(operation, reason);
        try {
          await sleep(delay, call.signal);
        } catch {
          // The deadline came during the backoff: the last real error says more than "aborted".
          throw err;
        }
      }
    }
  }

  private async attempt(
    url: URL,
    projectId: string | undefined,
    operation: string,
    call: CallOptions,
  ): Promise<{ json: unknown; requestId: string | undefined }> {
    if (this.closed) throw new CphApiError('CPH_ABORTED', 'client closed');
    // A call queued behind others may have been aborted meanwhile: then nothing is sent or counted.
    if (call.signal?.aborted) throw abortError(call.signal, call.signal.reason);
    const answered = call.gate ? await call.gate.enter(call.signal) : undefined;
    let answer: AttemptAnswer | undefined;
    try {
      return await this.send(url, projectId, operation, call, (a) => {
        answer = a;
      });
    } finally {
      answered?.(answer);
    }
  }

  /** One attempt once the gate let it through: token bucket, signing, the request, its answer. */
  private async send(
    url: URL,
    projectId: string | undefined,
    operation: string,
    call: CallOptions,
    onAnswer: (answer: AttemptAnswer) => void,
  ): Promise<{ json: unknown; requestId: string | undefined }> {
    await this.bucketFor(url.origin, call.key).take(call.signal).catch((reason: unknown) => {
      throw abortError(call.signal, reason);
    });
    const credentials = await call.credentials();
    const headers = signRequest({ method: 'GET', url, headers: projectId === undefined ? {} : { 'X-Project-Id': projectId } }, credentials);
    if (this.options.userAgent) headers['User-Agent'] = this.options.userAgent;

    // One timer for the whole attempt, cleared in `finally` so nothing outlives the call.
    const attemptController = new AbortController();
    const timer = setTimeout(
      () => attemptController.abort(new CphApiError('CPH_TIMEOUT', `request to ${url.host} timed out after ${seconds(this.options.requestTimeoutMs)} (api.request_timeout)`)),
      this.options.requestTimeoutMs,
    );
    const onOuterAbort = (): void => attemptController.abort(call.signal?.reason);
    if (call.signal?.aborted) onOuterAbort();
    else call.signal?.addEventListener('abort', onOuterAbort, { once: true });

    if (call.signal?.aborted) throw abortError(call.signal, call.signal.reason);
    const started = performance.now();
    let code = 'network';
    let cancelled: 'not_needed' | 'abandoned' | undefined;
    try {
      const res = await this.poolFor(url.origin).request({
        method: 'GET',
        path: url.pathname + url.search,
        headers,
        signal: attemptController.signal,
      });
      code = String(res.statusCode);
      // The status is the answer (a 2xx proves the signature whatever the body turns out to be);
      // an error body read below adds the API's error code and message.
      onAnswer({ status: res.statusCode });
      const requestId = headerValue(res.headers['x-request-id']);
      const text = await readBounded(res.body, this.options.maxResponseBytes, requestId);
      if (res.statusCode >= 200 && res.statusCode < 300) {
        const contentType = headerValue(res.headers['content-type']) ?? '';
        if (!/^application\/([\w.+-]*\+)?json\b/i.test(contentType)) {
          throw new CphApiError('CPH_BAD_RESPONSE', `expected a JSON response, got content type "${clip(contentType, 80)}"`, {
            status: res.statusCode,
            requestId,
          });
        }
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          throw new CphApiError('CPH_BAD_RESPONSE', `response is not valid JSON (${text.length} bytes)`, {
            status: res.statusCode,
            requestId,
          });
        }
        return { json, requestId };
      }
      // A gateway could echo request headers in its message; never let the secret or token through.
      const secrets = [credentials.secretKey, credentials.securityToken, headers['Authorization']?.split('Signature=')[1]];
      const error = this.httpError(operation, res.statusCode, scrub(text, secrets), requestId, headerValue(res.headers['retry-after']));
      onAnswer({ status: res.statusCode, apiErrorCode: error.apiErrorCode, apiErrorMessage: error.apiErrorMessage });
      throw error;
    } catch (err) {
      const mapped = toCphError(err, url.host, attemptController.signal, call.signal);
      // Aborted by the caller (deadline, shutdown, a sibling page that failed or ended the listing),
      // whatever error the abort carries: no network fault happened.
      // The poll deadline is a timeout like any other; every other abort by the caller is a cancellation.
      if (call.signal?.aborted) {
        const reason: unknown = call.signal.reason;
        if (isCphApiError(reason) && reason.code === 'CPH_TIMEOUT') code = 'timeout';
        else cancelled = isNotNeeded(reason) ? 'not_needed' : 'abandoned';
      } else if (mapped.code === 'CPH_TIMEOUT') code = 'timeout';
      else if (mapped.code === 'CPH_ABORTED') cancelled = 'abandoned';
      else if (mapped.code === 'CPH_NETWORK') code = 'network';
      else if (mapped.code === 'CPH_TLS') code = 'tls';
      throw mapped;
    } finally {
      clearTimeout(timer);
      call.signal?.removeEventListener('abort', onOuterAbort);
      if (cancelled) this.options.observer?.cancelled?.(operation, cancelled);
      else this.options.observer?.request(operation, code, (performance.now() - started) / 1000);
    }
  }

  private httpError(operation: string, status: number, text: string, requestId?: string, retryAfter?: string): CphApiError {
    let parsed: { code?: string; message?: string } = {};
    try {
      parsed = parseApiErrorBody(JSON.parse(text));
    } catch {
      // An HTML gateway page or plain text: keep the status, no API code.
    }
    if (parsed.code) this.options.observer?.apiError(operation, clip(parsed.code, 64));
    const apiCode = parsed.code;
    let code: CphErrorCode;
    if (status === 401 || status === 403) code = 'CPH_AUTH';
    else if (status === 429 || apiCode?.endsWith('.0308')) code = 'CPH_THROTTLED';
    else if (status >= 500) code = 'CPH_SERVER';
    else code = 'CPH_CLIENT';
    const message = parsed.message === undefined ? undefined : clip(parsed.message, 300);
    return new CphApiError(code, `${operation} failed with HTTP ${status}${apiCode ? ` ${apiCode}` : ''}${message ? `: ${message}` : ''}`, {
      status,
      apiErrorCode: apiCode,
      apiErrorMessage: message,
      requestId,
      retryAfterSeconds: parseRetryAfter(retryAfter),
    });
  }
}

function retryReason(code: CphErrorCode, status?: number): 'throttled' | 'server_error' | 'timeout' | 'network' | undefined {
  switch (code) {
    case 'CPH_THROTTLED':
      return 'throttled';
    case 'CPH_SERVER':
      // 500 is a fault of the service that a retry rarely fixes; 502/503/504 are gateway or load issues.
      return status === 502 || status === 503 || status === 504 ? 'server_error' : undefined;
    case 'CPH_TIMEOUT':
      return 'timeout';
    case 'CPH_NETWORK':
      return 'network';
    default:
      return undefined;
  }
}

function abortError(signal: AbortSignal | undefined, reason: unknown): CphApiError {
  if (reason instanceof CphApiError) return reason;
  const timedOut = reason instanceof Error && reason.name === 'TimeoutError';
  return timedOut || signal?.reason instanceof CphApiError
    ? new CphApiError('CPH_TIMEOUT', 'poll deadline reached', { cause: reason })
    : new CphApiError('CPH_ABORTED', 'request aborted', { cause: reason });
}

function toCphError(err: unknown, host: string, attemptSignal: AbortSignal, outer?: AbortSignal): CphApiError {
  if (err instanceof CphApiError) return err;
  if (outer?.aborted) return abortError(outer, outer.reason);
  if (attemptSignal.aborted && attemptSignal.reason instanceof CphApiError) return attemptSignal.reason;
  // undici reports some socket errors with the system error as their cause.
  const codeOf = (e: unknown): unknown => (e as { code?: unknown } | null)?.code;
  const own = codeOf(err);
  const inner = codeOf((err as { cause?: unknown } | null)?.cause);
  const code = typeof inner === 'string' && (typeof own !== 'string' || own.startsWith('UND_ERR')) ? inner : own;
  if (typeof code === 'string' && TIMEOUT_ERROR_CODES.has(code)) {
    return new CphApiError('CPH_TIMEOUT', `request to ${host} timed out (${TIMEOUT_WORDS[code] ?? code})`, { cause: err });
  }
  if (typeof code === 'string' && isTlsErrorCode(code)) {
    return new CphApiError('CPH_TLS', `TLS error reaching ${host}: ${describeNetworkCause(code)}; not retried`, { cause: err });
  }
  if (typeof code === 'string' && NETWORK_ERROR_CODES.has(code)) {
    return new CphApiError('CPH_NETWORK', `network error reaching ${host}: ${describeNetworkCause(code)}`, { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new CphApiError('CPH_NETWORK', `request to ${host} failed: ${clip(message, 200)}`, { cause: err });
}

const TIMEOUT_WORDS: Readonly<Record<string, string>> = {
  UND_ERR_CONNECT_TIMEOUT: 'no connection within api.connect_timeout',
  UND_ERR_HEADERS_TIMEOUT: 'no response headers within api.request_timeout',
  UND_ERR_BODY_TIMEOUT: 'the body stalled for api.request_timeout',
};

/** Milliseconds as people say them in a message: "15 s", "500 ms". */
function seconds(ms: number): string {
  return ms >= 1000 && ms % 1000 === 0 ? `${ms / 1000} s` : ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${ms} ms`;
}

async function readBounded(body: AsyncIterable<Buffer> & { destroy(err?: Error): unknown }, max: number, requestId?: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > max) {
      body.destroy();
      throw new CphApiError('CPH_BAD_RESPONSE', `response body larger than ${max} bytes`, { requestId });
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** Retry-After as seconds: either delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

/** Replaces every occurrence of the given secrets in `text`. */
export function scrub(text: string, secrets: ReadonlyArray<string | undefined>): string {
  let out = text;
  for (const secret of secrets) if (secret && secret.length >= 4) out = out.split(secret).join('[redacted]');
  return out;
}

function clip(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}
