import type { Credentials } from '../cph/types.js';

/**
 * Where a key's credentials come from at the moment of a request. Implementations re-read or
 * refresh as they need; a thrown error's message names the config key, file, variable or endpoint
 * involved, never a secret.
 */
export interface CredentialProvider {
  get(): Credentials | Promise<Credentials>;
}
