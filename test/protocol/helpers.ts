import { Uint8ArrayList } from 'uint8arraylist'
import { ErrorCode, Flag, FrameDecoder, FrameType, encodeGoaway, encodeRst, encodeSyn, encodeWndinc } from '../../src/protocol/index.ts'
import encoderRejects from '../fixtures/vectors/encoder-rejects.json' with { type: 'json' }
import frames from '../fixtures/vectors/frames.json' with { type: 'json' }
import malformed from '../fixtures/vectors/malformed.json' with { type: 'json' }
import sessionTrace from '../fixtures/vectors/session-trace.json' with { type: 'json' }
import { concatBytes, dataFrame, fromHex, toHex } from '../helpers/bytes.ts'
import type { FrameHandler } from '../../src/protocol/index.ts'

/** A payload generator: the bytes of `repeat` repeated and cut to `bytes` bytes */
/** Every muxado v1 error code (a numeric enum's values also hold its names) */
export const errorCodes = Object.values(ErrorCode).filter((value): value is ErrorCode => typeof value === 'number')

export interface PayloadGenerator {
  repeat: string
  bytes: number
}

/** Frame fields as the vector files write them */
export interface VectorFrame {
  type: number
  typeName?: string
  flags: number
  length: number
  streamId: number
  priority?: number
  streamType?: number
  errorCode?: number
  increment?: number
  lastStreamId?: number
  payloadHex?: string
  payload?: PayloadGenerator
}

export interface FrameVector {
  name: string
  hex: string
  payload?: PayloadGenerator
  totalBytes: number
  frame: VectorFrame
  roundTrip: boolean
  tsEncodeHex?: string
  goReadFollowedBy?: { followHex: string }
}

export interface MalformedExpectation {
  action: 'session-error' | 'accept' | 'need-more'
  goawayCode?: number
  decideAfterBytes?: number
  frame?: VectorFrame
  consume?: number
}

export interface MalformedVector {
  name: string
  category: string
  hex: string
  /** a plain string for the goaway-len0..7 vectors */
  expected: MalformedExpectation | string
}

export interface EncoderReject {
  name: string
  goSetError: string | null
  writtenHex: string | null
}

export type Direction = 'c2s' | 's2c'

export interface TraceFrame extends VectorFrame {
  index: number
  offset: number
  chunk: number
  wireBytes: number
}

export interface SessionTrace {
  chunks: Array<{ dir: Direction, hex: string }>
  frames: Record<Direction, { bytes: number, chunks: number, list: TraceFrame[] }>
}

// imported, not read from disk, so that the codec suites bundle for the browser targets
const vectorFiles = {
  'encoder-rejects.json': encoderRejects,
  'frames.json': frames,
  'malformed.json': malformed,
  'session-trace.json': sessionTrace
}

/** A fresh copy of one vector file from `test/fixtures/vectors/` */
export function loadVectors<T> (file: keyof typeof vectorFiles): T {
  return structuredClone(vectorFiles[file]) as T
}

export function generatePayload ({ repeat, bytes }: PayloadGenerator): Uint8Array {
  const unit = fromHex(repeat)
  const out = new Uint8Array(bytes)
  for (let i = 0; i < bytes; i++) {
    out[i] = unit[i % unit.length]
  }
  return out
}

/** The full wire bytes of a frames.json vector */
export function vectorBytes (vector: FrameVector): Uint8Array {
  const header = fromHex(vector.hex)
  return vector.payload == null ? header : concatBytes([header, generatePayload(vector.payload)])
}

/**
 * A frame as the decoder reported it, in the vector files' vocabulary: SYN `priority` and
 * `streamType` are present iff their flag is set, DATA carries its payload as hex.
 */
export interface DecodedFrame {
  type: number
  flags: number
  streamId: number
  priority?: number
  streamType?: number
  errorCode?: number
  increment?: number
  lastStreamId?: number
  payloadLength?: number
  payloadHex?: string
}

/** Turn vector fields into what the decoder must report for them */
export function expectedFrame (frame: VectorFrame): DecodedFrame {
  const { type, flags, streamId } = frame
  switch (type) {
    case FrameType.SYN: {
      const out: DecodedFrame = { type, flags, streamId }
      if ((flags & Flag.PRIORITY) !== 0) {
        out.priority = frame.priority
      }
      if ((flags & Flag.TYPE) !== 0) {
        out.streamType = frame.streamType
      }
      return out
    }
    case FrameType.DATA: {
      const out: DecodedFrame = { type, flags, streamId, payloadLength: frame.length }
      if (frame.payloadHex != null) {
        out.payloadHex = frame.payloadHex
      }
      if (frame.payload != null) {
        out.payloadHex = toHex(generatePayload(frame.payload))
      }
      return out
    }
    // the decoder reports no flags for these three: they use none, and any set are ignored
    case FrameType.RST:
      return { type, flags: 0, streamId, errorCode: frame.errorCode }
    case FrameType.WNDINC:
      return { type, flags: 0, streamId, increment: frame.increment }
    case FrameType.GOAWAY:
      return { type, flags: 0, streamId, lastStreamId: frame.lastStreamId, errorCode: frame.errorCode }
    default:
      throw new Error(`No frame of type ${type}`)
  }
}

/**
 * Records every frame handed to it. RST, WNDINC and GOAWAY report no flags and GOAWAY no
 * stream id, so those are recorded as 0 (the decoder rejects a GOAWAY on a non-zero stream).
 * DATA payloads are copied to hex at once, because the decoder hands out views of its input.
 */
export class Recorder implements FrameHandler {
  readonly frames: DecodedFrame[] = []
  /** every DATA payload exactly as handed out, in order */
  readonly payloads: Array<Uint8Array | Uint8ArrayList> = []
  /** per stream, the DATA bytes received, in order */
  readonly streamBytes = new Map<number, Uint8Array[]>()

  onSyn (streamId: number, flags: number, priority: number, streamType: number): void {
    const frame: DecodedFrame = { type: FrameType.SYN, flags, streamId }
    if ((flags & Flag.PRIORITY) !== 0) {
      frame.priority = priority
    } else if (priority !== 0) {
      throw new Error(`SYN without PRIORITY reported priority ${priority}`)
    }
    if ((flags & Flag.TYPE) !== 0) {
      frame.streamType = streamType
    } else if (streamType !== 0) {
      throw new Error(`SYN without TYPE reported stream type ${streamType}`)
    }
    this.frames.push(frame)
  }

  onData (streamId: number, flags: number, payload: Uint8Array | Uint8ArrayList): void {
    const bytes = payload instanceof Uint8Array ? payload.slice() : payload.subarray().slice()
    this.payloads.push(payload)
    const stream = this.streamBytes.get(streamId) ?? []
    stream.push(bytes)
    this.streamBytes.set(streamId, stream)
    this.frames.push({ type: FrameType.DATA, flags, streamId, payloadLength: bytes.byteLength, payloadHex: toHex(bytes) })
  }

  onRst (streamId: number, errorCode: number): void {
    this.frames.push({ type: FrameType.RST, flags: 0, streamId, errorCode })
  }

  onWndinc (streamId: number, increment: number): void {
    this.frames.push({ type: FrameType.WNDINC, flags: 0, streamId, increment })
  }

  onGoaway (lastStreamId: number, errorCode: number): void {
    this.frames.push({ type: FrameType.GOAWAY, flags: 0, streamId: 0, lastStreamId, errorCode })
  }

  /** All DATA bytes of one stream, concatenated */
  stream (streamId: number): Uint8Array {
    return concatBytes(this.streamBytes.get(streamId) ?? [])
  }
}

export interface DecodeResult {
  frames: DecodedFrame[]
  recorder: Recorder
  /** bytes pushed but not yet decoded at the end */
  bufferedBytes: number
}

/** Push each chunk and decode after each one, as a session reading a socket does */
export function decodeChunks (chunks: Iterable<Uint8Array | Uint8ArrayList>): DecodeResult {
  const decoder = new FrameDecoder()
  const recorder = new Recorder()
  for (const chunk of chunks) {
    decoder.push(chunk)
    const before = recorder.frames.length
    const handled = decoder.decode(recorder)
    if (handled !== recorder.frames.length - before) {
      throw new Error(`decode() returned ${handled} but handled ${recorder.frames.length - before} frames`)
    }
  }
  return { frames: recorder.frames, recorder, bufferedBytes: decoder.bufferedBytes }
}

/** Split `bytes` at the given offsets (any order, duplicates and out-of-range values allowed) */
export function splitAt (bytes: Uint8Array, offsets: number[]): Uint8Array[] {
  const cuts = [...new Set(offsets.filter(offset => offset > 0 && offset < bytes.byteLength))].sort((a, b) => a - b)
  const chunks: Uint8Array[] = []
  let start = 0
  for (const cut of [...cuts, bytes.byteLength]) {
    chunks.push(bytes.subarray(start, cut))
    start = cut
  }
  return chunks
}

export function * bytewise (bytes: Uint8Array): Generator<Uint8Array> {
  for (let i = 0; i < bytes.byteLength; i++) {
    yield bytes.subarray(i, i + 1)
  }
}

/** A small seeded PRNG (mulberry32) so "random" splits are reproducible */
export function prng (seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 0x100000000
  }
}

/** `length` pseudo-random bytes, the same for the same seed */
export function seededBytes (length: number, seed: number): Uint8Array {
  const random = prng(seed)
  return Uint8Array.from({ length }, () => Math.floor(random() * 256))
}

/** Random chunk sizes between 1 and `maxChunk` */
export function randomSplit (bytes: Uint8Array, random: () => number, maxChunk: number): Uint8Array[] {
  const offsets: number[] = []
  for (let at = 0; at < bytes.byteLength;) {
    at += 1 + Math.floor(random() * maxChunk)
    offsets.push(at)
  }
  return splitAt(bytes, offsets)
}

/**
 * Encode a frame with the public encoders. The frame must be one they can express: SYN flags
 * follow from a non-zero priority and type, DATA flags are 0 or FIN, RST/GOAWAY codes are 0..7.
 */
export function encodeFrame (frame: DecodedFrame): Uint8Array {
  switch (frame.type) {
    case FrameType.SYN:
      return encodeSyn(frame.streamId, frame.streamType ?? 0, frame.priority ?? 0)
    case FrameType.DATA: {
      const payload = fromHex(frame.payloadHex ?? '')
      return dataFrame(frame.streamId, payload, (frame.flags & Flag.FIN) !== 0)
    }
    case FrameType.RST:
      return encodeRst(frame.streamId, frame.errorCode as ErrorCode)
    case FrameType.WNDINC:
      return encodeWndinc(frame.streamId, frame.increment ?? 0)
    case FrameType.GOAWAY:
      return encodeGoaway(frame.lastStreamId ?? 0, frame.errorCode as ErrorCode)
    default:
      throw new Error(`No frame of type ${frame.type}`)
  }
}
