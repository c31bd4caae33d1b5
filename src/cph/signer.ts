/**
 * Huawei Cloud API Gateway request signing, "SDK-HMAC-SHA256" (see ../../../shared/api/NOTES.md section 4).
 *
 * Pure module: node:crypto only, no I/O, no logging. Errors it throws name the offending header or field, never a
 * value, so a secret key or security token can never end up in a log line through an exception message.
 *
 *   CanonicalRequest = METHOD \n CanonicalURI \n CanonicalQueryString \n CanonicalHeaders \n SignedHeaders \n hex(sha256(body))
 *   StringToSign     = "SDK-HMAC-SHA256" \n X-Sdk-Date \n hex(sha256(CanonicalRequest))
 *   Signature        = hex(HMAC-SHA256(SK, StringToSign))
 *   Authorization: SDK-HMAC-SHA256 Access=AK, SignedHeaders=h1;h2, Signature=sig
 */
import { createHash, createHmac } from 'node:crypto';
import type { Credentials } from './types.js';

export const SIGNING_ALGORITHM = 'SDK-HMAC-SHA256';

/** hex(sha256("")): the payload hash of every GET. */
export const EMPTY_BODY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** Header names the signer owns; callers may not pass them in `signRequest`'s input headers. */
const RESERVED_HEADERS = new Set(['host', 'authorization', 'x-sdk-date', 'x-security-token']);

/** RFC 7230 token: what a header name may consist of. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/**
 * Characters a header value may hold: printable ASCII, space and tab (a security token travels in one). Anything else
 * would be sent differently from how it is hashed (Node reads header bytes as latin1).
 */
export const HEADER_VALUE = /^[\t\x20-\x7e]*$/;
/** What an access key may not contain: it stands unquoted in the Authorization header. */
export const ACCESS_KEY_FORBIDDEN = /[\s,=]/;

/**
 * Formats a date as X-Sdk-Date wants it: UTC, basic ISO 8601 without fraction, `YYYYMMDDTHHMMSSZ`
 * (e.g. `20240102T030405Z`). The same string goes into the header and into the string to sign.
 */
export function formatSdkDate(date: Date): string {
  const time = date.getTime();
  if (Number.isNaN(time)) throw new RangeError('formatSdkDate: invalid date');
  const iso = date.toISOString(); // 2024-01-02T03:04:05.678Z, or ±YYYYYY-... outside years 0..9999
  if (!/^\d{4}-/.test(iso)) throw new RangeError('formatSdkDate: year out of range 0000-9999');
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
}

/** The 66 RFC 3986 "unreserved" bytes, the only ones left as they are: `A-Z a-z 0-9 - . _ ~`. */
function isUnreserved(byte: number): boolean {
  return (
    (byte >= 0x41 && byte <= 0x5a) || // A-Z
    (byte >= 0x61 && byte <= 0x7a) || // a-z
    (byte >= 0x30 && byte <= 0x39) || // 0-9
    byte === 0x2d || byte === 0x2e || byte === 0x5f || byte === 0x7e // - . _ ~
  );
}

const HEX = '0123456789ABCDEF';

function encodeBytes(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) {
    out += isUnreserved(b) ? String.fromCharCode(b) : `%${HEX[b >> 4]}${HEX[b & 15]}`;
  }
  return out;
}

/**
 * Percent-encodes a string the way every official SDK does for the canonical URI and query: its UTF-8 bytes, with
 * only the RFC 3986 unreserved characters kept and uppercase hex. This is stricter than `encodeURIComponent`, which
 * leaves `! ' ( ) *` alone, so the gateway would see `%21` where we hashed `!`.
 * (A lone UTF-16 surrogate becomes U+FFFD, as it would on the wire.)
 */
export function encodeRfc3986(value: string): string {
  return encodeBytes(Buffer.from(value, 'utf8'));
}

function isHexDigit(byte: number | undefined): boolean {
  return byte !== undefined && ((byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66));
}

/**
 * WHATWG percent-decode to bytes: `%HH` becomes that byte; a `%` not followed by two hex digits stays a literal `%`.
 * Working on bytes (not on a decoded string) keeps invalid UTF-8 such as `%FF` distinct from `%FE` in the signature.
 */
function percentDecodeBytes(value: string): Uint8Array {
  const input = Buffer.from(value, 'utf8');
  const out = new Uint8Array(input.length);
  let n = 0;
  for (let i = 0; i < input.length; i++) {
    const b = input[i] as number;
    if (b === 0x25 && isHexDigit(input[i + 1]) && isHexDigit(input[i + 2])) {
      out[n++] = parseInt(String.fromCharCode(input[i + 1] as number, input[i + 2] as number), 16);
      i += 2;
    } else {
      out[n++] = b;
    }
  }
  return out.subarray(0, n);
}

/**
 * Canonical URI from a URL's (percent-encoded) `pathname`: split on `/`, decode each segment, RFC 3986 encode it
 * again, join with `/`, and append a `/` unless it already ends with one. Decoding first is what makes the result
 * independent of how the URL was escaped (`new URL` leaves `!` and `'` raw but escapes a space), so the client's
 * `url.pathname` and the path the gateway receives canonicalize identically; the SDKs sign the decoded path.
 * An encoded slash (`%2F`) stays inside its segment and comes out as `%2F`.
 * The trailing slash exists only in the canonical string; the request line keeps the path as it is.
 */
export function canonicalUri(pathname: string): string {
  const uri = pathname
    .split('/')
    .map((segment) => encodeBytes(percentDecodeBytes(segment)))
    .join('/');
  return uri.endsWith('/') ? uri : `${uri}/`;
}

/** Orders strings by their UTF-8 bytes (= by code point), the order Go's `sort.Strings` and Python's `sorted` use. */
export function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * Canonical query string: the decoded parameters (URLSearchParams decodes `%XX` and `+`), grouped by key, keys sorted,
 * each key's values sorted, emitted as `enc(key)=enc(value)` joined with `&`; `enc` is `encodeRfc3986`. Repeated
 * keys become repeated pairs; a key without `=` signs as `key=`. Sorting happens on the decoded strings, as in the SDKs.
 */
export function canonicalQueryString(params: URLSearchParams): string {
  const byKey = new Map<string, string[]>();
  for (const [key, value] of params) {
    const values = byKey.get(key);
    if (values) values.push(value);
    else byKey.set(key, [value]);
  }
  const pairs: string[] = [];
  for (const key of [...byKey.keys()].sort(compareUtf8)) {
    const encodedKey = encodeRfc3986(key);
    for (const value of (byKey.get(key) as string[]).sort(compareUtf8)) {
      pairs.push(`${encodedKey}=${encodeRfc3986(value)}`);
    }
  }
  return pairs.join('&');
}

/**
 * Canonical headers and the SignedHeaders list for exactly the headers given (the caller decides the set):
 * names lowercased and sorted, one `name:trimmed value\n` line each, names joined with `;`.
 * Throws a TypeError naming the header (never its value) for an invalid name, an invalid value, or a name given twice
 * with different case.
 */
export function canonicalHeaders(headers: Record<string, string>): { canonicalHeaders: string; signedHeaders: string } {
  const byName = new Map<string, string>();
  for (const [name, value] of Object.entries(headers)) {
    if (!HEADER_NAME.test(name)) throw new TypeError('signer: invalid header name');
    const lower = name.toLowerCase();
    if (typeof value !== 'string' || !HEADER_VALUE.test(value)) throw new TypeError(`signer: invalid value for header ${lower}`);
    if (byName.has(lower)) throw new TypeError(`signer: header ${lower} given more than once`);
    byName.set(lower, value.trim());
  }
  const names = [...byName.keys()].sort(compareUtf8);
  return {
    canonicalHeaders: names.map((n) => `${n}:${byName.get(n) as string}\n`).join(''),
    signedHeaders: names.join(';'),
  };
}

/** Lowercase hex SHA-256 of a string's UTF-8 bytes: the payload hash (and the hash of the canonical request). */
export function sha256Hex(data: string): string {
  return createHash('sha256').update(data, 'utf8').digest('hex');
}

export interface CanonicalRequestInput {
  method: string;
  /** Path and query are taken from here; host is not (pass it in `headers` if it is to be signed). */
  url: URL;
  /** Exactly the headers to sign, any case, e.g. `{ host, 'X-Sdk-Date': ... }`. */
  headers: Record<string, string>;
  /** Request body, hashed as UTF-8; default empty. Ignored when `payloadHash` is given. */
  body?: string;
  /** Pre-computed payload hash, e.g. `UNSIGNED-PAYLOAD` when a client sent `X-Sdk-Content-Sha256`. */
  payloadHash?: string;
}

/**
 * Builds the canonical request over an explicit header set. `signRequest` uses it, and it is exported so the
 * official test vectors, which each SDK computed over its own header choice (the doc example signs
 * content-type, Go signs no host), can be checked against the algorithm itself.
 */
export function canonicalRequest(input: CanonicalRequestInput): { canonicalRequest: string; signedHeaders: string } {
  const { canonicalHeaders: headerLines, signedHeaders } = canonicalHeaders(input.headers);
  const payloadHash = input.payloadHash ?? (input.body ? sha256Hex(input.body) : EMPTY_BODY_SHA256);
  const text = [
    input.method,
    canonicalUri(input.url.pathname),
    canonicalQueryString(input.url.searchParams),
    headerLines, // ends in "\n", so a blank line follows it
    signedHeaders,
    payloadHash,
  ].join('\n');
  return { canonicalRequest: text, signedHeaders };
}

/** `SDK-HMAC-SHA256\n<X-Sdk-Date>\n<hex sha256 of the canonical request>`. */
export function stringToSign(canonicalRequestText: string, sdkDate: string): string {
  return `${SIGNING_ALGORITHM}\n${sdkDate}\n${sha256Hex(canonicalRequestText)}`;
}

/** Lowercase hex HMAC-SHA256 keyed with the SK's UTF-8 bytes as is (no key derivation, unlike AWS SigV4). */
export function computeSignature(secretKey: string, stringToSignText: string): string {
  return createHmac('sha256', secretKey).update(stringToSignText, 'utf8').digest('hex');
}

/** `SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b, Signature=hex`; exactly one space after the algorithm, `", "` between parts. */
export function authorizationHeader(accessKey: string, signedHeaders: string, signature: string): string {
  return `${SIGNING_ALGORITHM} Access=${accessKey}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
}

function checkCredentials(credentials: Credentials): void {
  if (typeof credentials.accessKey !== 'string' || credentials.accessKey === '' || ACCESS_KEY_FORBIDDEN.test(credentials.accessKey)) {
    throw new TypeError('signRequest: access key is empty or contains whitespace, "," or "="');
  }
  if (typeof credentials.secretKey !== 'string' || credentials.secretKey.length === 0) {
    throw new TypeError('signRequest: secret key is empty');
  }
}

/**
 * Signs a request. Returns the headers to send: the input headers (names as given), `X-Sdk-Date`, `X-Security-Token`
 * when the credentials have a (non-empty) token, and `Authorization`.
 *
 * Signed: `host` (= `url.host`, which includes a non-default port and is what undici sends as Host; it is not returned,
 * the HTTP client sets it), `x-sdk-date`, `x-security-token`, and every input header (e.g. `X-Project-Id`).
 * The input headers may not contain Host, Authorization, X-Sdk-Date or X-Security-Token.
 * `body` is hashed as UTF-8 and must be sent byte for byte as given.
 */
export function signRequest(
  input: { method: string; url: URL; headers?: Record<string, string>; body?: string },
  credentials: Credentials,
  now: Date = new Date(),
): Record<string, string> {
  checkCredentials(credentials);
  if (!HEADER_NAME.test(input.method)) throw new TypeError('signRequest: invalid method');
  if (input.url.host === '') throw new TypeError('signRequest: URL has no host');
  const headers: Record<string, string> = { ...input.headers };
  for (const name of Object.keys(headers)) {
    if (RESERVED_HEADERS.has(name.toLowerCase())) throw new TypeError(`signRequest: header ${name.toLowerCase()} is set by the signer`);
  }
  const sdkDate = formatSdkDate(now);
  headers['X-Sdk-Date'] = sdkDate;
  if (credentials.securityToken) headers['X-Security-Token'] = credentials.securityToken;

  const built = canonicalRequest({
    method: input.method,
    url: input.url,
    headers: { ...headers, host: input.url.host },
    ...(input.body !== undefined ? { body: input.body } : {}),
  });
  const signature = computeSignature(credentials.secretKey, stringToSign(built.canonicalRequest, sdkDate));
  headers['Authorization'] = authorizationHeader(credentials.accessKey, built.signedHeaders, signature);
  return headers;
}
