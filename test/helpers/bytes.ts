/** Byte and frame builders the suites share: hex, raw headers, u32 fields, whole DATA frames */
import { MAX_PAYLOAD, encodeDataHeader } from '../../src/protocol/index.ts'
import type { Uint8ArrayList } from 'uint8arraylist'

/** The bytes of a hex string; white space between bytes is allowed */
export function fromHex (text: string): Uint8Array {
  const hex = text.replace(/\s+/g, '')
  if (hex.length % 2 !== 0 || /[^0-9a-f]/i.test(hex)) {
    throw new Error(`Not a hex string: ${text}`)
  }
  const bytes = new Uint8Array(hex.length / 2)
  for (let i = 0; i < bytes.length; i++) {
    bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16)
  }
  return bytes
}

/** Lowercase hex with no separators, as the vector files write it */
export function toHex (bytes: Uint8Array | Uint8ArrayList): string {
  const flat = bytes instanceof Uint8Array ? bytes : bytes.subarray()
  let hex = ''
  for (const byte of flat) {
    hex += byte.toString(16).padStart(2, '0')
  }
  return hex
}

/** An 8-byte muxado v1 header with any field values, reserved bits included */
export function header (type: number, flags: number, streamId: number, length: number): Uint8Array {
  const bytes = new Uint8Array(8)
  const view = new DataView(bytes.buffer)
  view.setUint16(0, length)
  bytes[2] = flags
  bytes[3] = type
  view.setUint32(4, streamId >>> 0)
  return bytes
}

export function u32 (...values: number[]): Uint8Array {
  const bytes = new Uint8Array(values.length * 4)
  const view = new DataView(bytes.buffer)
  values.forEach((value, i) => { view.setUint32(i * 4, value >>> 0) })
  return bytes
}

export function concatBytes (parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.byteLength, 0))
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.byteLength
  }
  return out
}

/** One DATA frame as a single buffer */
export function dataFrame (streamId: number, payload: Uint8Array | number, fin = false): Uint8Array {
  const body = typeof payload === 'number' ? new Uint8Array(payload).fill(0x61) : payload
  return concatBytes([encodeDataHeader(streamId, body.byteLength, fin), body])
}

/**
 * DATA for one stream cut into frames the way senders cut a write: full 16383-byte frames, then
 * a shorter last one. `data` is the payload, or a byte count for filler bytes.
 */
export function dataFrames (streamId: number, data: Uint8Array | number): Uint8Array[] {
  const payload = typeof data === 'number' ? new Uint8Array(data).fill(0x61) : data
  const frames: Uint8Array[] = []
  for (let offset = 0; offset < payload.byteLength; offset += MAX_PAYLOAD) {
    frames.push(dataFrame(streamId, payload.subarray(offset, offset + MAX_PAYLOAD)))
  }
  return frames
}
