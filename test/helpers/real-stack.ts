/**
 * What the real-stack end-to-end tests share (test/e2e/stack.test.ts, test/e2e/probes.test.ts): free ports, waiting
 * for a condition with diagnostics, child processes in their own process group, Alertmanager's webhook receiver,
 * and the Prometheus HTTP API.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import YAML from 'yaml';

/** A logger that prefixes each line with `[name +seconds since it was made]`. */
export function elapsedLog(name: string): (message: string) => void {
  const t0 = Date.now();
  return (message) => console.log(`[${name} +${((Date.now() - t0) / 1000).toFixed(1)}s] ${message}`);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Calls `probe` until it returns something other than undefined; fails with `what` and `diagnostics()`. */
export async function waitUntil<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  diagnostics: () => Promise<string>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}\n${await diagnostics()}`);
    }
    await sleep(200);
  }
}

/** A child process in its own process group, with its output kept for diagnostics. */
export class Service {
  readonly child: ChildProcess;
  private output = '';
  readonly exited: Promise<void>;

  constructor(readonly name: string, command: string, args: string[], options: SpawnOptions = {}) {
    this.child = spawn(command, args, { ...options, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer): void => {
      this.output = (this.output + chunk.toString()).slice(-20_000);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => {
      if (this.child.exitCode !== null) resolve();
      else this.child.once('exit', () => resolve());
    });
  }

  tail(chars = 2000): string {
    return `--- ${this.name} (pid ${this.child.pid}, exit ${this.child.exitCode ?? 'running'}) ---\n${this.output.slice(-chars)}`;
  }

  /** SIGTERM to the process group, SIGKILL after 5 s. */
  async stop(): Promise<void> {
    const pid = this.child.pid;
    if (pid === undefined || this.child.exitCode !== null || this.child.signalCode !== null) return;
    const signal = (s: NodeJS.Signals): void => {
      try {
        process.kill(-pid, s);
      } catch {
        // already gone
      }
    };
    signal('SIGTERM');
    const stopped = await Promise.race([this.exited.then(() => true), sleep(5000).then(() => false)]);
    if (!stopped) {
      signal('SIGKILL');
      await this.exited;
    }
  }
}

export interface ReceivedAlert {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** Alertmanager's webhook receiver. */
export class Webhook {
  readonly alerts: ReceivedAlert[] = [];
  private readonly server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      try {
        const payload = JSON.parse(body) as { alerts?: ReceivedAlert[] };
        for (const a of payload.alerts ?? []) {
          this.alerts.push({ status: a.status, labels: a.labels, annotations: a.annotations });
        }
      } catch {
        // not Alertmanager: ignore
      }
      res.writeHead(200).end('ok');
    });
  });

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as net.AddressInfo).port;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  find(status: ReceivedAlert['status'], alertname: string, labels: Record<string, string> = {}): ReceivedAlert | undefined {
    return this.alerts.find(
      (a) => a.status === status && a.labels.alertname === alertname && Object.entries(labels).every(([k, v]) => a.labels[k] === v),
    );
  }
}

export interface PromResult {
  metric: Record<string, string>;
  value?: [number, string];
  values?: [number, string][];
}

/** The Prometheus HTTP API at `baseUrl` (read when called, so it may be set after this is made). */
export class PrometheusApi {
  constructor(private readonly baseUrl: () => string) {}

  async get(pathAndQuery: string): Promise<unknown> {
    const res = await fetch(`${this.baseUrl()}${pathAndQuery}`);
    const body = (await res.json()) as { status: string; data: unknown; error?: string };
    if (body.status !== 'success') throw new Error(`Prometheus ${pathAndQuery}: ${body.error ?? res.status}`);
    return body.data;
  }

  async query(expr: string): Promise<PromResult[]> {
    return ((await this.get(`/api/v1/query?query=${encodeURIComponent(expr)}`)) as { result: PromResult[] }).result;
  }

  async queryRange(expr: string, seconds: number, step = 2): Promise<PromResult[]> {
    const end = Date.now() / 1000;
    const qs = new URLSearchParams({ query: expr, start: String(end - seconds), end: String(end), step: String(step) });
    return ((await this.get(`/api/v1/query_range?${qs.toString()}`)) as { result: PromResult[] }).result;
  }

  /** Firing and pending alerts, for diagnostics. */
  async alertsSummary(): Promise<string> {
    try {
      const alerts = (await this.get('/api/v1/alerts')) as { alerts: { labels: Record<string, string>; state: string }[] };
      return `Prometheus alerts: ${JSON.stringify(alerts.alerts.map((a) => ({ ...a.labels, state: a.state })))}`;
    } catch (err) {
      return `Prometheus alerts unavailable: ${(err as Error).message}`;
    }
  }
}

/** Alertmanager's configuration for the tests: every alert to the webhook at once, resolved ones too. */
export function alertmanagerConfig(hookPort: number): string {
  return YAML.stringify({
    route: { receiver: 'webhook', group_by: ['...'], group_wait: '1s', group_interval: '1s', repeat_interval: '1h' },
    receivers: [{ name: 'webhook', webhook_configs: [{ url: `http://127.0.0.1:${hookPort}/alerts`, send_resolved: true }] }],
  });
}

/** Alertmanager on 127.0.0.1:port with `workDir/alertmanager.yml`, without gossip. */
export function alertmanagerService(binary: string, workDir: string, port: number): Service {
  return new Service('alertmanager', binary, [
    `--config.file=${path.join(workDir, 'alertmanager.yml')}`,
    `--storage.path=${path.join(workDir, 'am')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--cluster.listen-address=',
    '--log.level=warn',
  ]);
}

/** Prometheus on 127.0.0.1:port with `workDir/prometheus.yml`. */
export function prometheusService(binary: string, workDir: string, port: number): Service {
  return new Service('prometheus', binary, [
    `--config.file=${path.join(workDir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${path.join(workDir, 'tsdb')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    // Without it an alert that fired before Alertmanager was ready is only resent a minute later.
    '--rules.alert.resend-delay=1s',
    '--log.level=warn',
  ]);
}
