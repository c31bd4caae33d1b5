/**
 * Request/response over a forked child's IPC channel: the benchmark runs every server it measures
 * in a child process of its own, so that load generator, simulator and server never share an
 * event loop, and a child's memory is its own.
 */
import { type ChildProcess, fork } from 'node:child_process';

type Handler = (args: any) => unknown;

interface Request {
  id: number;
  command: string;
  args: unknown;
}

interface Reply {
  id: number;
  result?: unknown;
  error?: string;
}

/** CPU time of the process so far (every child answers it: the parent waits for children to go idle). */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Child side: answers the parent's commands; the child exits when the parent goes away. */
export function serveCommands(handlers: Record<string, Handler>): void {
  if (!process.send) throw new Error('not started with an IPC channel (fork)');
  process.on('disconnect', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0)); // an orderly exit, so that --cpu-prof can write its profile
  process.on('message', (message: Request) => {
    const reply = (r: Reply): void => {
      process.send?.(r);
    };
    const handler = message.command === 'cpuMs' ? cpuMs : handlers[message.command];
    if (!handler) {
      reply({ id: message.id, error: `unknown command ${message.command}` });
      return;
    }
    Promise.resolve()
      .then(() => handler(message.args))
      .then(
        (result) => reply({ id: message.id, result }),
        (err: unknown) => reply({ id: message.id, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
      );
  });
  process.send({ id: 0, result: 'started' } satisfies Reply);
}

/** Parent side: a child process and its commands. */
export class Child {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  private readonly exited: Promise<void>;
  private readonly started: Promise<void>;

  private constructor(
    readonly name: string,
    readonly process: ChildProcess,
  ) {
    this.started = new Promise((resolve, reject) => {
      this.pending.set(0, { resolve: () => resolve(), reject });
    });
    process.on('message', (reply: Reply) => {
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if (reply.error !== undefined) p.reject(new Error(`${name}: ${reply.error}`));
      else p.resolve(reply.result);
    });
    this.exited = new Promise((resolve) => {
      process.once('exit', (code, signal) => {
        for (const p of this.pending.values()) p.reject(new Error(`${name} exited (${code ?? signal}) before answering`));
        this.pending.clear();
        resolve();
      });
    });
  }

  /**
   * Forks a compiled bench module as plain `node` (not under tsx: the parent's execArgv is not
   * inherited) with `--expose-gc`, and waits until it answers.
   */
  static async start(name: string, modulePath: string, args: unknown, execArgv: string[] = []): Promise<Child> {
    const child = new Child(
      name,
      fork(modulePath, [JSON.stringify(args)], { execArgv: ['--expose-gc', ...execArgv], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
    );
    await child.started;
    return child;
  }

  get pid(): number {
    return this.process.pid ?? -1;
  }

  request<T = any>(command: string, args: unknown = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.process.send({ id, command, args } satisfies Request);
    });
  }

  /** Waits (at most `maxMs`) until the child uses less than 10 % of a core, e.g. after a load that left work queued. */
  async idle(maxMs = 15_000): Promise<void> {
    const end = performance.now() + maxMs;
    while (performance.now() < end) {
      const before = await this.request<number>('cpuMs');
      await new Promise((r) => setTimeout(r, 250));
      if ((await this.request<number>('cpuMs')) - before < 25) return;
    }
  }

  /** Ends the child (by its pid) and waits for it to exit. */
  async stop(): Promise<void> {
    if (this.process.exitCode === null && this.process.signalCode === null) this.process.kill('SIGTERM');
    await this.exited;
  }
}

/** The JSON arguments a child was started with. */
export function childArgs<T>(): T {
  return JSON.parse(process.argv[2] ?? '{}') as T;
}
