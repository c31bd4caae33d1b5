import { readFileSync, statSync } from 'node:fs';
import { ACCESS_KEY_FORBIDDEN, HEADER_VALUE } from '../cph/signer.js';
import type { Credentials } from '../cph/types.js';
import type { Config } from './load.js';

/** The environment variables the official Huawei Cloud SDKs read (NOTES.md §3). */
export const CREDENTIAL_ENV = {
  accessKey: 'HUAWEICLOUD_SDK_AK',
  secretKey: 'HUAWEICLOUD_SDK_SK',
  securityToken: 'HUAWEICLOUD_SDK_SECURITY_TOKEN',
} as const;

type Field = keyof typeof CREDENTIAL_ENV;
const FILE_KEY: Record<Field, 'accessKeyFile' | 'secretKeyFile' | 'securityTokenFile'> = {
  accessKey: 'accessKeyFile',
  secretKey: 'secretKeyFile',
  securityToken: 'securityTokenFile',
};
const CONFIG_KEY: Record<Field, string> = {
  accessKey: 'credentials.access_key_file',
  secretKey: 'credentials.secret_key_file',
  securityToken: 'credentials.security_token_file',
};

/**
 * Values the request signer (src/cph/signer.ts) throws on, so that no request could ever be sent:
 * an access key with whitespace, "," or "=" (it would break the Authorization header), a security
 * token with anything but printable ASCII, space and tab (it goes into the X-Security-Token header).
 * The signer takes any non-empty secret key: it is only an HMAC key, never sent.
 */
const UNUSABLE: Partial<Record<Field, { unusable: (value: string) => boolean; problem: string }>> = {
  accessKey: { unusable: (v) => ACCESS_KEY_FORBIDDEN.test(v), problem: 'the access key contains whitespace, "," or "="' },
  securityToken: { unusable: (v) => !HEADER_VALUE.test(v), problem: 'the security token contains a line break or another character that is not printable ASCII' },
};

interface CachedFile {
  stamp: string;
  value: string;
}

/**
 * Where the AK/SK come from: a file named in the config (a mounted Kubernetes secret, re-read
 * when it changes so a rotated key is used without a restart) or else the SDK environment variables.
 * Error messages name the key and the file, never the value.
 */
export class CredentialSource {
  private readonly cache = new Map<string, CachedFile>();
  private lastGood: Credentials | undefined;

  constructor(
    private readonly files: Config['credentials'],
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  /** Problems that make the exporter unable to authenticate at all; checked before anything starts. */
  check(): string[] {
    const problems: string[] = [];
    for (const field of ['accessKey', 'secretKey', 'securityToken'] as const) {
      try {
        const value = this.read(field);
        if (field !== 'securityToken' && !value) {
          problems.push(`${CONFIG_KEY[field]}: not set, and the environment variable ${CREDENTIAL_ENV[field]} is empty`);
        }
        const unusable = this.unusable(field, value);
        if (unusable) problems.push(unusable);
      } catch (err) {
        problems.push((err as Error).message);
      }
    }
    return problems;
  }

  /**
   * Current credentials. A file that cannot be read right now (mid-rotation) falls back to the
   * last credentials that could be read; with none, it throws. A value the signer cannot use
   * throws as `check()` words it, without falling back: the key in place now is unusable.
   */
  get(): Credentials {
    let current: Credentials;
    try {
      const accessKey = this.read('accessKey');
      const secretKey = this.read('secretKey');
      const securityToken = this.read('securityToken');
      if (!accessKey || !secretKey) throw new Error('credentials are not set');
      current = { accessKey, secretKey, ...(securityToken ? { securityToken } : {}) };
    } catch (err) {
      if (!this.lastGood) throw err;
      return this.lastGood;
    }
    const unusable = this.unusable('accessKey', current.accessKey) ?? this.unusable('securityToken', current.securityToken);
    if (unusable) throw new Error(unusable);
    this.lastGood = current;
    return current;
  }

  /** Why the signer would refuse this value, naming where it came from (never the value); undefined if it is usable. */
  private unusable(field: Field, value: string | undefined): string | undefined {
    const rule = UNUSABLE[field];
    if (value === undefined || !rule?.unusable(value)) return undefined;
    const from = this.files[FILE_KEY[field]] === undefined ? CREDENTIAL_ENV[field] : CONFIG_KEY[field];
    return `${from}: ${rule.problem}`;
  }

  private read(field: Field): string | undefined {
    const file = this.files[FILE_KEY[field]];
    if (file === undefined) return this.env[CREDENTIAL_ENV[field]]?.trim() || undefined;
    try {
      const st = statSync(file);
      const stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
      const cached = this.cache.get(file);
      if (cached?.stamp === stamp) return cached.value;
      const value = readFileSync(file, 'utf8').trim();
      if (value === '') throw Object.assign(new Error('empty'), { code: 'EMPTY' });
      this.cache.set(file, { stamp, value });
      return value;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
      throw new Error(`${CONFIG_KEY[field]}: cannot read secret file ${file} (${code})`);
    }
  }
}
