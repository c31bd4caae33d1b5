/**
 * The resource exposition as scrapes send it, prepared once per poll: UTF-8 chunks, and the same
 * bytes gzip-compressed in the background. Every scrape then appends its own small part, the self
 * metrics, rendered per scrape so that they stay current.
 *
 * To append to compressed bytes without compressing them again, the resources are deflated with a
 * sync flush instead of a final block (the deflate stream stays open, byte-aligned); a scrape
 * deflates its part with a fresh compressor, which ends the stream, and writes the gzip trailer: the
 * CRC-32 of everything (continued from the resources' CRC) and the length. The result is one ordinary
 * gzip member (RFC 1952), the technique pigz uses to compress in parallel.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { promisify } from 'node:util';
import { constants, crc32, createDeflateRaw, deflateRaw as deflateRawCb, type ZlibOptions } from 'node:zlib';

const deflateRaw = promisify<Buffer, ZlibOptions, Buffer>(deflateRawCb);

/** Magic, deflate, no flags, no mtime, no extra flags, OS unknown-Unix (what zlib's gzip writes). */
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03]);

/** CRC-32 is computed on the event loop: at most this many bytes between two yields (about 1 ms). */
const CRC_CHUNK = 2 * 1024 * 1024;

/** A gzip stream of some bytes, not yet ended: header and deflate blocks up to a sync flush. */
export interface OpenGzip {
  readonly head: Buffer;
  /** CRC-32 of the uncompressed bytes. */
  readonly crc: number;
  /** Length of the uncompressed bytes. */
  readonly length: number;
}

export interface PreparedExposition {
  /** The exposition as UTF-8 chunks, to be sent one after the other. */
  readonly chunks: readonly Buffer[];
  readonly length: number;
  /** The same bytes as an open gzip stream; compressed off the event loop, started at once. */
  readonly gzip: Promise<OpenGzip>;
}

export function prepareExposition(chunks: readonly Buffer[]): PreparedExposition {
  const gzip = openGzip(chunks);
  // A rejection is seen by the scrapes that await it; don't let it count as unhandled meanwhile.
  gzip.catch(() => undefined);
  return { chunks, length: chunks.reduce((n, c) => n + c.length, 0), gzip };
}

async function openGzip(chunks: readonly Buffer[]): Promise<OpenGzip> {
  const deflated: Buffer[] = [GZIP_HEADER];
  const deflating = pipeline(Readable.from(chunks), createDeflateRaw({ finishFlush: constants.Z_SYNC_FLUSH }), async (out: AsyncIterable<Buffer>) => {
    for await (const piece of out) deflated.push(piece);
  });
  let crc = 0;
  let length = 0;
  let sinceYield = 0;
  for (const chunk of chunks) {
    for (let i = 0; i < chunk.length; i += CRC_CHUNK) {
      const piece = chunk.subarray(i, i + CRC_CHUNK);
      crc = crc32(piece, crc);
      sinceYield += piece.length;
      if (sinceYield >= CRC_CHUNK) {
        sinceYield = 0;
        await yieldToEventLoop();
      }
    }
    length += chunk.length;
  }
  await deflating;
  return { head: Buffer.concat(deflated), crc, length };
}

/** Ends an open gzip stream with `tail`: the gzip of the open stream's bytes followed by `tail`, as chunks. */
export async function closeGzip(open: OpenGzip, tail: Buffer): Promise<Buffer[]> {
  // CRC first: on Node 20, crc32() of an empty buffer that went through async zlib returns 0.
  const crc = crc32(tail, open.crc);
  const deflated = await deflateRaw(tail, {});
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc, 0);
  trailer.writeUInt32LE((open.length + tail.length) % 2 ** 32, 4);
  return [open.head, deflated, trailer];
}
