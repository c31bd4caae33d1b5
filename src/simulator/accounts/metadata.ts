/**
 * The ECS/CCE metadata service, as far as credentials go (NOTES.md section 4b; the Go SDK's metadata_accessor.go):
 *   PUT /meta-data/latest/api/token     X-Metadata-Token-Ttl-Seconds -> a session token (404 when not required)
 *   GET /openstack/latest/securitykey   X-Metadata-Token             -> {"credential":{access,secret,securitytoken,expires_at}}
 * Every GET hands out new temporary keys of the server's agency (an account), valid for `lifetimeMs` on the
 * accounts' clock; the gateway refuses them after that (401 APIGW.0301 "token expires").
 */
import { randomBytes } from 'node:crypto';
import type { Exchange } from '../exchange.js';
import type { MetadataOptions } from '../options.js';
import type { SimAccounts } from './accounts.js';

export const NO_AGENCY = 'Please configure Cloud Service Agency first';

export class MetadataService {
  /** Session tokens and their expiry (accounts' clock). */
  private readonly tokens = new Map<string, number>();
  /** Calls of each kind (tests count refreshes). */
  readonly calls = { token: 0, securityKey: 0, refused: 0 };
  readonly lifetimeMs: number;

  constructor(
    private readonly options: MetadataOptions,
    private readonly accounts: SimAccounts,
  ) {
    this.lifetimeMs = options.lifetimeMs ?? 24 * 60 * 60 * 1000;
  }

  /** Forgets every session token, as after their TTL: the next GET with an old one gets 401. */
  expireSessionTokens(): void {
    this.tokens.clear();
  }

  putToken(ex: Exchange): void {
    this.calls.token++;
    if (!this.options.requireToken) {
      ex.error(404, 'Not Found', 'the token API is not enabled');
      return;
    }
    const ttl = Number(ex.header('x-metadata-token-ttl-seconds'));
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > 6 * 60 * 60) {
      ex.error(400, 'Bad Request', 'X-Metadata-Token-Ttl-Seconds must be 1..21600');
      return;
    }
    const token = randomBytes(24).toString('base64url');
    this.tokens.set(token, this.accounts.clock.now() + ttl * 1000);
    ex.send(200, token, 'text/plain');
  }

  getSecurityKey(ex: Exchange): void {
    this.calls.securityKey++;
    if (this.options.requireToken) {
      const token = ex.header('x-metadata-token');
      const expires = token === undefined ? undefined : this.tokens.get(token);
      if (expires === undefined || this.accounts.clock.now() >= expires) {
        this.calls.refused++;
        ex.error(401, 'Unauthorized', 'a valid X-Metadata-Token is required');
        return;
      }
    }
    if (this.options.account === undefined) {
      this.calls.refused++;
      ex.error(401, 'Unauthorized', NO_AGENCY);
      return;
    }
    const key = this.accounts.issue(this.options.account, this.lifetimeMs);
    // IAM writes microseconds: "2022-10-17T18:51:25.231000Z".
    const expiresAt = new Date(key.expiresAtMs).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
    ex.send(200, JSON.stringify({ credential: { access: key.accessKey, secret: key.secretKey, securitytoken: key.securityToken, expires_at: expiresAt } }));
  }
}
