/**
 * The one error type of the CPH API client. Match on `code`, not on the message:
 * codes are stable, messages are for people.
 */
export type CphErrorCode =
  /** 401 / 403: bad signature, unknown or locked AK, missing permission. Never retried quickly. */
  | 'CPH_AUTH'
  /** 429 / APIGW.0308: the gateway throttled us. */
  | 'CPH_THROTTLED'
  /** 5xx. */
  | 'CPH_SERVER'
  /** Any other 4xx: our request was wrong (bad parameter, unknown path). */
  | 'CPH_CLIENT'
  /** 200 with a body that is not a valid ListEncodeServers response. */
  | 'CPH_BAD_RESPONSE'
  /** Connect, headers or body timeout, or the poll deadline. */
  | 'CPH_TIMEOUT'
  /** Connection refused or reset, DNS failure. */
  | 'CPH_NETWORK'
  /** The TLS handshake failed: the endpoint's certificate was rejected (or it does not speak TLS). Not retried. */
  | 'CPH_TLS'
  /** Aborted by the caller (shutdown). */
  | 'CPH_ABORTED'
  /** A listing went on for more pages than allowed. */
  | 'CPH_PAGE_CAP'
  /** Records before a page boundary were created or deleted between two page requests (the listing is listed again). */
  | 'CPH_SHIFTED'
  /** The listing shifted again when listed a second time: nothing consistent to publish this poll. */
  | 'CPH_INCONSISTENT';

export interface CphApiErrorDetails {
  /** HTTP status, when a response arrived. */
  status?: number | undefined;
  /** The API's own error code, e.g. `APIGW.0301` or `CPS.0002`. */
  apiErrorCode?: string | undefined;
  /** The API's own error message (truncated; never contains request secrets). */
  apiErrorMessage?: string | undefined;
  /** `X-Request-Id` of the response, for Huawei support tickets. */
  requestId?: string | undefined;
  /** Seconds the server asked us to wait (`Retry-After`). */
  retryAfterSeconds?: number | undefined;
  cause?: unknown;
}

/** The cause of every "not needed" abort: a request cancelled by design, not because anything failed. */
const NOT_NEEDED = Symbol('not needed');

/**
 * The abort reason for a speculative request that turned out not to be needed (a page beyond the end
 * of a listing). The client counts such requests apart from the ones that got an answer or failed.
 */
export function notNeeded(why: string): CphApiError {
  return new CphApiError('CPH_ABORTED', `not needed: ${why}`, { cause: NOT_NEEDED });
}

export function isNotNeeded(reason: unknown): boolean {
  return reason instanceof CphApiError && reason.cause === NOT_NEEDED;
}

export class CphApiError extends Error {
  override readonly name = 'CphApiError';
  readonly status: number | undefined;
  readonly apiErrorCode: string | undefined;
  readonly apiErrorMessage: string | undefined;
  readonly requestId: string | undefined;
  readonly retryAfterSeconds: number | undefined;

  constructor(
    readonly code: CphErrorCode,
    message: string,
    details: CphApiErrorDetails = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.status = details.status;
    this.apiErrorCode = details.apiErrorCode;
    this.apiErrorMessage = details.apiErrorMessage;
    this.requestId = details.requestId;
    this.retryAfterSeconds = details.retryAfterSeconds;
  }

  /**
   * Structured fields for logs: what an operator needs, nothing secret. The message says what was
   * wrong with a bad response (which field, which content type, how large); it is built from
   * status, API code and message, sizes and field paths only, never from request headers.
   */
  toLogFields(): Record<string, unknown> {
    return {
      error: this.message,
      code: this.code,
      status: this.status,
      api_error_code: this.apiErrorCode,
      api_error_msg: this.apiErrorMessage,
      request_id: this.requestId,
    };
  }
}

export function isCphApiError(err: unknown): err is CphApiError {
  return err instanceof CphApiError;
}

/** The `reason` label of `cph_poll_failures_total` for an error code. */
export type FailureReason =
  | 'auth'
  | 'throttled'
  | 'server_error'
  | 'client_error'
  | 'bad_response'
  | 'timeout'
  | 'network'
  | 'tls'
  | 'page_cap'
  | 'inconsistent';

export const FAILURE_REASON_BY_CODE: Readonly<Record<CphErrorCode, FailureReason>> = {
  CPH_AUTH: 'auth',
  CPH_THROTTLED: 'throttled',
  CPH_SERVER: 'server_error',
  CPH_CLIENT: 'client_error',
  CPH_BAD_RESPONSE: 'bad_response',
  CPH_TIMEOUT: 'timeout',
  CPH_NETWORK: 'network',
  CPH_TLS: 'tls',
  // An aborted poll is one that ran out of time, or a shutdown (then nobody reads the metric).
  CPH_ABORTED: 'timeout',
  CPH_PAGE_CAP: 'page_cap',
  CPH_SHIFTED: 'inconsistent',
  CPH_INCONSISTENT: 'inconsistent',
};

/** Every failure reason, in the order the metrics declare them. */
export const FAILURE_REASONS: readonly FailureReason[] = [
  'auth',
  'throttled',
  'timeout',
  'network',
  'server_error',
  'client_error',
  'bad_response',
  'page_cap',
  'inconsistent',
  'tls',
];

/** Classifies anything thrown while polling into a failure reason. */
export function failureReasonOf(err: unknown): FailureReason {
  return isCphApiError(err) ? FAILURE_REASON_BY_CODE[err.code] : 'network';
}

/**
 * Reads the API's error code and message from any of the body shapes the official
 * SDKs accept (NOTES.md §5): `error_code`/`error_msg`, `code`/`message`,
 * `errorCode`/`errorMsg`, an `error: {code, message}` wrapper, or one of these one level down.
 */
export function parseApiErrorBody(body: unknown): { code?: string; message?: string } {
  const pick = (o: Record<string, unknown>): { code?: string; message?: string } | undefined => {
    const pairs: Array<[string, string]> = [
      ['error_code', 'error_msg'],
      ['errorCode', 'errorMsg'],
      ['code', 'message'],
    ];
    for (const [c, m] of pairs) {
      const code = o[c];
      if (typeof code === 'string' || typeof code === 'number') {
        const message = o[m];
        return { code: String(code), ...(typeof message === 'string' ? { message } : {}) };
      }
    }
    return undefined;
  };
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return {};
  const top = body as Record<string, unknown>;
  const direct = pick(top);
  if (direct) return direct;
  for (const value of Object.values(top)) {
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      const nested = pick(value as Record<string, unknown>);
      if (nested) return nested;
    }
  }
  return {};
}

/**
 * Whether a 401 body says the key itself is bad, not this project or region (NOTES.md §5): the
 * `APIGW.0301` (or `APIG.0301`) variants for a failed signature, an unknown AK and a locked AK.
 * Others, such as `APIG.0307` "The token must be updated" (a token used against another region),
 * concern the request's target.
 */
export function isKeyRejection(apiErrorCode: string | undefined, apiErrorMessage: string | undefined): boolean {
  if (apiErrorCode === undefined || !/^APIG(W)?\.0301$/.test(apiErrorCode)) return false;
  return /signature|ak not exist|secret ?key|access failed to reach the limit|locked/i.test(apiErrorMessage ?? '');
}

/** Error codes of a TLS handshake that failed: the peer's certificate, or TLS itself (Node's `tls` and OpenSSL). */
export function isTlsErrorCode(code: string): boolean {
  return /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_(GET|VERIFY|DECRYPT)|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|HOSTNAME_MISMATCH$|EPROTO$)/.test(code);
}

const NETWORK_CAUSES: Readonly<Record<string, string>> = {
  ENOTFOUND: 'DNS name not found',
  EAI_AGAIN: 'DNS lookup failed (temporary)',
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by the peer',
  ECONNABORTED: 'connection aborted',
  EPIPE: 'connection closed by the peer while sending',
  ENETUNREACH: 'network unreachable',
  EHOSTUNREACH: 'host unreachable',
  ETIMEDOUT: 'connection timed out',
  UND_ERR_SOCKET: 'connection closed by the peer',
  UND_ERR_CLOSED: 'connection closed',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'TLS certificate rejected: self-signed',
  SELF_SIGNED_CERT_IN_CHAIN: 'TLS certificate rejected: self-signed certificate in the chain',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'TLS certificate rejected: issuer unknown',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'TLS certificate rejected: issuer unknown',
  CERT_HAS_EXPIRED: 'TLS certificate rejected: expired',
  CERT_NOT_YET_VALID: 'TLS certificate rejected: not yet valid',
  ERR_TLS_CERT_ALTNAME_INVALID: 'TLS certificate rejected: issued for another host name',
  EPROTO: 'TLS handshake failed (does the endpoint speak TLS?)',
};

/**
 * A network or TLS error code in words, for messages and logs: "connection refused (ECONNREFUSED)".
 * Codes without words of their own are said as they are.
 */
export function describeNetworkCause(code: string): string {
  const words = NETWORK_CAUSES[code] ?? (isTlsErrorCode(code) ? 'TLS handshake failed' : undefined);
  return words ? `${words} (${code})` : code;
}
