#!/usr/bin/env node
import { readFileSync, realpathSync } from 'node:fs';
import { hostname } from 'node:os';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ConfigError, type Config, loadConfigFile, type TargetSpec } from './config/load.js';
import { isLoopback } from './config/schema.js';
import { KeyRing } from './credentials/accounts.js';
import { CredentialSource } from './credentials/static.js';
import { IAM_ENDPOINT_ENV } from './cph/iam.js';
import { ProjectDiscovery } from './discovery/projects.js';
import { createClient, type RunningExporter, startExporter } from './exporter.js';
import { createLogger, LOG_LEVELS, type LogLevel } from './log/logger.js';
import { parseListenAddress } from './server/listen.js';
import { selectShard, shardIndexFromHostname } from './sharding/rendezvous.js';
import { loadWebConfig, type WebConfig, WebConfigError } from './server/web-config.js';
import { VERSION } from './version.js';

export const DEFAULT_LISTEN_ADDRESS = ':9877';

const FLAGS = {
  'config.file': { type: 'string', help: 'Path to the YAML configuration file (required).' },
  'web.listen-address': { type: 'string', help: `Address to listen on for HTTP requests. Default ${DEFAULT_LISTEN_ADDRESS}.` },
  'web.config.file': { type: 'string', help: 'Path to a web configuration file (exporter-toolkit format) enabling TLS and/or basic auth.' },
  'log.level': { type: 'string', help: `Log level: ${LOG_LEVELS.join(', ')}. Default info.` },
  'shard.count': { type: 'string', help: 'Split the targets over this many exporters (rendezvous hashing of project_id and region). Default 1.' },
  'shard.index': {
    type: 'string',
    help: 'Which shard this exporter is, 0..count-1. Default: the ordinal at the end of $POD_NAME or the host name (a StatefulSet pod, e.g. cph-exporter-2).',
  },
  'web.enable-lifecycle': { type: 'boolean', help: 'Enable POST /-/reload (re-read the configuration file, as SIGHUP does).' },
  'check-config': { type: 'boolean', help: 'Validate the configuration (and credentials and web config) and exit.' },
  help: { type: 'boolean', short: 'h', help: 'Show this help and exit.' },
  version: { type: 'boolean', help: 'Show the version and exit.' },
} as const;

function usage(): string {
  const lines = Object.entries(FLAGS).map(([name, f]) => `  --${name}${f.type === 'string' ? '=VALUE' : ''}\n      ${f.help}`);
  return [
    'usage: cph-exporter --config.file=PATH [flags]',
    '',
    'Prometheus exporter for Huawei Cloud CPH encode servers.',
    '',
    'Flags:',
    ...lines,
    '',
    'Credentials: HUAWEICLOUD_SDK_AK, HUAWEICLOUD_SDK_SK and optional HUAWEICLOUD_SDK_SECURITY_TOKEN,',
    'or files named under `credentials:` in the configuration file.',
    '',
  ].join('\n');
}

interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

/**
 * Parses flags and configuration; returns an exit code, or starts the exporter and returns
 * a stop function. Every problem is reported before anything starts.
 */
export async function main(argv: string[], io: Io, env: NodeJS.ProcessEnv = process.env): Promise<number | { reload(): Promise<ReloadResult>; stop(): Promise<void> }> {
  let values: Record<string, string | boolean | undefined>;
  try {
    const options = Object.fromEntries(
      Object.entries(FLAGS).map(([k, f]) => [k, { type: f.type, ...('short' in f ? { short: f.short } : {}) }]),
    ) as Parameters<typeof parseArgs>[0] extends infer P ? (P extends { options?: infer O } ? O : never) : never;
    values = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as Record<string, string | boolean | undefined>;
  } catch (err) {
    io.stderr(`cph-exporter: ${(err as Error).message}\n\n${usage()}`);
    return 2;
  }
  if (values['help']) {
    io.stdout(usage());
    return 0;
  }
  if (values['version']) {
    io.stdout(`cph-exporter ${VERSION} (node ${process.version})\n`);
    return 0;
  }

  const problems: string[] = [];
  const level = (values['log.level'] as string | undefined) ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(level)) problems.push(`--log.level: must be one of ${LOG_LEVELS.join(', ')}`);
  const listenText = (values['web.listen-address'] as string | undefined) ?? DEFAULT_LISTEN_ADDRESS;
  const listenAddress = parseListenAddress(listenText);
  if (!listenAddress) problems.push(`--web.listen-address: "${listenText}" is not HOST:PORT`);

  const configFile = values['config.file'] as string | undefined;
  const shardProblems: string[] = [];
  const shard = parseShard(values, shardProblems, env);
  let config: Readonly<Config> | undefined;
  let credentials: CredentialSource | undefined;
  if (!configFile) problems.push('--config.file: required');
  else ({ config, credentials } = readConfig(configFile, shard, env, problems));
  problems.push(...shardProblems);

  let web: WebConfig | undefined;
  const webFile = values['web.config.file'] as string | undefined;
  if (webFile) {
    try {
      web = loadWebConfig(webFile);
    } catch (err) {
      if (!(err instanceof WebConfigError)) throw err;
      problems.push(...err.problems);
    }
  }

  if (problems.length > 0 || !config || !credentials || !listenAddress || !configFile) {
    io.stderr(`cph-exporter: invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}\n`);
    return 1;
  }
  if (values['check-config']) {
    const share = shard && shard.count > 1 ? ` (shard ${shard.index} of ${shard.count})` : '';
    // Targets without project_id: ask IAM now, as the exporter will, and show what it found.
    const discoveryProblems = await checkDiscovery(config, credentials, env, io, configFile);
    if (discoveryProblems.length > 0) {
      io.stderr(`cph-exporter: project discovery failed:\n${discoveryProblems.map((p) => `  ${p}`).join('\n')}\n`);
      return 1;
    }
    io.stdout(`configuration OK: ${config.targets.length} target(s)${share}, schedule "${config.poll.schedule}"\n`);
    return 0;
  }

  const log = createLogger(level as LogLevel);
  const running = { exporter: undefined as RunningExporter | undefined };
  const webText = webFile ? readText(webFile) : undefined;
  /**
   * Re-reads the configuration file, checked as at start-up: a valid one takes effect at the next poll,
   * an invalid one is rejected with the same messages and the running configuration stays.
   */
  const reload = async (): Promise<ReloadResult> => {
    const exporter = running.exporter;
    if (!exporter) return { ok: false, error: 'not started yet' };
    const reloadProblems: string[] = [];
    const next = readConfig(configFile, shard, env, reloadProblems);
    if (reloadProblems.length > 0 || !next.config) {
      exporter.metrics.configLoaded(false);
      log.error({ problems: reloadProblems }, 'configuration reload rejected; the running configuration stays');
      return { ok: false, error: `invalid configuration:\n${reloadProblems.map((p) => `  ${p}`).join('\n')}` };
    }
    const changed = exporter.applyConfig(next.config, next.credentials);
    exporter.metrics.configLoaded(true);
    log.info({ changed, targets: next.config.targets.length, schedule: next.config.poll.schedule }, 'configuration reloaded; it takes effect at the next poll');
    if (webFile && readText(webFile) !== webText) {
      log.warn({ file: webFile }, 'the web configuration file changed: TLS and basic auth changes need a restart (flags, such as the listen address, too)');
    }
    return { ok: true };
  };
  const exporter = await startExporter({
    config,
    credentials,
    env,
    listen: listenAddress,
    web,
    log,
    shard: shard && shard.count > 1 ? shard : undefined,
    ...(values['web.enable-lifecycle'] ? { reload } : {}),
  });
  running.exporter = exporter;
  return {
    reload,
    stop: async () => {
      log.info('shutting down');
      await exporter.stop();
    },
  };
}

/** Discovers the project of every target without project_id (printing each one found); returns the failures. */
async function checkDiscovery(config: Readonly<Config>, credentials: CredentialSource, env: NodeJS.ProcessEnv, io: Io, configFile: string): Promise<string[]> {
  if (config.targets.every((t) => t.projectId !== undefined)) return [];
  const client = createClient(config);
  const keys = new KeyRing(config, { env }, credentials);
  try {
    const discovery = new ProjectDiscovery({
      client: () => client,
      provider: (key) => keys.provider(key),
      env,
      now: Date.now,
      authBackoffMs: () => config.poll.authFailureBackoffMs,
    });
    const results = await discovery.resolve(config.targets);
    const problems: string[] = [];
    results.forEach((r, i) => {
      if (r.spec.projectId !== undefined) return;
      const who = `targets[${i}] (${r.spec.account !== undefined ? `account ${r.spec.account}, ` : ''}${r.spec.region})`;
      if (r.ok) io.stdout(`${who}: project ${r.target.projectId} (discovered)\n`);
      else problems.push(`${configFile}: ${who}.project_id: not set, and discovery failed: ${r.problem}`);
    });
    return problems;
  } finally {
    await client.close();
  }
}

export type ReloadResult = { ok: true } | { ok: false; error: string };

/** A file's text, or undefined when it cannot be read (only compared, to notice a change). */
function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * Loads and checks the configuration file, as at start-up and at every reload: the file itself, then
 * this shard's share of the targets, then every key they use. Problems are appended to `problems`,
 * those of the file's own keys prefixed with its name.
 */
function readConfig(
  configFile: string,
  shard: { index: number; count: number } | undefined,
  env: NodeJS.ProcessEnv,
  problems: string[],
): { config?: Readonly<Config>; credentials?: CredentialSource } {
  let config: Readonly<Config>;
  try {
    config = loadConfigFile(configFile);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems.map((p) => (p.startsWith('--') ? p : `${configFile}: ${p}`)));
    return {};
  }
  if (shard && shard.count > 1) {
    // A target left to discovery is placed by its account instead of its (not yet known) project.
    const shardId = (t: TargetSpec): string => t.projectId ?? `discover:${t.account ?? ''}`;
    const owned = new Set(selectShard(config.targets.map((t) => ({ project_id: shardId(t), region: t.region })), shard).map((k) => `${k.project_id}/${k.region}`));
    config = Object.freeze({ ...config, targets: Object.freeze(config.targets.filter((t) => owned.has(`${shardId(t)}/${t.region}`))) });
  }
  const iamEnv = env[IAM_ENDPOINT_ENV]?.trim();
  if (iamEnv && config.targets.some((t) => t.projectId === undefined && t.iamEndpoint === undefined)) {
    const url = URL.canParse(iamEnv) ? new URL(iamEnv) : undefined;
    if (!url || !(url.protocol === 'https:' || (url.protocol === 'http:' && isLoopback(url.hostname)))) {
      problems.push(`${IAM_ENDPOINT_ENV}: must be an https:// URL (http:// only on loopback), such as https://iam.cn-north-4.myhuaweicloud.com`);
      return {};
    }
  }
  const credentials = new CredentialSource(config.credentials, env);
  // Every key the targets use (the exporter builds its own ring, with logging).
  const keyProblems = new KeyRing(config, { env }, credentials).check();
  problems.push(...keyProblems.map((p) => (/^(credentials|accounts)\./.test(p) ? `${configFile}: ${p}` : p)));
  return keyProblems.length > 0 ? {} : { config, credentials };
}

function parseShard(values: Record<string, string | boolean | undefined>, problems: string[], env: NodeJS.ProcessEnv): { index: number; count: number } | undefined {
  const countText = values['shard.count'] as string | undefined;
  const indexText = values['shard.index'] as string | undefined;
  const count = countText === undefined ? 1 : Number(countText);
  if (!Number.isSafeInteger(count) || count < 1 || count > 1024) {
    problems.push('--shard.count: must be an integer from 1 to 1024');
    return undefined;
  }
  let index: number;
  if (indexText !== undefined) {
    index = Number(indexText);
  } else if (count > 1) {
    try {
      // POD_NAME (set by the Helm chart from the pod's metadata) also works with hostNetwork or a custom hostname.
      index = shardIndexFromHostname(env['POD_NAME'] || env['HOSTNAME'] || hostname());
    } catch (err) {
      problems.push(`--shard.index: not given, and ${(err as Error).message}`);
      return undefined;
    }
  } else {
    index = 0;
  }
  if (!Number.isSafeInteger(index) || index < 0 || index >= count) {
    problems.push(`--shard.index: must be an integer from 0 to ${count - 1} (--shard.count=${count})`);
    return undefined;
  }
  return { index, count };
}

/** Process entry point: exit codes, signals, and nothing crashing the process. */
async function cli(): Promise<void> {
  const io: Io = { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) };
  process.on('unhandledRejection', (reason) => {
    // Should never happen; log it without the object (it could hold request details) and keep serving.
    io.stderr(`{"level":"error","msg":"unhandled rejection","err":${JSON.stringify(String((reason as Error)?.name ?? reason))}}\n`);
  });
  let result: Awaited<ReturnType<typeof main>>;
  try {
    result = await main(process.argv.slice(2), io);
  } catch (err) {
    io.stderr(`cph-exporter: failed to start: ${(err as Error).message}\n`);
    process.exitCode = 1;
    return;
  }
  if (typeof result === 'number') {
    process.exitCode = result;
    return;
  }
  const running = result;
  let signalled = false;
  const onSignal = (): void => {
    if (signalled) return;
    signalled = true;
    running.stop().then(
      () => {
        process.exitCode = 0;
      },
      () => {
        process.exitCode = 1;
      },
    );
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  // SIGHUP re-reads the configuration file (Prometheus's convention); the outcome is logged and exposed as metrics.
  process.on('SIGHUP', () => void running.reload());
}

/** True when this file is the program node was started with (also through the npm bin symlink). */
function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return pathToFileURL(realpathSync(script)).href === import.meta.url;
  } catch {
    return false;
  }
}

// Run only as a program, not when imported by tests or the demo.
if (isEntryPoint()) void cli();
