import { request } from 'undici';
import type { Credentials } from '../cph/types.js';
import type { CredentialProvider } from './provider.js';
import { unusableCredential } from './static.js';

/*
 * Temporary AK/SK and security token from the ECS/CCE metadata service, the way the official Go SDK
 * reads them (core/auth/internal/metadata_accessor.go, core/auth/base_credentials.go; NOTES.md §4b):
 *   PUT  /meta-data/latest/api/token   X-Metadata-Token-Ttl-Seconds: 21600  -> session token (404/405: not required)
 *   GET  /openstack/latest/securitykey X-Metadata-Token: <token>            -> {"credential":{access,secret,securitytoken,expires_at}}
 * A 401 to the second call means the session token lapsed: get a new one and ask once more.
 */

export const SECURITY_KEY_PATH = '/openstack/latest/securitykey';
export const METADATA_TOKEN_PATH = '/meta-data/latest/api/token';
export const METADATA_TOKEN_HEADER = 'X-Metadata-Token';
export const METADATA_TOKEN_TTL_HEADER = 'X-Metadata-Token-Ttl-Seconds';
/** The SDKs ask for 6 h session tokens. */
const TOKEN_TTL_SECONDS = 6 * 60 * 60;
/** Without a token requirement, the SDKs check again once a day whether one has appeared. */
const TOKEN_RECHECK_MS = 24 * 60 * 60 * 1000;
/** The SDKs refresh temporary keys when less than 40 minutes are left. */
export const REFRESH_BEFORE_EXPIRY_MS = 40 * 60 * 1000;
/** The SDKs' timeout for metadata calls; the service is on the host's own link. */
const TIMEOUT_MS = 3000;
const MAX_BODY_BYTES = 64 * 1024;
/** The metadata service's answer when the server has no agency (IAM role) to get keys from. */
const NO_AGENCY = 'Please configure Cloud Service Agency first';

export interface MetadataCredentialsOptions {
  /** The account's name, for messages. */
  account: string;
  /** Origin of the metadata service, `http://169.254.169.254` unless overridden. */
  endpoint: string;
  /** Unix ms; injectable so that tests reach the refresh without waiting. */
  now?: () => number;
  /** Told (without any value) when keys were fetched or a refresh failed while the old keys still hold. */
  onEvent?: (event: { kind: 'fetched'; expiresAtMs: number } | { kind: 'refresh_failed'; message: string; expiresAtMs: number }) => void;
}

interface Held {
  credentials: Credentials;
  expiresAtMs: number;
  /** When to fetch new keys: 40 minutes before expiry, or half-way through a lifetime shorter than 80 minutes. */
  refreshAtMs: number;
}

/**
 * Temporary credentials for one account, fetched on first use and refreshed before they expire.
 * One fetch at a time: concurrent callers share it. If a refresh fails while the keys in hand are
 * still valid, they are used (the next call tries again); only expired keys make `get()` throw.
 */
export class MetadataCredentials implements CredentialProvider {
  private held: Held | undefined;
  private fetching: Promise<Held> | undefined;
  private token: { value: string; renewAtMs: number } | undefined;
  /** When we last learned that this service needs no session token (undefined: never asked). */
  private noTokenSinceMs: number | undefined;
  private readonly now: () => number;

  constructor(private readonly options: MetadataCredentialsOptions) {
    this.now = options.now ?? Date.now;
  }

  async get(): Promise<Credentials> {
    const now = this.now();
    const held = this.held;
    if (held && now < held.refreshAtMs) return held.credentials;
    this.fetching ??= this.fetch().finally(() => {
      this.fetching = undefined;
    });
    try {
      this.held = await this.fetching;
      this.options.onEvent?.({ kind: 'fetched', expiresAtMs: this.held.expiresAtMs });
      return this.held.credentials;
    } catch (err) {
      const message = (err as Error).message;
      if (held && this.now() < held.expiresAtMs) {
        this.options.onEvent?.({ kind: 'refresh_failed', message, expiresAtMs: held.expiresAtMs });
        return held.credentials;
      }
      throw err;
    }
  }

  private where(): string {
    return `accounts.${this.options.account}.metadata: ${this.options.endpoint}${SECURITY_KEY_PATH}`;
  }

  private async fetch(): Promise<Held> {
    await this.ensureToken(false);
    let res = await this.call('GET', SECURITY_KEY_PATH, this.token ? { [METADATA_TOKEN_HEADER]: this.token.value } : {});
    if (res.status === 401 && !res.body.includes(NO_AGENCY)) {
      await this.ensureToken(true);
      res = await this.call('GET', SECURITY_KEY_PATH, this.token ? { [METADATA_TOKEN_HEADER]: this.token.value } : {});
    }
    if (res.status !== 200) {
      const hint = res.body.includes(NO_AGENCY) ? ' (the server has no agency: attach one with CPH read permission)' : '';
      throw new Error(`${this.where()}: HTTP ${res.status}${hint}`);
    }
    return this.parse(res.body);
  }

  /** Gets a session token when there is none or it is due, unless the service said it needs none (rechecked daily). */
  private async ensureToken(force: boolean): Promise<void> {
    const now = this.now();
    if (!force) {
      if (this.token && now < this.token.renewAtMs) return;
      if (!this.token && this.noTokenSinceMs !== undefined && now - this.noTokenSinceMs < TOKEN_RECHECK_MS) return;
    }
    const res = await this.call('PUT', METADATA_TOKEN_PATH, { [METADATA_TOKEN_TTL_HEADER]: String(TOKEN_TTL_SECONDS) });
    if (res.status === 200 && res.body.trim() !== '') {
      // Renew at 90 % of its life, before the service stops taking it.
      this.token = { value: res.body.trim(), renewAtMs: now + TOKEN_TTL_SECONDS * 900 };
      this.noTokenSinceMs = undefined;
    } else if ((res.status === 404 || res.status === 405) && !force) {
      this.token = undefined;
      this.noTokenSinceMs = now;
    } else {
      throw new Error(`accounts.${this.options.account}.metadata: ${this.options.endpoint}${METADATA_TOKEN_PATH}: HTTP ${res.status}`);
    }
  }

  private async call(method: 'GET' | 'PUT', path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
    try {
      const res = await request(new URL(path, this.options.endpoint), {
        method,
        headers,
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      let size = 0;
      const chunks: Buffer[] = [];
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) {
          res.body.destroy();
          throw new Error(`response larger than ${MAX_BODY_BYTES} bytes`);
        }
        chunks.push(chunk);
      }
      return { status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') };
    } catch (err) {
      const e = err as { code?: string; name?: string; message?: string };
      const why = e.name === 'TimeoutError' ? `no answer within ${TIMEOUT_MS} ms` : (e.code ?? e.message ?? 'request failed');
      throw new Error(`accounts.${this.options.account}.metadata: ${this.options.endpoint}${path}: ${why}`);
    }
  }

  private parse(body: string): Held {
    let credential: Record<string, unknown> | undefined;
    try {
      const json = JSON.parse(body) as { credential?: unknown };
      if (json && typeof json.credential === 'object' && json.credential !== null) credential = json.credential as Record<string, unknown>;
    } catch {
      // reported below
    }
    const str = (k: string): string | undefined => (typeof credential?.[k] === 'string' && credential[k] !== '' ? (credential[k] as string) : undefined);
    const accessKey = str('access');
    const secretKey = str('secret');
    const securityToken = str('securitytoken');
    const expiresAtMs = Date.parse(str('expires_at') ?? '');
    if (!accessKey || !secretKey || !securityToken || Number.isNaN(expiresAtMs)) {
      throw new Error(`${this.where()}: the answer is not {"credential":{"access","secret","securitytoken","expires_at"}}`);
    }
    const unusable = unusableCredential('accessKey', accessKey, this.where()) ?? unusableCredential('securityToken', securityToken, this.where());
    if (unusable) throw new Error(unusable);
    const now = this.now();
    if (expiresAtMs <= now) throw new Error(`${this.where()}: the keys it gave expired at ${new Date(expiresAtMs).toISOString()}`);
    const refreshAtMs = Math.max(expiresAtMs - REFRESH_BEFORE_EXPIRY_MS, now + (expiresAtMs - now) / 2);
    return { credentials: { accessKey, secretKey, securityToken }, expiresAtMs, refreshAtMs };
  }
}
