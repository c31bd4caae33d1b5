import { createHash, timingSafeEqual } from 'node:crypto';
import bcrypt from 'bcryptjs';
import type { RequestHandler } from 'express';

/** A bcrypt hash of a password nobody has, compared against for unknown users so timing says nothing. */
const DUMMY_HASH = '$2b$10$NzLhDQOGnIwJc0xYbVn06.H2BUnPbu.H8.QPHzuzxx9UFqjynkWcK';

/**
 * HTTP basic auth against bcrypt hashes, as in the exporter-toolkit web config.
 *
 * bcrypt is slow on purpose, so verified (user, password) pairs are remembered by a SHA-256
 * digest (the exporter-toolkit does the same): a scrape every few seconds costs one hash, not
 * one bcrypt. Failures are never cached and answer 401 with no detail.
 */
export class BasicAuth {
  private readonly verified = new Map<string, string>();
  /**
   * What an unknown user's password is compared against: the costliest configured hash, so that
   * a wrong user name takes as long as a wrong password (a fixed cost-10 hash would answer faster
   * than cost-12 user hashes and tell which names exist). A match against it never lets anyone in.
   */
  private readonly unknownUserHash: string;

  constructor(
    private readonly users: Readonly<Record<string, string>>,
    private readonly realm = 'cph-exporter',
  ) {
    let costliest = DUMMY_HASH;
    for (const h of Object.values(users)) if (roundsOf(h) > roundsOf(costliest)) costliest = h;
    this.unknownUserHash = costliest;
  }

  async check(header: string | undefined): Promise<boolean> {
    const creds = parseBasic(header);
    if (!creds) return false;
    const digest = createHash('sha256').update(`${creds.user}\0${creds.password}`).digest();
    const hash = Object.hasOwn(this.users, creds.user) ? this.users[creds.user] : undefined;
    const known = hash !== undefined ? this.verified.get(creds.user) : undefined;
    if (known !== undefined && hash !== undefined) {
      const a = Buffer.from(known, 'hex');
      if (a.length === digest.length && timingSafeEqual(a, digest)) return true;
    }
    const ok = await bcrypt.compare(creds.password, hash ?? this.unknownUserHash);
    if (ok && hash !== undefined) {
      this.verified.set(creds.user, digest.toString('hex'));
      return true;
    }
    return false;
  }

  /** Refuses every request without valid credentials (app.ts mounts the probes before it). */
  middleware(): RequestHandler {
    return (req, res, next) => {
      const refuse = (): void => {
        res.set('WWW-Authenticate', `Basic realm="${this.realm}", charset="UTF-8"`);
        res.status(401).type('text/plain').send('unauthorized\n');
      };
      this.check(req.headers.authorization).then((ok) => (ok ? next() : refuse()), refuse);
    };
  }
}

function roundsOf(hash: string): number {
  try {
    return bcrypt.getRounds(hash);
  } catch {
    return 0;
  }
}

function parseBasic(header: string | undefined): { user: string; password: string } | undefined {
  if (!header) return undefined;
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!m) return undefined;
  const decoded = Buffer.from(m[1] as string, 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i < 0) return undefined;
  return { user: decoded.slice(0, i), password: decoded.slice(i + 1) };
}
