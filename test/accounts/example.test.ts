import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/load.js';
import { KeyRing } from '../../src/credentials/accounts.js';

/* examples/accounts.yml is a complete multi-account configuration: valid, every account used, every kind of key source. */

const example = join(import.meta.dirname, '..', '..', 'examples', 'accounts.yml');

describe('examples/accounts.yml', () => {
  it('is valid, uses every account it defines, and shows files, variables and metadata keys', () => {
    const config = loadConfigFile(example);
    const used = new Set(config.targets.map((t) => t.account));
    expect(Object.keys(config.accounts).length).toBeGreaterThanOrEqual(3);
    for (const name of Object.keys(config.accounts)) expect(used.has(name), name).toBe(true);
    const kinds = Object.values(config.accounts).map((a) => (a.kind === 'metadata' ? 'metadata' : 'file' in a.accessKey ? 'file' : 'env'));
    expect(new Set(kinds)).toEqual(new Set(['file', 'env', 'metadata']));
  });

  it('needs nothing but its keys: with the variables set, only the (absent here) mounted secret files are missing', () => {
    const config = loadConfigFile(example);
    const problems = new KeyRing(config, { env: { LAB_AK: 'LABAK0001', LAB_SK: 'lab-sk' } }).check();
    expect(problems).toEqual([
      'accounts.prod.access_key_file: cannot read the secret file /etc/cph-exporter/prod/access-key: no such file (ENOENT)',
      'accounts.prod.secret_key_file: cannot read the secret file /etc/cph-exporter/prod/secret-key: no such file (ENOENT)',
    ]);
  });
});
