/**
 * Project discovery for targets without `project_id` (NOTES.md section 3): the SDKs' IAM call, made with the
 * target's own key, its answer cached for as long as the key, region and IAM endpoint stay the same (the SDKs
 * cache it per AK and region). A target whose discovery fails is left out of polling and reported, alone;
 * it is tried again at the next poll, or after the key's authentication back-off when IAM refused the key.
 */
import type { Target, TargetSpec } from '../config/load.js';
import type { AttemptGate, CallOptions } from '../cph/client.js';
import { failureReasonOf } from '../cph/errors.js';
import { chooseProject, type IamProject, iamEndpointFor } from '../cph/iam.js';
import type { CredentialProvider } from '../credentials/provider.js';
import { type KeyName, keyOf } from '../credentials/keys.js';

export interface DiscoveryDeps {
  /** The client of the moment (a reload may replace it). */
  client: () => { listProjects(iamEndpoint: string, region: string, call: CallOptions): Promise<IamProject[]> };
  provider: (key: KeyName) => CredentialProvider;
  env: NodeJS.ProcessEnv;
  now: () => number;
  /** How long IAM is not asked again with a key it refused (401/403), as `poll.auth_failure_backoff`. */
  authBackoffMs: () => number;
  /**
   * The key's policy gate (the poller's): IAM's 401s count toward the same gateway run as the CPH calls', so a
   * wrong key costs one failed authentication per back-off window in all, discovery included.
   */
  gate?: ((key: KeyName) => AttemptGate) | undefined;
}

/** The outcome of one target's discovery. */
export type Discovery = { spec: TargetSpec; ok: true; target: Target; discovered: boolean } | { spec: TargetSpec; ok: false; problem: string };

export class ProjectDiscovery {
  private readonly found = new Map<string, string>();
  /** Per key: until when IAM is not asked again after refusing it. */
  private readonly refusedUntil = new Map<KeyName, number>();
  /** The last failure of each (key, region, IAM endpoint), repeated while IAM is not asked. */
  private readonly failures = new Map<string, string>();
  /** One IAM call at a time per key: a refused key costs one failed authentication, not one per target. */
  private readonly queues = new Map<KeyName, Promise<unknown>>();

  constructor(private readonly deps: DiscoveryDeps) {}

  private cacheKey(spec: TargetSpec): string {
    return `${keyOf(spec)}\0${spec.region}\0${iamEndpointFor(spec, this.deps.env)}`;
  }

  /** The target as known now: configured, or discovered before; undefined when its project is not known yet. */
  known(spec: TargetSpec): Target | undefined {
    if (spec.projectId !== undefined) return spec as Target;
    const projectId = this.found.get(this.cacheKey(spec));
    return projectId === undefined ? undefined : { ...spec, projectId };
  }

  /** Resolves every spec, asking IAM for those not known yet. Never throws. */
  async resolve(specs: readonly TargetSpec[], signal?: AbortSignal): Promise<Discovery[]> {
    return Promise.all(specs.map((spec) => this.resolveOne(spec, signal)));
  }

  private async resolveOne(spec: TargetSpec, signal?: AbortSignal): Promise<Discovery> {
    const known = this.known(spec);
    if (known) return { spec, ok: true, target: known, discovered: spec.projectId === undefined };
    const key = keyOf(spec);
    const cacheKey = this.cacheKey(spec);
    const run = (this.queues.get(key) ?? Promise.resolve()).then(async (): Promise<Discovery> => {
      const again = this.known(spec);
      if (again) return { spec, ok: true, target: again, discovered: true };
      if ((this.refusedUntil.get(key) ?? 0) > this.deps.now()) {
        return { spec, ok: false, problem: this.failures.get(cacheKey) ?? 'IAM refused this key; not asked again before the authentication back-off ends' };
      }
      const iam = iamEndpointFor(spec, this.deps.env);
      try {
        const credentials = await this.deps.provider(key).get();
        const projects = await this.deps.client().listProjects(iam, spec.region, { credentials: () => credentials, signal, key, gate: this.deps.gate?.(key) });
        const choice = chooseProject(projects, spec.region);
        if (!choice.ok) return this.failed(spec, cacheKey, `${iam}: ${choice.problem}`);
        this.found.set(cacheKey, choice.projectId);
        this.failures.delete(cacheKey);
        return { spec, ok: true, target: { ...spec, projectId: choice.projectId }, discovered: true };
      } catch (err) {
        if (failureReasonOf(err) === 'auth') this.refusedUntil.set(key, this.deps.now() + this.deps.authBackoffMs());
        return this.failed(spec, cacheKey, `${iam}: ${err instanceof Error ? err.message : String(err)}`);
      }
    });
    this.queues.set(key, run.catch(() => undefined));
    return run;
  }

  private failed(spec: TargetSpec, cacheKey: string, problem: string): Discovery {
    this.failures.set(cacheKey, problem);
    return { spec, ok: false, problem };
  }
}
