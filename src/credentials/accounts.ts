import type { Config } from '../config/load.js';
import { MetadataCredentials, type MetadataCredentialsOptions } from './metadata.js';
import { DEFAULT_KEY, describeKey, type KeyName, keyOf } from './keys.js';
import type { CredentialProvider } from './provider.js';
import { CredentialSource } from './static.js';

export interface KeyRingOptions {
  env?: NodeJS.ProcessEnv;
  now?: () => number;
  onMetadataEvent?: (account: string, event: Parameters<NonNullable<MetadataCredentialsOptions['onEvent']>>[0]) => void;
}

/** One credential provider per key the configured targets use. */
export class KeyRing {
  private readonly providers = new Map<KeyName, CredentialProvider & { check?(): string[] }>();

  /** `defaultProvider` replaces the top-level credentials (tests, and a provider built before). */
  constructor(config: Pick<Config, 'credentials' | 'accounts' | 'targets'>, options: KeyRingOptions = {}, defaultProvider?: CredentialProvider) {
    const env = options.env ?? process.env;
    const used = new Set(config.targets.map(keyOf));
    if (used.has(DEFAULT_KEY)) this.providers.set(DEFAULT_KEY, defaultProvider ?? new CredentialSource(config.credentials, env));
    for (const [name, account] of Object.entries(config.accounts)) {
      this.providers.set(
        name,
        account.kind === 'static'
          ? CredentialSource.forAccount(name, account, env)
          : new MetadataCredentials({
              account: name,
              endpoint: account.endpoint,
              ...(options.now ? { now: options.now } : {}),
              ...(options.onMetadataEvent ? { onEvent: (e) => options.onMetadataEvent?.(name, e) } : {}),
            }),
      );
    }
  }

  /** The provider of a key; throws for a key no target was configured with (a programming error). */
  provider(key: KeyName): CredentialProvider {
    const provider = this.providers.get(key);
    if (!provider) throw new Error(`no credentials for ${describeKey(key)}`);
    return provider;
  }

  /**
   * Problems that make a key unusable, checked before anything starts: unreadable files, empty
   * variables, values the signer would refuse. Metadata keys are fetched at the first poll.
   */
  check(): string[] {
    return [...this.providers.values()].flatMap((p) => p.check?.() ?? []);
  }
}
