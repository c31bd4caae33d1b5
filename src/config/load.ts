import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import cron from 'node-cron';
import YAML from 'yaml';
import { describeIssues } from './issues.js';
import { type ConfigFile, ConfigFileSchema, RESOURCE_NAMES, type ResourceName } from './schema.js';
import { formatDuration } from './units.js';

/** A validated target: one project in one region. */
/** A target as configured: one project in one region, its id possibly left to discovery. */
export interface TargetSpec {
  /** Absent: discovered through IAM (`GET /v3/projects?name={region}`) with the target's key. */
  projectId?: string;
  region: string;
  /** Origin of the CPH API for this target. */
  endpoint: string;
  /** Name of the account (under `accounts:`) whose key lists this target; absent: the top-level credentials. */
  account?: string;
  /** IAM endpoint override for project discovery. */
  iamEndpoint?: string;
}

/** A target the poller lists: its project id configured or discovered. */
export interface Target extends TargetSpec {
  projectId: string;
}

/** A configuration whose every target has its project id (configured or discovered): what the poller runs. */
export type ResolvedConfig = Omit<Config, 'targets'> & { targets: readonly Target[] };

/** Where one credential value comes from: a file (re-read when it changes) or a named environment variable. */
export type ValueSource = { file: string } | { env: string };

/** A named credential set of `accounts:`. */
export type AccountConfig =
  | { kind: 'static'; accessKey: ValueSource; secretKey: ValueSource; securityToken?: ValueSource }
  /** Temporary AK/SK and security token from the ECS/CCE metadata service at `endpoint`. */
  | { kind: 'metadata'; endpoint: string };

/** The metadata service of ECS and CCE nodes (NOTES.md section 4b): link-local, plain HTTP by design. */
export const DEFAULT_METADATA_ENDPOINT = 'http://169.254.169.254';

export interface Config {
  targets: readonly TargetSpec[];
  credentials: { accessKeyFile?: string; secretKeyFile?: string; securityTokenFile?: string };
  accounts: Readonly<Record<string, AccountConfig>>;
  poll: {
    schedule: string;
    /** Shortest gap between two runs of the schedule. */
    intervalMs: number;
    concurrency: number;
    pageSize: number;
    maxPages: number;
    /** Poll deadline: in-flight calls are aborted after this long. */
    timeoutMs: number;
    /** A failing target's resource series are dropped when its last success is older than this. */
    maxStalenessMs: number;
    authFailureBackoffMs: number;
  };
  api: {
    requestsPerSecond: number;
    burst: number;
    connectTimeoutMs: number;
    requestTimeoutMs: number;
    maxRetries: number;
    maxResponseBytes: number;
  };
  /** What is listed for every target, in `RESOURCE_NAMES` order. */
  resources: readonly ResourceName[];
  metrics: { encodeServerInfo: boolean; phoneInfo: boolean };
}

/** The configuration as it is when every target names its project (benchmarks, tests); throws otherwise. */
export function withConfiguredProjects(config: Readonly<Config>): Readonly<ResolvedConfig> {
  const missing = config.targets.findIndex((t) => t.projectId === undefined);
  if (missing >= 0) throw new Error(`targets[${missing}]: project_id is left to discovery`);
  return config as Readonly<ResolvedConfig>;
}

/** Every problem found in a configuration, one line each, each naming its key. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
}

export function defaultEndpoint(region: string): string {
  return `https://cph.${region}.myhuaweicloud.com`;
}

/** The shortest gap between consecutive runs of a cron schedule, sampled over its next runs. */
export function scheduleIntervalMs(schedule: string): number {
  const task = cron.createTask(schedule, () => undefined);
  try {
    const runs = task.getNextRuns(64).map((d) => d.getTime());
    let min = Number.POSITIVE_INFINITY;
    for (let i = 1; i < runs.length; i++) min = Math.min(min, (runs[i] as number) - (runs[i - 1] as number));
    return Number.isFinite(min) ? min : 60_000;
  } finally {
    void task.destroy();
  }
}

/** Validates parsed YAML (or any object) into a frozen Config, or throws ConfigError listing every problem. */
export function parseConfig(raw: unknown): Readonly<Config> {
  // reportInput: the issues keep the value found, so that a wrongly typed value is not reported as missing.
  const parsed = ConfigFileSchema.safeParse(raw ?? {}, { reportInput: true });
  if (!parsed.success) throw new ConfigError(describeIssues(parsed.error.issues));
  return toModel(parsed.data);
}

function toModel(file: ConfigFile): Readonly<Config> {
  const problems: string[] = [];
  const seen = new Map<string, number>();
  file.targets.forEach((t, i) => {
    // Two targets left to discovery with the same key, region and IAM endpoint would discover the same project.
    const key = t.project_id !== undefined ? `${t.project_id}/${t.region}` : `?${t.account ?? ''}/${t.region}/${t.iam_endpoint ?? ''}`;
    const first = seen.get(key);
    if (first !== undefined) {
      problems.push(`targets[${i}]: duplicates targets[${first}] (${t.project_id !== undefined ? 'same project_id and region' : 'same region and account, project_id left to discovery'})`);
    } else seen.set(key, i);
    if (t.account !== undefined && !Object.hasOwn(file.accounts, t.account)) {
      const known = Object.keys(file.accounts);
      problems.push(`targets[${i}].account: unknown account "${t.account}" (${known.length > 0 ? `accounts: ${known.join(', ')}` : 'no accounts are defined'})`);
    }
  });

  const intervalMs = scheduleIntervalMs(file.poll.schedule);
  // Leave a fifth of the interval (at most 10 s) between the deadline and the next poll.
  const timeoutMs = file.poll.timeout ?? Math.max(100, intervalMs - Math.min(10_000, intervalMs / 5));
  if (timeoutMs >= intervalMs) {
    problems.push(`poll.timeout: ${formatDuration(timeoutMs)} must be shorter than the schedule's interval (${formatDuration(intervalMs)})`);
  }
  // A request that hangs until api.request_timeout must leave time for a retry before the deadline,
  // or retries (of 429, 5xx, timeouts, network errors) could never happen.
  const { request_timeout: requestTimeoutMs, max_retries: maxRetries } = file.api;
  const mustFit = Math.min(1 + maxRetries, 2);
  if (timeoutMs < intervalMs && requestTimeoutMs * mustFit > timeoutMs) {
    const deadline = file.poll.timeout === undefined ? `poll.timeout (${formatDuration(timeoutMs)}, from poll.schedule's ${formatDuration(intervalMs)} interval)` : `poll.timeout (${formatDuration(timeoutMs)})`;
    const fits = mustFit === 2 ? 'the first attempt and one retry (api.max_retries)' : 'one attempt';
    problems.push(
      `api.request_timeout: ${formatDuration(requestTimeoutMs)} is too long for ${deadline}: ${fits} must fit before the deadline; ` +
        `lower api.request_timeout to at most ${formatDuration(Math.floor(timeoutMs / mustFit))}, or raise poll.timeout to at least ${formatDuration(requestTimeoutMs * mustFit)} (with a longer poll.schedule interval)`,
    );
  }
  const maxStalenessMs = file.poll.max_staleness ?? Math.max(3 * intervalMs, 5 * 60_000);
  if (maxStalenessMs < intervalMs) {
    problems.push(`poll.max_staleness: ${formatDuration(maxStalenessMs)} must be at least the schedule's interval (${formatDuration(intervalMs)})`);
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const c = file.credentials;
  return deepFreeze({
    targets: file.targets.map((t) => ({
      ...(t.project_id !== undefined ? { projectId: t.project_id } : {}),
      region: t.region,
      endpoint: (t.endpoint ? new URL(t.endpoint).origin : undefined) ?? defaultEndpoint(t.region),
      ...(t.account !== undefined ? { account: t.account } : {}),
      ...(t.iam_endpoint !== undefined ? { iamEndpoint: new URL(t.iam_endpoint).origin } : {}),
    })),
    credentials: {
      ...(c.access_key_file ? { accessKeyFile: c.access_key_file } : {}),
      ...(c.secret_key_file ? { secretKeyFile: c.secret_key_file } : {}),
      ...(c.security_token_file ? { securityTokenFile: c.security_token_file } : {}),
    },
    accounts: Object.fromEntries(Object.entries(file.accounts).map(([name, a]) => [name, toAccount(a)])),
    poll: {
      schedule: file.poll.schedule,
      intervalMs,
      concurrency: file.poll.concurrency,
      pageSize: file.poll.page_size,
      maxPages: file.poll.max_pages,
      timeoutMs,
      maxStalenessMs,
      authFailureBackoffMs: file.poll.auth_failure_backoff,
    },
    api: {
      requestsPerSecond: file.api.requests_per_second,
      burst: file.api.burst,
      connectTimeoutMs: file.api.connect_timeout,
      requestTimeoutMs: file.api.request_timeout,
      maxRetries: file.api.max_retries,
      maxResponseBytes: file.api.max_response_bytes,
    },
    resources: RESOURCE_NAMES.filter((r) => file.resources.includes(r)),
    metrics: { encodeServerInfo: file.metrics.encode_server_info, phoneInfo: file.metrics.phone_info },
  });
}

function toAccount(a: ConfigFile['accounts'][string]): AccountConfig {
  if (a.metadata === true) return { kind: 'metadata', endpoint: a.metadata_endpoint ? new URL(a.metadata_endpoint).origin : DEFAULT_METADATA_ENDPOINT };
  // The schema guarantees one source for each key (and at most one for the token).
  const source = (file: string | undefined, env: string | undefined): ValueSource | undefined =>
    file !== undefined ? { file } : env !== undefined ? { env } : undefined;
  const securityToken = source(a.security_token_file, a.security_token_env);
  return {
    kind: 'static',
    accessKey: source(a.access_key_file, a.access_key_env) as ValueSource,
    secretKey: source(a.secret_key_file, a.secret_key_env) as ValueSource,
    ...(securityToken ? { securityToken } : {}),
  };
}

/** Parses YAML text; syntax errors become ConfigError lines with the position. */
export function parseConfigText(text: string): Readonly<Config> {
  const doc = YAML.parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(doc.errors.map((e) => `<yaml> line ${e.linePos?.[0]?.line ?? '?'}: ${e.message.split('\n')[0]}`));
  }
  return parseConfig(doc.toJS());
}

/** Reads and validates a configuration file. */
export function loadConfigFile(path: string): Readonly<Config> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`--config.file: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`]);
  }
  const config = parseConfigText(text);
  // Relative secret file paths are relative to the configuration file, as in Prometheus.
  const base = dirname(resolve(path));
  const absolute = (file: string): string => (isAbsolute(file) ? file : resolve(base, file));
  const credentials = Object.fromEntries(Object.entries(config.credentials).map(([key, file]) => [key, absolute(file)])) as Config['credentials'];
  const fromFile = (v: ValueSource): ValueSource => ('file' in v ? { file: absolute(v.file) } : v);
  const accounts = Object.fromEntries(
    Object.entries(config.accounts).map(([name, a]): [string, AccountConfig] => [
      name,
      a.kind === 'metadata'
        ? a
        : {
            kind: 'static',
            accessKey: fromFile(a.accessKey),
            secretKey: fromFile(a.secretKey),
            ...(a.securityToken ? { securityToken: fromFile(a.securityToken) } : {}),
          },
    ]),
  );
  return deepFreeze({ ...config, credentials, accounts });
}

function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
