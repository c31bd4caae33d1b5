import { createHash, timingSafeEqual } from 'node:crypto';
import bcrypt from 'bcryptjs';
import type { RequestHandler } from 'express';

/** A bcrypt hash of a password nobody has, compared against for unknown users so timing says nothing. */
const DUMMY_HASH = '$2b$10$NzLhDQOGnIwJc0xYbVn06.H2BUnPbu.H8.QPHzuzxx9UFqjynkWcK';

/**
 * bcrypt comparisons allowed at a time. One costs 70-85 ms of CPU at cost 10 (pure JavaScript, on
 * the event loop), so without a bound a dozen bad requests a second would starve polls and scrapes.
 * Requests beyond this are refused at once, like any other failure.
 */
const MAX_CONCURRENT_COMPARES = 2;
/** How long a failed (user, password) digest is refused without bcrypt, and how many are kept. */
const FAILED_TTL_MS = 10_000;
const FAILED_MAX = 1024;

/**
 * HTTP basic auth against bcrypt hashes, as in the exporter-toolkit web config.
 *
 * bcrypt is slow on purpose, so verified (user, password) pairs are remembered by a SHA-256
 * digest (the exporter-toolkit does the same): a scrape every few seconds costs one hash, not
 * one bcrypt. Failed digests are remembered for a few seconds, so a repeated wrong password costs no
 * bcrypt either, and at most MAX_CONCURRENT_COMPARES comparisons run at a time: a request that would
 * need one more is refused at once. Every failure answers 401 with no detail.
 */
export class BasicAuth {
  private readonly verified = new Map<string, string>();
  /** Hex digests of recently failed (user, password) pairs, to when they expire (in insertion order). */
  private readonly failed = new Map<string, number>();
  private comparing = 0;
  /**
   * What an unknown user's password is compared against: the costliest configured hash, so that
   * a wrong user name takes as long as a wrong password (a fixed cost-10 hash would answer faster
   * than cost-12 user hashes and tell which names exist). A match against it never lets anyone in.
   */
  private readonly unknownUserHash: string;

  constructor(
    private readonly users: Readonly<Record<string, string>>,
    private readonly realm = 'cph-exporter',
    private readonly now: () => number = () => performance.now(),
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
    const hex = digest.toString('hex');
    if ((this.failed.get(hex) ?? -Infinity) > this.now()) return false;
    if (this.comparing >= MAX_CONCURRENT_COMPARES) return false;
    this.comparing++;
    let ok: boolean;
    try {
      ok = await bcrypt.compare(creds.password, hash ?? this.unknownUserHash);
    } finally {
      this.comparing--;
    }
    if (ok && hash !== undefined) {
      this.verified.set(creds.user, hex);
      return true;
    }
    this.rememberFailure(hex);
    return false;
  }

  private rememberFailure(hex: string): void {
    const now = this.now();
    // Entries expire in insertion order: drop the expired ones (and the oldest beyond the cap) from the front.
    for (const [key, expires] of this.failed) {
      if (expires > now && this.failed.size < FAILED_MAX) break;
      this.failed.delete(key);
    }
    this.failed.delete(hex);
    this.failed.set(hex, now + FAILED_TTL_MS);
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
