/**
 * The gateway's signature check: recomputes an incoming request's `SDK-HMAC-SHA256` signature with the exporter's
 * own canonical-request builders (../../cph/signer.ts), so both sides follow one reading of NOTES.md section 4.
 * Simulator only: the exporter signs and never verifies.
 */
import { timingSafeEqual } from 'node:crypto';
import { SIGNING_ALGORITHM, canonicalRequest, compareUtf8, computeSignature, formatSdkDate, stringToSign } from '../../cph/signer.js';

/** The gateway rejects an X-Sdk-Date more than 15 minutes away from its own clock; the simulator does the same. */
export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;

const SDK_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/** Parses an X-Sdk-Date value; undefined unless it is exactly in the format `formatSdkDate` produces (no month 13). */
export function parseSdkDate(value: string): Date | undefined {
  const m = SDK_DATE.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d);
  date.setUTCHours(h, mi, s, 0);
  return formatSdkDate(date) === value ? date : undefined;
}

export interface ParsedAuthorization {
  accessKey: string;
  /** Lowercase names, strictly ascending. */
  signedHeaders: string[];
  /** 64 lowercase hex digits. */
  signature: string;
}

const AUTHORIZATION = /^SDK-HMAC-SHA256 Access=([^\s,=]+), SignedHeaders=([^\s,=]+), Signature=([0-9a-f]{64})$/;
const SIGNED_HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;

/** Parses an `SDK-HMAC-SHA256` Authorization value; undefined if it is anything else or not canonical. */
export function parseAuthorization(value: string): ParsedAuthorization | undefined {
  const m = AUTHORIZATION.exec(value);
  if (!m) return undefined;
  const signedHeaders = (m[2] as string).split(';');
  for (let i = 0; i < signedHeaders.length; i++) {
    if (!SIGNED_HEADER_NAME.test(signedHeaders[i] as string)) return undefined;
    if (i > 0 && compareUtf8(signedHeaders[i - 1] as string, signedHeaders[i] as string) >= 0) return undefined;
  }
  return { accessKey: m[1] as string, signedHeaders, signature: m[3] as string };
}

/** Every reason `verifySignature` can give. Fixed strings: they never contain a key, a token or a signature. */
export type VerifyFailureReason =
  | 'missing authorization'
  | 'unsupported algorithm'
  | 'malformed authorization'
  | 'missing x-sdk-date'
  | 'malformed x-sdk-date'
  | 'x-sdk-date not signed'
  | 'missing signed header'
  | 'duplicate header'
  | 'malformed signed header'
  | 'unknown access key'
  | 'x-sdk-date too far from now'
  | 'signature mismatch';

export type VerifyResult = { ok: true; accessKey: string } | { ok: false; reason: VerifyFailureReason };

/**
 * Verifies an incoming request. Recomputes the signature over the headers the request lists
 * in SignedHeaders, looked up case-insensitively in `req.headers` (Node lowercases names; `host` is the Host header),
 * with the query from `req.url` and the path from `req.url.pathname`, and compares in constant time.
 * X-Sdk-Date must be signed and within ±15 min of `now`. A signed `X-Sdk-Content-Sha256` replaces the body hash,
 * as in the SDKs. `body` (default empty) must be the raw body as received.
 */
export function verifySignature(
  req: { method: string; url: URL; headers: Record<string, string | string[] | undefined>; body?: string },
  secretFor: (accessKey: string) => string | undefined,
  now: Date = new Date(),
): VerifyResult {
  const fail = (reason: VerifyFailureReason): VerifyResult => ({ ok: false, reason });

  const headers = new Map<string, string | string[]>();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    const previous = headers.get(lower);
    headers.set(lower, previous === undefined ? value : ([] as string[]).concat(previous, value));
  }

  const authorization = headers.get('authorization');
  if (authorization === undefined) return fail('missing authorization');
  if (typeof authorization !== 'string') return fail('malformed authorization');
  if (!authorization.startsWith(`${SIGNING_ALGORITHM} `)) return fail('unsupported algorithm');
  const parsed = parseAuthorization(authorization);
  if (!parsed) return fail('malformed authorization');

  const sdkDate = headers.get('x-sdk-date');
  if (sdkDate === undefined) return fail('missing x-sdk-date');
  if (typeof sdkDate !== 'string') return fail('duplicate header');
  const date = parseSdkDate(sdkDate.trim());
  if (!date) return fail('malformed x-sdk-date');
  if (!parsed.signedHeaders.includes('x-sdk-date')) return fail('x-sdk-date not signed');

  const signed = Object.create(null) as Record<string, string>; // no prototype: a header named __proto__ stays a header
  for (const name of parsed.signedHeaders) {
    const value = headers.get(name);
    if (value === undefined) return fail('missing signed header');
    if (typeof value !== 'string') return fail('duplicate header');
    signed[name] = value;
  }

  const secretKey = secretFor(parsed.accessKey);
  if (!secretKey) return fail('unknown access key');
  if (Math.abs(now.getTime() - date.getTime()) > MAX_CLOCK_SKEW_MS) return fail('x-sdk-date too far from now');

  let built: { canonicalRequest: string };
  try {
    const payloadHash = signed['x-sdk-content-sha256'];
    built = canonicalRequest({
      method: req.method,
      url: req.url,
      headers: signed,
      ...(payloadHash !== undefined ? { payloadHash: payloadHash.trim() } : {}),
      ...(req.body !== undefined ? { body: req.body } : {}),
    });
  } catch {
    return fail('malformed signed header');
  }
  const expected = computeSignature(secretKey, stringToSign(built.canonicalRequest, sdkDate.trim()));
  // Both are 64 lowercase hex characters (the parser guarantees it for the given one), so lengths match.
  if (!timingSafeEqual(Buffer.from(expected, 'latin1'), Buffer.from(parsed.signature, 'latin1'))) {
    return fail('signature mismatch');
  }
  return { ok: true, accessKey: parsed.accessKey };
}
