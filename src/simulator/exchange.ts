/**
 * One request and its answer, as every room of the simulator sees it: the parsed URL, path parameters, the request
 * id, and the only ways to answer (`send`, `error`, `writeHead`), so that the gateway sees every status it answers
 * with. Also the waits (latency, hangs) that the simulator releases when it closes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';

/** An admin-route error: answered as `{"error": message}` with this status. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Pending waits of every request: released all at once when the simulator closes, hangs also when faults change. */
export class Waits {
  closing = false;
  constructor(private readonly setTimer: (fn: () => void, ms: number) => () => void) {}

  private readonly waiters = new Set<() => void>();
  private readonly hangs = new Set<() => void>();

  /** Waits until timeout (if any), close, client gone, or (`hang`) a `releaseHangs()`. */
  wait(req: IncomingMessage, ms: number | undefined, hang = false): Promise<void> {
    return new Promise<void>((resolve) => {
      let cancel: (() => void) | undefined;
      const done = (): void => {
        cancel?.();
        this.waiters.delete(done);
        this.hangs.delete(done);
        req.socket.off('close', done);
        resolve();
      };
      if (this.closing || req.socket.destroyed) {
        resolve();
        return;
      }
      if (ms !== undefined) cancel = this.setTimer(done, ms);
      this.waiters.add(done);
      if (hang) this.hangs.add(done);
      req.socket.once('close', done);
    });
  }

  /** Registers a wake-up to call on close (e.g. a stream waiting for 'drain'); returns its removal. */
  onClose(wake: () => void): () => void {
    this.waiters.add(wake);
    return () => this.waiters.delete(wake);
  }

  releaseHangs(): void {
    for (const wake of [...this.hangs]) wake();
  }

  closeAll(): void {
    this.closing = true;
    for (const wake of [...this.waiters]) wake();
  }
}

export class Exchange {
  readonly requestId = randomBytes(16).toString('hex');
  /** Path parameters of the matched route, decoded (`{project_id}` -> `params.project_id`). */
  params: Record<string, string> = {};
  /** The access key the gateway verified the request's signature with (undefined: unsigned route or not checked). */
  accessKey: string | undefined;
  /** Called once with the status of the answer, before it is sent (the gateway counts authentication outcomes). */
  onAnswer: ((status: number) => void) | undefined;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly url: URL,
    private readonly waits: Waits,
  ) {
    res.setHeader('X-Request-Id', this.requestId);
  }

  get method(): string {
    return this.req.method ?? 'GET';
  }

  /** A request header (the first one when repeated). */
  header(name: string): string | undefined {
    const v = this.req.headers[name.toLowerCase()];
    return Array.isArray(v) ? v[0] : v;
  }

  /** True once there is nobody left to answer: the simulator closes or the client went away. */
  gone(): boolean {
    return this.waits.closing || this.res.destroyed || this.req.socket.destroyed;
  }

  /** Resolves after `ms`, or at once when the simulator closes or the client goes away. */
  sleep(ms: number): Promise<void> {
    return ms > 0 ? this.waits.wait(this.req, ms) : Promise.resolve();
  }

  /** Resolves when the simulator closes, the client goes away, or faults are set or cleared. */
  hang(): Promise<void> {
    return this.waits.wait(this.req, undefined, true);
  }

  /** Registers a wake-up for close (see `Waits.onClose`). */
  onClose(wake: () => void): () => void {
    return this.waits.onClose(wake);
  }

  writeHead(status: number, headers: Record<string, string | number> = {}): void {
    const hook = this.onAnswer;
    this.onAnswer = undefined;
    hook?.(status);
    this.res.writeHead(status, headers);
  }

  send(status: number, body: string | Buffer, contentType = 'application/json', headers: Record<string, string | number> = {}): void {
    if (this.res.headersSent || this.res.destroyed) return;
    const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    this.writeHead(status, { 'Content-Type': contentType, 'Content-Length': buf.length, ...headers });
    this.res.end(buf);
  }

  /** The API's error body: `{"error_code", "error_msg", "request_id"}`. */
  error(status: number, code: string, msg: string, headers: Record<string, string | number> = {}): void {
    this.send(status, JSON.stringify({ error_code: code, error_msg: msg, request_id: this.requestId }), 'application/json', headers);
  }

  /** The request body as JSON (`{}` when empty); HttpError 413 / 400 when too large or not JSON. */
  async json(limit = 1 << 20): Promise<unknown> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of this.req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) throw new HttpError(413, 'body too large');
      chunks.push(chunk);
    }
    const text = Buffer.concat(chunks).toString('utf8').trim();
    if (text === '') return {};
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new HttpError(400, 'body is not valid JSON');
    }
  }
}

/** `v` as a JSON object, or HttpError 400. */
export function asObject(v: unknown): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new HttpError(400, 'body must be a JSON object');
  return v as Record<string, unknown>;
}

/**
 * A route table's path template (`/v1/{project_id}/cloud-phone/servers`) as a matcher: the decoded parameters, or
 * undefined when the path does not match (or a parameter is not valid percent-encoding).
 */
export function pathMatcher(template: string): (path: string) => Record<string, string> | undefined {
  const names: string[] = [];
  const source = template
    .split(/(\{[a-z_]+\})/)
    .map((part) => {
      const m = /^\{([a-z_]+)\}$/.exec(part);
      if (!m) return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(m[1] as string);
      return '([^/]+)';
    })
    .join('');
  const re = new RegExp(`^${source}$`);
  return (path) => {
    const m = re.exec(path);
    if (!m) return undefined;
    const params: Record<string, string> = {};
    try {
      names.forEach((name, i) => (params[name] = decodeURIComponent(m[i + 1] as string)));
    } catch {
      return undefined;
    }
    return params;
  };
}
