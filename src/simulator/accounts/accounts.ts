/**
 * Accounts of the simulated cloud: each with its own permanent keys and its own projects (listed by IAM under their
 * name, a region such as cn-north-4). A key of one account gets 403 on another account's projects. Also the
 * temporary keys the metadata service hands out, each tied to an account, a security token and an expiry.
 */
import { randomBytes } from 'node:crypto';
import type { Clock, SimAccount } from '../options.js';

export interface TemporaryKey {
  account: string;
  secretKey: string;
  securityToken: string;
  expiresAtMs: number;
}

/** What the gateway makes of a temporary key's security token; undefined for permanent keys. */
export type TemporaryCheck = 'ok' | 'expired' | 'bad-token' | undefined;

export class SimAccounts {
  private readonly accountOfKey = new Map<string, string>();
  private readonly ownerOfProject = new Map<string, string>();
  private readonly projectsOf = new Map<string, Array<{ id: string; name: string }>>();
  private readonly temporary = new Map<string, TemporaryKey>();
  /** Temporary keys handed out so far (tests: "was the key refreshed?"). */
  issued = 0;

  constructor(
    accounts: Readonly<Record<string, SimAccount>>,
    /** Expiry of temporary keys is judged on this clock (tests pass a fake one). */
    readonly clock: Clock,
  ) {
    for (const [name, account] of Object.entries(accounts)) {
      for (const ak of Object.keys(account.credentials ?? {})) this.accountOfKey.set(ak, name);
      this.projectsOf.set(name, account.projects.map((p) => ({ id: p.id, name: p.name })));
      for (const p of account.projects) this.ownerOfProject.set(p.id, name);
    }
  }

  /** The account an access key (permanent or temporary) belongs to. */
  accountOf(accessKey: string): string | undefined {
    return this.temporary.get(accessKey)?.account ?? this.accountOfKey.get(accessKey);
  }

  /** Whether a request signed with `accessKey` may use `projectId`: projects of no account are open to every key. */
  mayUse(accessKey: string | undefined, projectId: string): boolean {
    const owner = this.ownerOfProject.get(projectId);
    return owner === undefined || (accessKey !== undefined && this.accountOf(accessKey) === owner);
  }

  /** IAM's KeystoneListProjects as `accessKey` sees it: its account's projects, filtered by exact name when given. */
  projectsFor(accessKey: string | undefined, name: string | undefined): Array<{ id: string; name: string }> {
    const account = accessKey === undefined ? undefined : this.accountOf(accessKey);
    const all = account === undefined ? [] : (this.projectsOf.get(account) ?? []);
    return name === undefined ? all : all.filter((p) => p.name === name);
  }

  accountNames(): string[] {
    return [...this.projectsOf.keys()];
  }

  /** New temporary keys for an account, valid for `lifetimeMs` from now on the accounts' clock. */
  issue(account: string, lifetimeMs: number): { accessKey: string } & TemporaryKey {
    const accessKey = `TMP${randomBytes(8).toString('hex').toUpperCase()}`;
    const key: TemporaryKey = {
      account,
      secretKey: randomBytes(20).toString('base64url'),
      securityToken: `tok-${randomBytes(48).toString('base64url')}`,
      expiresAtMs: this.clock.now() + lifetimeMs,
    };
    this.temporary.set(accessKey, key);
    this.issued++;
    return { accessKey, ...key };
  }

  /** The secret of a temporary key (for signature verification), whatever its state. */
  temporarySecret(accessKey: string): string | undefined {
    return this.temporary.get(accessKey)?.secretKey;
  }

  /** A temporary key must come with its own, signed security token, before its expiry. */
  checkTemporary(accessKey: string, securityToken: string | undefined, tokenSigned: boolean): TemporaryCheck {
    const key = this.temporary.get(accessKey);
    if (!key) return undefined;
    if (securityToken !== key.securityToken || !tokenSigned) return 'bad-token';
    return this.clock.now() >= key.expiresAtMs ? 'expired' : 'ok';
  }
}
