import { ErrorCode, Flag, FrameType, GOAWAY_BODY_LENGTH, HEADER_LENGTH, MAX_ERROR_CODE, MAX_PAYLOAD, MAX_UINT31 } from './constants.ts'
import { piecesOf } from './pieces.ts'
import type { Uint8ArrayList } from 'uint8arraylist'

/**
 * Frame encoders. Headers and small control frames are cut from a shared slab, so encoding
 * allocates no buffer per frame: a slab region is never reused, and a full slab is simply
 * replaced (views still queued keep the old one alive). Consecutive frames are contiguous in the
 * slab, which lets a write queue merge them into one view.
 */

const SLAB_SIZE = 64 * 1024
let slab = new Uint8Array(SLAB_SIZE)
let slabUsed = 0

function cutFromSlab (length: number): Uint8Array {
  if (slabUsed + length > SLAB_SIZE) {
    slab = new Uint8Array(SLAB_SIZE)
    slabUsed = 0
  }
  const view = slab.subarray(slabUsed, slabUsed + length)
  slabUsed += length
  return view
}

function writeUint32 (target: Uint8Array, offset: number, value: number): void {
  target[offset] = value >>> 24
  target[offset + 1] = value >>> 16
  target[offset + 2] = value >>> 8
  target[offset + 3] = value
}

function checkUint31 (what: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > MAX_UINT31) {
    throw new RangeError(`${what} ${value} out of range`)
  }
}

function checkErrorCode (errorCode: number): void {
  if (!Number.isInteger(errorCode) || errorCode < 0 || errorCode > MAX_ERROR_CODE) {
    throw new RangeError(`Error code ${errorCode} out of range`)
  }
}

/** Write an 8-byte header at `offset`. Reserved bits are always written as zero. */
export function writeHeader (target: Uint8Array, offset: number, type: FrameType, flags: number, streamId: number, length: number): void {
  target[offset] = length >>> 8
  target[offset + 1] = length
  target[offset + 2] = flags
  target[offset + 3] = type
  writeUint32(target, offset + 4, streamId)
}

/**
 * SYN for a new stream. The Go writer sets PRIORITY only for a non-zero priority and TYPE only
 * for a non-zero type; the body carries them in that order.
 */
export function encodeSyn (streamId: number, streamType = 0, priority = 0): Uint8Array {
  checkUint31('Stream id', streamId)
  checkUint31('Priority', priority)
  if (!Number.isInteger(streamType) || streamType < 0 || streamType > 0xffffffff) {
    throw new RangeError(`Stream type ${streamType} out of range`)
  }
  let flags = 0
  let length = 0
  if (priority !== 0) { flags |= Flag.PRIORITY; length += 4 }
  if (streamType !== 0) { flags |= Flag.TYPE; length += 4 }
  const frame = cutFromSlab(HEADER_LENGTH + length)
  writeHeader(frame, 0, FrameType.SYN, flags, streamId, length)
  let offset = HEADER_LENGTH
  if (priority !== 0) { writeUint32(frame, offset, priority); offset += 4 }
  if (streamType !== 0) { writeUint32(frame, offset, streamType) }
  return frame
}

/** The header of a DATA frame; the payload goes after it on the wire, uncopied */
export function encodeDataHeader (streamId: number, length: number, fin: boolean): Uint8Array {
  return dataFrameWithRoom(streamId, length, fin, 0)
}

/** A whole DATA frame with its header written: the caller copies the payload in after HEADER_LENGTH */
export function reserveDataFrame (streamId: number, length: number): Uint8Array {
  return dataFrameWithRoom(streamId, length, false, length)
}

function dataFrameWithRoom (streamId: number, length: number, fin: boolean, room: number): Uint8Array {
  checkUint31('Stream id', streamId)
  if (!Number.isInteger(length) || length < 0 || length > MAX_PAYLOAD) {
    throw new RangeError(`Frame length ${length} out of range`)
  }
  const frame = cutFromSlab(HEADER_LENGTH + room)
  writeHeader(frame, 0, FrameType.DATA, fin ? Flag.FIN : 0, streamId, length)
  return frame
}

export function encodeRst (streamId: number, errorCode: ErrorCode): Uint8Array {
  checkUint31('Stream id', streamId)
  checkErrorCode(errorCode)
  const frame = cutFromSlab(HEADER_LENGTH + 4)
  writeHeader(frame, 0, FrameType.RST, 0, streamId, 4)
  writeUint32(frame, HEADER_LENGTH, errorCode)
  return frame
}

export function encodeWndinc (streamId: number, increment: number): Uint8Array {
  checkUint31('Stream id', streamId)
  checkUint31('Window increment', increment)
  const frame = cutFromSlab(HEADER_LENGTH + 4)
  writeHeader(frame, 0, FrameType.WNDINC, 0, streamId, 4)
  writeUint32(frame, HEADER_LENGTH, increment)
  return frame
}

/**
 * GOAWAY with length 8 and no debug bytes: the only form that a Go reader and a reader following
 * docs/protocol.md B1 parse the same way.
 */
export function encodeGoaway (lastStreamId: number, errorCode: ErrorCode = ErrorCode.NoError): Uint8Array {
  checkUint31('Last stream id', lastStreamId)
  checkErrorCode(errorCode)
  const frame = cutFromSlab(HEADER_LENGTH + GOAWAY_BODY_LENGTH)
  writeHeader(frame, 0, FrameType.GOAWAY, 0, 0, GOAWAY_BODY_LENGTH)
  writeUint32(frame, HEADER_LENGTH, lastStreamId)
  writeUint32(frame, HEADER_LENGTH + 4, errorCode)
  return frame
}

/**
 * Split the first `bytes` bytes of `data` into DATA frames of at most 16383 bytes, without
 * copying: `onFrame` gets each frame's payload length, then `onPiece` the views that make up
 * that payload (a frame may span buffers of a list).
 */
export function splitIntoFrames (data: Uint8Array | Uint8ArrayList, bytes: number, onFrame: (length: number) => void, onPiece: (view: Uint8Array) => void): void {
  if (data instanceof Uint8Array) {
    for (let offset = 0; offset < bytes; offset += MAX_PAYLOAD) {
      const n = Math.min(MAX_PAYLOAD, bytes - offset)
      onFrame(n)
      onPiece(n === data.byteLength ? data : data.subarray(offset, offset + n))
    }
    return
  }
  let unframed = bytes
  let frameLeft = 0
  for (const buf of piecesOf(data)) {
    let offset = 0
    while (offset < buf.byteLength && (frameLeft > 0 || unframed > 0)) {
      if (frameLeft === 0) {
        frameLeft = Math.min(MAX_PAYLOAD, unframed)
        unframed -= frameLeft
        onFrame(frameLeft)
      }
      const n = Math.min(frameLeft, buf.byteLength - offset)
      onPiece(offset === 0 && n === buf.byteLength ? buf : buf.subarray(offset, offset + n))
      offset += n
      frameLeft -= n
    }
    if (frameLeft === 0 && unframed === 0) { return }
  }
}
