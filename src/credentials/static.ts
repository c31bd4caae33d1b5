import { readFileSync, statSync } from 'node:fs';
import type { AccountConfig, Config, ValueSource } from '../config/load.js';
import { ACCESS_KEY_FORBIDDEN, HEADER_VALUE } from '../cph/signer.js';
import type { Credentials } from '../cph/types.js';
import type { CredentialProvider } from './provider.js';

/** The environment variables the official Huawei Cloud SDKs read (NOTES.md §3). */
export const CREDENTIAL_ENV = {
  accessKey: 'HUAWEICLOUD_SDK_AK',
  secretKey: 'HUAWEICLOUD_SDK_SK',
  securityToken: 'HUAWEICLOUD_SDK_SECURITY_TOKEN',
} as const;

type Field = keyof typeof CREDENTIAL_ENV;
const FIELDS = ['accessKey', 'secretKey', 'securityToken'] as const;
const SNAKE: Record<Field, string> = { accessKey: 'access_key', secretKey: 'secret_key', securityToken: 'security_token' };

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

/** Why the signer would refuse `value` for `field` (undefined when it is usable), prefixed with where it came from. */
export function unusableCredential(field: Field, value: string | undefined, from: string): string | undefined {
  const rule = UNUSABLE[field];
  if (value === undefined || !rule?.unusable(value)) return undefined;
  return `${from}: ${rule.problem}`;
}

/** One value's source and how messages name it (the config key or the variable, never the value). */
interface FieldSource {
  source: ValueSource | undefined;
  /** Names the source in messages. */
  name: string;
  /** The message when the source yields nothing (undefined: the value is optional). */
  missing: string | undefined;
}

/** Why a file could not be read, in words. */
const FILE_ERRORS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'it is a directory',
  ELOOP: 'too many symbolic links',
  ENOTDIR: 'a part of the path is not a directory',
};

interface CachedFile {
  stamp: string;
  value: string;
}

/**
 * Long-lived AK/SK from files (a mounted Kubernetes secret, re-read when it changes so that a
 * rotated key is used without a restart) or environment variables. Error messages name the key,
 * the file or the variable, never the value.
 */
export class CredentialSource implements CredentialProvider {
  private readonly cache = new Map<string, CachedFile>();
  private lastGood: Credentials | undefined;
  private readonly fields: Record<Field, FieldSource>;

  /**
   * The top-level `credentials:` of the config: each value from its file, or else from the SDK
   * environment variable (HUAWEICLOUD_SDK_AK, ...). `fields` is for accounts (see `forAccount`).
   */
  constructor(
    files: Config['credentials'],
    private readonly env: NodeJS.ProcessEnv = process.env,
    fields?: Record<Field, FieldSource>,
  ) {
    const fileOf: Record<Field, string | undefined> = { accessKey: files.accessKeyFile, secretKey: files.secretKeyFile, securityToken: files.securityTokenFile };
    this.fields = fields ?? {
      accessKey: topLevel('accessKey', fileOf.accessKey),
      secretKey: topLevel('secretKey', fileOf.secretKey),
      securityToken: topLevel('securityToken', fileOf.securityToken),
    };
  }

  /** The keys of an account of `accounts:` with a file or an environment variable per value. */
  static forAccount(name: string, account: Extract<AccountConfig, { kind: 'static' }>, env: NodeJS.ProcessEnv = process.env): CredentialSource {
    const field = (f: Field, source: ValueSource | undefined, required: boolean): FieldSource => {
      const key = `accounts.${name}.${SNAKE[f]}_${source && 'env' in source ? 'env' : 'file'}`;
      return {
        source,
        name: source && 'env' in source ? `${key} (${source.env})` : key,
        missing: required ? `${key}: the environment variable ${source && 'env' in source ? source.env : ''} is empty` : undefined,
      };
    };
    return new CredentialSource({}, env, {
      accessKey: field('accessKey', account.accessKey, true),
      secretKey: field('secretKey', account.secretKey, true),
      securityToken: field('securityToken', account.securityToken, false),
    });
  }

  /** Problems that make the exporter unable to authenticate at all; checked before anything starts. */
  check(): string[] {
    const problems: string[] = [];
    for (const field of FIELDS) {
      try {
        const value = this.read(field);
        const { missing, name } = this.fields[field];
        if (missing !== undefined && !value) problems.push(missing);
        const unusable = unusableCredential(field, value, name);
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
    const unusable =
      unusableCredential('accessKey', current.accessKey, this.fields.accessKey.name) ??
      unusableCredential('securityToken', current.securityToken, this.fields.securityToken.name);
    if (unusable) throw new Error(unusable);
    this.lastGood = current;
    return current;
  }

  private read(field: Field): string | undefined {
    const { source, name } = this.fields[field];
    if (source === undefined) return undefined;
    if ('env' in source) return this.env[source.env]?.trim() || undefined;
    const file = source.file;
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
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EMPTY') throw new Error(`${name}: the secret file ${file} is empty (or holds only whitespace)`);
      throw new Error(`${name}: cannot read the secret file ${file}: ${FILE_ERRORS[code ?? ''] ?? 'unreadable'}${code ? ` (${code})` : ''}`);
    }
  }
}

/** A value of the top-level `credentials:`: its file if one is named, else the SDK environment variable. */
function topLevel(field: Field, file: string | undefined): FieldSource {
  const key = `credentials.${SNAKE[field]}_file`;
  if (file !== undefined) return { source: { file }, name: key, missing: field === 'securityToken' ? undefined : `${key}: not set, and the environment variable ${CREDENTIAL_ENV[field]} is empty` };
  return {
    source: { env: CREDENTIAL_ENV[field] },
    name: CREDENTIAL_ENV[field],
    missing: field === 'securityToken' ? undefined : `${key}: not set, and the environment variable ${CREDENTIAL_ENV[field]} is empty`,
  };
}
