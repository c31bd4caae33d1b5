import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Express } from 'express';
import type { WebConfig } from './web-config.js';

export interface ListenAddress {
  host: string | undefined;
  port: number;
}

/** Parses `HOST:PORT`, `:PORT` (all interfaces) or `[::1]:PORT`. */
export function parseListenAddress(text: string): ListenAddress | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  const host = m[1] ?? m[2];
  return { host: host === '' ? undefined : host, port };
}

export interface RunningServer {
  server: http.Server;
  /** The address actually bound (useful with port 0). */
  address: AddressInfo;
  url: string;
  close(graceMs?: number): Promise<void>;
}

/**
 * Starts the HTTP(S) server with timeouts that keep slow or idle clients from holding it:
 * a client gets 10 s to send its headers and 30 s for the whole request.
 */
export async function listen(app: Express, where: ListenAddress, web: WebConfig = {}): Promise<RunningServer> {
  const options: http.ServerOptions = { headersTimeout: 10_000, requestTimeout: 30_000, keepAliveTimeout: 30_000 };
  let handler: http.RequestListener = app;
  if (web.tls && (web.clientAuthType === 'RequireAnyClientCert' || web.clientAuthType === 'VerifyClientCertIfGiven')) {
    const mode = web.clientAuthType;
    // Node's TLS can only "request" or "require and verify"; the two modes in between are checked here.
    handler = (req, res) => {
      const socket = req.socket as TLSSocket;
      const cert = socket.getPeerCertificate();
      const presented = cert && Object.keys(cert).length > 0;
      const ok = mode === 'RequireAnyClientCert' ? presented : !presented || socket.authorized;
      if (!ok) {
        res.writeHead(403, { 'Content-Type': 'text/plain' }).end('client certificate required\n');
        return;
      }
      app(req, res);
    };
  }
  const server = web.tls ? https.createServer({ ...options, ...web.tls }, handler) : http.createServer(options, handler);
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(where.port, where.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    server,
    address,
    url: `${web.tls ? 'https' : 'http'}://${host}:${address.port}`,
    close: (graceMs = 5_000) =>
      new Promise<void>((resolve) => {
        const force = setTimeout(() => server.closeAllConnections(), graceMs);
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
