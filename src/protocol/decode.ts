import { Uint8ArrayList } from 'uint8arraylist'
import { ErrorCode, Flag, FrameType, GOAWAY_BODY_LENGTH, HEADER_LENGTH, MAX_UINT31 } from './constants.ts'
import { FrameError } from './frame-error.ts'
import { piecesOf } from './pieces.ts'

/** Receives decoded frames; the decoder calls it synchronously, one call per frame */
export interface FrameHandler {
  /** `priority` and `streamType` are 0 when their flag is absent */
  onSyn(streamId: number, flags: number, priority: number, streamType: number): void
  /** `payload` is a view of the received bytes, never a copy: plain Uint8Arrays, whatever kind was pushed */
  onData(streamId: number, flags: number, payload: Uint8Array | Uint8ArrayList): void
  onRst(streamId: number, errorCode: number): void
  onWndinc(streamId: number, increment: number): void
  onGoaway(lastStreamId: number, errorCode: number): void
}

const NO_FRAME = -1
const EMPTY = new Uint8Array(0)
/** a connection that always leaves a frame straddling its chunks never empties the queue: it is moved up this often */
const COMPACT_AT = 64

function readUint32 (buf: Uint8Array, offset: number): number {
  return buf[offset] * 0x1000000 + ((buf[offset + 1] << 16) | (buf[offset + 2] << 8) | buf[offset + 3])
}

/**
 * `chunk` as a plain Uint8Array over the same bytes. Connections hand over Node Buffers (TCP) or
 * plain Uint8Arrays (in-memory pairs), and every function that touches both kinds turns
 * polymorphic, `subarray` most of all (Buffer has its own); with one kind from here on, the
 * decoder and the streams' payloads stay on one shape. A view costs one small object per chunk.
 */
function plainView (chunk: Uint8Array): Uint8Array {
  return Object.getPrototypeOf(chunk) === Uint8Array.prototype ? chunk : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)
}

/** Number of 4-byte SYN body fields announced by the flags */
function synBodyLength (flags: number): number {
  return ((flags & Flag.PRIORITY) !== 0 ? 4 : 0) + ((flags & Flag.TYPE) !== 0 ? 4 : 0)
}

/**
 * An incremental muxado v1 decoder. `push()` any chunks (one byte at a time works); `decode()`
 * hands every complete frame to a handler and keeps the rest. A frame's legality is decided on
 * its 8-byte header, before any body byte arrives, and nothing is ever allocated by a length the
 * peer declared: bodies are at most 16383 bytes and DATA payloads are views of the input.
 */
export class FrameDecoder {
  /**
   * A queue of the chunks pushed and not yet read: `chunks[first]` to `chunks[end - 1]`. Read
   * slots are cleared and reused, not shifted out: a shift moves every chunk behind it, per chunk
   */
  private readonly chunks: Uint8Array[] = []
  /** the chunk being read */
  private first = 0
  private end = 0
  /** read position inside `chunks[first]` */
  private offset = 0
  private buffered = 0
  /** copies a header or control body that straddles chunks */
  private readonly scratch = new Uint8Array(HEADER_LENGTH)
  /** where in the buffer `consumeBytes` returned the bytes start: a field, not a tuple, so no array is made per frame */
  private consumedAt = 0

  /** the header of the frame whose body has not fully arrived yet */
  private type: number = NO_FRAME
  private flags = 0
  private streamId = 0
  private bodyLength = 0

  /** Bytes received and not yet decoded */
  get bufferedBytes (): number {
    return this.buffered
  }

  /** True while part of a frame has arrived: the connection ending now would cut it */
  get midFrame (): boolean {
    return this.buffered > 0 || this.type !== NO_FRAME
  }

  /** The stream whose DATA frame has its header in and part of its payload still to come; 0 if none */
  get dataArrivingFor (): number {
    return this.type === FrameType.DATA ? this.streamId : 0
  }

  push (chunk: Uint8Array | Uint8ArrayList): void {
    if (chunk instanceof Uint8Array) {
      this.append(chunk)
    } else {
      const pieces = piecesOf(chunk)
      for (let i = 0; i < pieces.length; i++) { this.append(pieces[i]) }
    }
  }

  /**
   * Decode up to `maxFrames` complete frames. Returns how many were handled; fewer than
   * `maxFrames` means the buffered bytes hold no further complete frame. Throws `FrameError`
   * on the first illegal header.
   */
  decode (handler: FrameHandler, maxFrames = Infinity): number {
    let handled = 0
    while (handled < maxFrames) {
      if (this.type === NO_FRAME) {
        if (this.buffered < HEADER_LENGTH) { break }
        this.readHeader()
      }
      if (this.buffered < this.bodyLength) { break }
      this.dispatch(handler)
      handled++
    }
    return handled
  }

  private append (chunk: Uint8Array): void {
    if (chunk.byteLength === 0) { return }
    const buf = plainView(chunk)
    if (this.end === this.chunks.length) {
      this.chunks.push(buf)
    } else {
      this.chunks[this.end] = buf
    }
    this.end++
    this.buffered += buf.byteLength
  }

  private readHeader (): void {
    const buf = this.consumeBytes(HEADER_LENGTH)
    const at = this.consumedAt
    const length = ((buf[at] & 0x3f) << 8) | buf[at + 1]
    const flags = buf[at + 2]
    const type = buf[at + 3] & 0x1f
    const streamId = readUint32(buf, at + 4) & MAX_UINT31

    switch (type) {
      case FrameType.SYN:
        if (length !== synBodyLength(flags)) {
          throw new FrameError(`SYN length ${length} does not match flags 0x${flags.toString(16)}`, ErrorCode.FrameSizeError)
        }
        break
      case FrameType.RST:
      case FrameType.WNDINC:
        if (length !== 4) {
          throw new FrameError(`${type === FrameType.RST ? 'RST' : 'WNDINC'} length must be 4, got ${length}`, ErrorCode.FrameSizeError)
        }
        break
      case FrameType.DATA:
        break
      case FrameType.GOAWAY:
        if (streamId !== 0) {
          throw new FrameError(`GOAWAY on stream ${streamId}, must be 0`, ErrorCode.ProtocolError)
        }
        break
      default:
        throw new FrameError(`Illegal frame type ${type}`, ErrorCode.ProtocolError)
    }

    this.type = type
    this.flags = flags
    this.streamId = streamId
    // Go writes GOAWAY's length as 16 + len(debug) but sends 8 body bytes
    this.bodyLength = type === FrameType.GOAWAY ? GOAWAY_BODY_LENGTH : length
  }

  private dispatch (handler: FrameHandler): void {
    const { type, flags, streamId, bodyLength } = this
    this.type = NO_FRAME

    if (type === FrameType.DATA) {
      handler.onData(streamId, flags, this.consumeView(bodyLength))
      return
    }
    if (type === FrameType.SYN) {
      let priority = 0
      let streamType = 0
      if (bodyLength > 0) {
        const buf = this.consumeBytes(bodyLength)
        let field = this.consumedAt
        if ((flags & Flag.PRIORITY) !== 0) { priority = readUint32(buf, field); field += 4 }
        if ((flags & Flag.TYPE) !== 0) { streamType = readUint32(buf, field) }
      }
      handler.onSyn(streamId, flags, priority, streamType)
      return
    }

    const buf = this.consumeBytes(bodyLength)
    const at = this.consumedAt
    if (type === FrameType.RST) {
      handler.onRst(streamId, readUint32(buf, at))
    } else if (type === FrameType.WNDINC) {
      handler.onWndinc(streamId, readUint32(buf, at) & MAX_UINT31)
    } else {
      handler.onGoaway(readUint32(buf, at) & MAX_UINT31, readUint32(buf, at + 4))
    }
  }

  /**
   * Consume `length` (≤ 8) bytes and return the buffer to read them from, at `consumedAt`: the
   * input chunk itself when they are contiguous, otherwise a copy in the scratch buffer.
   */
  private consumeBytes (length: number): Uint8Array {
    const head = this.chunks[this.first]
    if (head.byteLength - this.offset >= length) {
      this.consumedAt = this.offset
      this.skip(length)
      return head
    }
    let copied = 0
    while (copied < length) {
      const chunk = this.chunks[this.first]
      const n = Math.min(length - copied, chunk.byteLength - this.offset)
      this.scratch.set(chunk.subarray(this.offset, this.offset + n), copied)
      copied += n
      this.skip(n)
    }
    this.consumedAt = 0
    return this.scratch
  }

  /** Consume `length` bytes as a view: one subarray when contiguous, else a list of subarrays */
  private consumeView (length: number): Uint8Array | Uint8ArrayList {
    const head = this.chunks[this.first]
    if (length === 0) { return EMPTY }
    if (head.byteLength - this.offset >= length) {
      // a connection that delivers each sent piece alone hands over payloads as whole chunks
      const view = this.offset === 0 && length === head.byteLength ? head : head.subarray(this.offset, this.offset + length)
      this.skip(length)
      return view
    }
    const list = new Uint8ArrayList()
    while (list.byteLength < length) {
      const chunk = this.chunks[this.first]
      const n = Math.min(length - list.byteLength, chunk.byteLength - this.offset)
      list.append(chunk.subarray(this.offset, this.offset + n))
      this.skip(n)
    }
    return list
  }

  /** Advance past `length` bytes that are all inside `chunks[first]` */
  private skip (length: number): void {
    this.offset += length
    this.buffered -= length
    if (this.offset < this.chunks[this.first].byteLength) { return }
    this.offset = 0
    this.chunks[this.first++] = EMPTY
    if (this.first === this.end) {
      this.first = 0
      this.end = 0
    } else if (this.first === COMPACT_AT) {
      this.chunks.copyWithin(0, this.first, this.end)
      this.chunks.fill(EMPTY, this.end - this.first, this.end)
      this.end -= this.first
      this.first = 0
    }
  }
}
