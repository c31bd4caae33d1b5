import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CredentialSource } from '../../src/credentials/static.js';
import { signRequest } from '../../src/cph/signer.js';

/*
 * Keys the request signer would refuse on every poll are refused at start-up (check) and when a
 * poll asks for them (get), naming the key or environment variable, never the value.
 */

const GOOD = { HUAWEICLOUD_SDK_AK: 'AKGOOD0123', HUAWEICLOUD_SDK_SK: 'SKGOOD0123' };

function secretFiles(values: { ak?: string; sk?: string; token?: string }): { accessKeyFile: string; secretKeyFile: string; securityTokenFile?: string } {
  const dir = mkdtempSync(join(tmpdir(), 'cph-credentials-'));
  const write = (name: string, value: string): string => {
    writeFileSync(join(dir, name), value);
    return join(dir, name);
  };
  return {
    accessKeyFile: write('ak', values.ak ?? 'AKGOOD0123\n'),
    secretKeyFile: write('sk', values.sk ?? 'SKGOOD0123\n'),
    ...(values.token !== undefined ? { securityTokenFile: write('token', values.token) } : {}),
  };
}

/** Whether the signer refuses these credentials (the behaviour the checks must match). */
function signerRefuses(credentials: { accessKey: string; secretKey: string; securityToken?: string }): boolean {
  try {
    signRequest({ method: 'GET', url: new URL('https://cph.cn-north-4.myhuaweicloud.com/v1/p/cloud-phone/encode-servers') }, credentials);
    return false;
  } catch {
    return true;
  }
}

const BAD_ACCESS_KEYS = ['AK WITH SPACE', 'AK,COMMA', 'AK=EQUALS', 'AK\tTAB', 'AK\nNEWLINE', 'AK\u00a0NBSP'];
const BAD_TOKENS = ['token\nline2', 'token\r\nline2', 'token\u0001ctl', 'tökén'];

describe('credentials the signer cannot use', () => {
  it.each(BAD_ACCESS_KEYS)('an access key file with %j is a start-up problem naming the key, not the value', (ak) => {
    const source = new CredentialSource(secretFiles({ ak }), {});
    const problems = source.check();
    expect(problems).toEqual(['credentials.access_key_file: the access key contains whitespace, "," or "="']);
    expect(() => source.get()).toThrow(/^credentials\.access_key_file: the access key contains whitespace, "," or "="$/);
  });

  it('an access key from the environment names the environment variable', () => {
    const source = new CredentialSource({}, { ...GOOD, HUAWEICLOUD_SDK_AK: 'AK,SECRET-LOOKING' });
    expect(source.check()).toEqual(['HUAWEICLOUD_SDK_AK: the access key contains whitespace, "," or "="']);
    expect(() => source.get()).toThrow('HUAWEICLOUD_SDK_AK: the access key contains whitespace, "," or "="');
  });

  it.each(BAD_TOKENS)('a security token with %j is refused, from a file or the environment', (token) => {
    const problem = 'the security token contains a line break or another character that is not printable ASCII';
    const fromFile = new CredentialSource(secretFiles({ token }), {});
    expect(fromFile.check()).toEqual([`credentials.security_token_file: ${problem}`]);
    expect(() => fromFile.get()).toThrow(`credentials.security_token_file: ${problem}`);
    const fromEnv = new CredentialSource({}, { ...GOOD, HUAWEICLOUD_SDK_SECURITY_TOKEN: token });
    expect(fromEnv.check()).toEqual([`HUAWEICLOUD_SDK_SECURITY_TOKEN: ${problem}`]);
    expect(() => fromEnv.get()).toThrow(`HUAWEICLOUD_SDK_SECURITY_TOKEN: ${problem}`);
  });

  it('a key rotated to an unusable value is refused, not replaced by the previous one', () => {
    const files = secretFiles({});
    const source = new CredentialSource(files, {});
    expect(source.get().accessKey).toBe('AKGOOD0123');
    writeFileSync(files.accessKeyFile, 'AK=ROTATED\n');
    expect(() => source.get()).toThrow('credentials.access_key_file: the access key contains whitespace, "," or "="');
    writeFileSync(files.accessKeyFile, 'AKFIXED01\n');
    expect(source.get().accessKey).toBe('AKFIXED01');
  });

  it('agrees with the signer on every sample: refused at start-up exactly when signing would throw', () => {
    const samples: Array<{ accessKey: string; secretKey: string; securityToken?: string }> = [
      ...BAD_ACCESS_KEYS.map((accessKey) => ({ accessKey, secretKey: 'SK' })),
      ...BAD_TOKENS.map((securityToken) => ({ accessKey: 'AK', secretKey: 'SK', securityToken })),
      // The signer takes any non-empty secret key (an HMAC key, never sent) and a token with spaces and tabs.
      { accessKey: 'AK', secretKey: 'SK WITH, SPACE=AND\tTAB' },
      { accessKey: 'AK', secretKey: 'SK', securityToken: 'token with\tspace and tab !"#~' },
      { accessKey: 'AK-_.~+/0123', secretKey: 'SK' },
    ];
    for (const sample of samples) {
      const env = {
        HUAWEICLOUD_SDK_AK: sample.accessKey,
        HUAWEICLOUD_SDK_SK: sample.secretKey,
        ...(sample.securityToken !== undefined ? { HUAWEICLOUD_SDK_SECURITY_TOKEN: sample.securityToken } : {}),
      };
      const problems = new CredentialSource({}, env).check();
      expect(problems.length > 0, JSON.stringify(sample)).toBe(signerRefuses(sample));
      for (const p of problems) expect(p).not.toContain(sample.accessKey);
    }
  });
});

describe('account keys', () => {
  const account = (env: string | undefined): Parameters<typeof CredentialSource.forAccount>[1] => ({
    kind: 'static',
    accessKey: { env: 'LAB_AK' },
    secretKey: env === undefined ? { env: 'LAB_SK' } : { file: env },
  });

  it('read from the variables the account names, not from HUAWEICLOUD_SDK_*', () => {
    const source = CredentialSource.forAccount('lab', account(undefined), { LAB_AK: 'LABAK01', LAB_SK: 'LABSK01', ...GOOD });
    expect(source.check()).toEqual([]);
    expect(source.get()).toEqual({ accessKey: 'LABAK01', secretKey: 'LABSK01' });
  });

  it('an empty variable names the account key and the variable, never falling back to the SDK variables', () => {
    const source = CredentialSource.forAccount('lab', account(undefined), { ...GOOD });
    expect(source.check()).toEqual([
      'accounts.lab.access_key_env: the environment variable LAB_AK is empty',
      'accounts.lab.secret_key_env: the environment variable LAB_SK is empty',
    ]);
    expect(() => source.get()).toThrow();
  });

  it('an unusable value names the account key and the variable, not the value', () => {
    const source = CredentialSource.forAccount('lab', account(undefined), { LAB_AK: 'AK,SECRET-LOOKING', LAB_SK: 'x' });
    expect(source.check()).toEqual(['accounts.lab.access_key_env (LAB_AK): the access key contains whitespace, "," or "="']);
  });

  it('a secret key file is re-read when it changes (rotation)', () => {
    const files = secretFiles({ sk: 'FIRST-SK\n' });
    const source = CredentialSource.forAccount('lab', account(files.secretKeyFile), { LAB_AK: 'LABAK01' });
    expect(source.get().secretKey).toBe('FIRST-SK');
    writeFileSync(files.secretKeyFile, 'ROTATED-SK-LONGER\n');
    expect(source.get().secretKey).toBe('ROTATED-SK-LONGER');
  });
});
