/**
 * Stream helpers for the interop tests: the Go peer's test pattern, writing and checking it, and
 * an echo handler that records each stream's result.
 */

import { write } from '../helpers/streams.ts'
import type { MuxadoMuxer, MuxadoStream } from '../../src/index.ts'
import type { Stream } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'

/** Bytes per send() call when writing the pattern */
export const WRITE_CHUNK = 32 * 1024

/** base[j] = j & 0xff: every window of the pattern is a view of it */
const BASE = new Uint8Array(WRITE_CHUNK + 256).map((_, j) => j & 0xff)

/** Byte k of stream index i is (i*31 + k) & 0xff (go-peer/main.go) */
export function patternByte (index: number, offset: number): number {
  return (index * 31 + offset) & 0xff
}

/** `length` (≤ WRITE_CHUNK) pattern bytes of stream `index` from `offset`, as a view */
export function patternChunk (index: number, offset: number, length: number): Uint8Array {
  if (length > WRITE_CHUNK) { throw new RangeError('pattern chunk too long') }
  const start = patternByte(index, offset)
  return BASE.subarray(start, start + length)
}

/** The whole Go pattern of one stream, as a fresh buffer */
export function goPattern (index: number, length: number): Uint8Array {
  const out = new Uint8Array(length)
  for (let k = 0; k < length; k++) { out[k] = patternByte(index, k) }
  return out
}

/** Write `length` bytes of stream `index`'s pattern in WRITE_CHUNK pieces, with backpressure */
export async function writePattern (stream: Stream, index: number, length: number): Promise<void> {
  for (let offset = 0; offset < length; offset += WRITE_CHUNK) {
    await write(stream, patternChunk(index, offset, Math.min(WRITE_CHUNK, length - offset)))
  }
}

/** Checks a byte stream against a pattern as it arrives, without keeping it */
export class PatternChecker {
  readonly index: number
  received = 0
  /** the first offset that differs, or -1 */
  firstMismatch = -1

  constructor (index: number) {
    this.index = index
  }

  push (chunk: Uint8Array | Uint8ArrayList): void {
    const bufs = chunk instanceof Uint8Array ? [chunk] : [...chunk]
    for (const buf of bufs) {
      if (this.firstMismatch < 0) { this.check(buf) }
      this.received += buf.byteLength
    }
  }

  /** compare `buf` (at offset `received`) with the pattern, a native compare per piece */
  private check (buf: Uint8Array): void {
    for (let pos = 0; pos < buf.byteLength; pos += WRITE_CHUNK) {
      const piece = buf.subarray(pos, pos + WRITE_CHUNK)
      const expected = patternChunk(this.index, this.received + pos, piece.byteLength)
      if (Buffer.compare(piece, expected) === 0) { continue }
      for (let j = 0; j < piece.byteLength; j++) {
        if (piece[j] !== expected[j]) {
          this.firstMismatch = this.received + pos + j
          return
        }
      }
    }
  }

  /** undefined if exactly `length` bytes of the pattern arrived, else what went wrong */
  problem (length: number): string | undefined {
    if (this.firstMismatch >= 0) { return `pattern ${this.index}: mismatch at offset ${this.firstMismatch} (received ${this.received} of ${length})` }
    if (this.received !== length) { return `pattern ${this.index}: received ${this.received} of ${length} bytes` }
    return undefined
  }
}

/** Read until the end, checking against stream index `index`'s pattern */
export async function readPattern (stream: Stream, index: number): Promise<PatternChecker> {
  const checker = new PatternChecker(index)
  for await (const chunk of stream) { checker.push(chunk) }
  return checker
}

export interface EchoResult {
  id: number
  streamType: number
  bytes: number
  error?: Error
}

/** Echo until the remote's FIN, then close our write end (the FIN back) */
export async function echo (stream: MuxadoStream): Promise<EchoResult> {
  let bytes = 0
  try {
    for await (const chunk of stream) {
      bytes += chunk.byteLength
      await write(stream, chunk)
    }
    await stream.close()
    return { id: stream.streamId, streamType: stream.streamType, bytes }
  } catch (err: any) {
    return { id: stream.streamId, streamType: stream.streamType, bytes, error: err }
  }
}

/** Collects the echo of every stream a muxer accepts */
export class EchoServer {
  readonly results: Array<Promise<EchoResult>> = []
  readonly streams: MuxadoStream[] = []

  /** a `StreamHandler` for tcp.ts */
  readonly handler = (stream: MuxadoStream): void => {
    this.streams.push(stream)
    this.results.push(echo(stream))
  }

  async settled (): Promise<EchoResult[]> {
    return Promise.all(this.results)
  }
}

export interface CheckResult {
  id: number
  index: number
  problem?: string
  error?: Error
}

/**
 * Open a stream, write the pattern with backpressure, half-close, read the echo concurrently
 * and compare (what the Go peer's -streams does, from our side).
 */
export async function openAndCheck (muxer: MuxadoMuxer, index: number, length: number): Promise<CheckResult> {
  const stream = await muxer.createStream()
  const reading = readPattern(stream, index)
  reading.catch(() => {}) // awaited below; this only keeps an early rejection from being "unhandled"
  // a write error (the stream reset) is reported with the read result
  let writeError: Error | undefined
  try {
    await writePattern(stream, index, length)
    await stream.close()
  } catch (err: any) {
    writeError = err
  }
  try {
    const checker = await reading
    return { id: stream.streamId, index, error: writeError, problem: checker.problem(length) }
  } catch (err: any) {
    return { id: stream.streamId, index, error: err }
  }
}

/** Open `count` streams at once (ids in index order), check them all concurrently */
export async function openAndCheckMany (muxer: MuxadoMuxer, count: number, length: number): Promise<CheckResult[]> {
  const checks: Array<Promise<CheckResult>> = []
  for (let i = 0; i < count; i++) { checks.push(openAndCheck(muxer, i, length)) }
  return Promise.all(checks)
}

/** The checks that failed, as text (empty when everything passed) */
export function failures (results: CheckResult[]): string[] {
  return results
    .filter(r => r.error != null || r.problem != null)
    .map(r => `stream ${r.id}: ${r.error != null ? `${r.error.name}: ${r.error.message}` : ''}${r.problem ?? ''}`)
}
