import { expect } from 'aegir/chai'
import fc from 'fast-check'
import { Uint8ArrayList } from 'uint8arraylist'
import {
  ErrorCode,
  Flag,
  FrameDecoder,
  FrameError,
  FrameType,
  MAX_PAYLOAD,
  MAX_UINT31,
  encodeGoaway,
  encodeRst,
  encodeSyn,
  encodeWndinc
} from '../../src/protocol/index.ts'
import { concatBytes, dataFrame, toHex } from '../helpers/bytes.ts'
import { propertyRuns } from '../helpers/fuzz-settings.ts'
import { Recorder, decodeChunks, seededBytes, splitAt, errorCodes } from './helpers.ts'
import type { DecodedFrame } from './helpers.ts'

/** Seed 42 unless `MUXADO_FUZZ_SEED` says otherwise (test/helpers/fuzz-settings.ts) */
function runs (defaultRuns: number): fc.Parameters<unknown> {
  return propertyRuns(defaultRuns, 42)
}

/** A frame on the wire and what the decoder must report for it */
type Encoded = [Uint8Array, DecodedFrame]

const uint31 = fc.integer({ min: 0, max: MAX_UINT31 })
const uint32 = fc.integer({ min: 0, max: 0xffffffff })
const errorCode = fc.constantFrom(...errorCodes)

/** Mostly short arbitrary payloads; sometimes any length up to 16383, always including the edges */
const payload = fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  { weight: 2, arbitrary: fc.record({ length: fc.integer({ min: 0, max: MAX_PAYLOAD }), seed: fc.integer() }).map(({ length, seed }) => seededBytes(length, seed)) },
  { weight: 1, arbitrary: fc.constantFrom(0, 1, MAX_PAYLOAD - 1, MAX_PAYLOAD).map(length => new Uint8Array(length).fill(0xab)) }
)

const frames: Record<string, fc.Arbitrary<Encoded>> = {
  SYN: fc.record({
    streamId: uint31,
    priority: fc.oneof(fc.constant(0), uint31),
    streamType: fc.oneof(fc.constant(0), uint32)
  }).map(({ streamId, priority, streamType }): Encoded => {
    const frame: DecodedFrame = { type: FrameType.SYN, flags: 0, streamId }
    if (priority !== 0) { frame.flags |= Flag.PRIORITY; frame.priority = priority }
    if (streamType !== 0) { frame.flags |= Flag.TYPE; frame.streamType = streamType }
    return [encodeSyn(streamId, streamType, priority).slice(), frame]
  }),
  DATA: fc.record({ streamId: uint31, fin: fc.boolean(), payload }).map(({ streamId, fin, payload }): Encoded => [
    dataFrame(streamId, payload, fin),
    { type: FrameType.DATA, flags: fin ? Flag.FIN : 0, streamId, payloadLength: payload.byteLength, payloadHex: toHex(payload) }
  ]),
  RST: fc.record({ streamId: uint31, errorCode }).map(({ streamId, errorCode }): Encoded => [
    encodeRst(streamId, errorCode).slice(),
    { type: FrameType.RST, flags: 0, streamId, errorCode }
  ]),
  WNDINC: fc.record({ streamId: uint31, increment: uint31 }).map(({ streamId, increment }): Encoded => [
    encodeWndinc(streamId, increment).slice(),
    { type: FrameType.WNDINC, flags: 0, streamId, increment }
  ]),
  GOAWAY: fc.record({ lastStreamId: uint31, errorCode }).map(({ lastStreamId, errorCode }): Encoded => [
    encodeGoaway(lastStreamId, errorCode).slice(),
    { type: FrameType.GOAWAY, flags: 0, streamId: 0, lastStreamId, errorCode }
  ])
}

const anyFrame = fc.oneof(...Object.values(frames))

/** Split points, as offsets to take modulo the stream length */
const splits = fc.array(fc.nat(), { maxLength: 40 })

function split (bytes: Uint8Array, offsets: number[]): Uint8Array[] {
  return splitAt(bytes, offsets.map(offset => offset % (bytes.byteLength + 1)))
}

/**
 * Set every bit a reader must ignore: the reserved header bits, the top bit of the WNDINC
 * increment and of the GOAWAY last id, the unused flags of RST/WNDINC/GOAWAY, and the length
 * field of a GOAWAY (Go writes 16 + len(debug) or even 0, B1). The decoded frame stays the same.
 */
interface Noise {
  lengthBits: number
  typeBits: number
  idBit: boolean
  bodyBit: boolean
  flags: number
  goawayLength: number
}

const noise: fc.Arbitrary<Noise> = fc.record({
  lengthBits: fc.integer({ min: 0, max: 3 }),
  typeBits: fc.integer({ min: 0, max: 7 }),
  idBit: fc.boolean(),
  bodyBit: fc.boolean(),
  flags: fc.integer({ min: 0, max: 0xff }),
  goawayLength: fc.oneof(fc.constantFrom(0, 8, 16, 31), fc.integer({ min: 0, max: MAX_PAYLOAD }))
})

function addNoise ([bytes, frame]: Encoded, bits: Noise): Encoded {
  const out = bytes.slice()
  out[0] |= bits.lengthBits << 6
  out[3] |= bits.typeBits << 5
  if (bits.idBit) {
    out[4] |= 0x80
  }
  if (frame.type === FrameType.RST || frame.type === FrameType.WNDINC || frame.type === FrameType.GOAWAY) {
    out[2] = bits.flags
  }
  if ((frame.type === FrameType.WNDINC || frame.type === FrameType.GOAWAY) && bits.bodyBit) {
    out[8] |= 0x80
  }
  if (frame.type === FrameType.GOAWAY) {
    out[0] = (bits.lengthBits << 6) | (bits.goawayLength >>> 8)
    out[1] = bits.goawayLength & 0xff
  }
  return [out, frame]
}

/** Push chunks one by one; stop at the first error and report it */
function decodeUntilError (chunks: Uint8Array[]): { frames: DecodedFrame[], error?: unknown, pushed: number, bufferedBytes: number } {
  const decoder = new FrameDecoder()
  const recorder = new Recorder()
  let pushed = 0
  for (const chunk of chunks) {
    decoder.push(chunk)
    pushed += chunk.byteLength
    try {
      decoder.decode(recorder)
    } catch (error) {
      return { frames: recorder.frames, error, pushed, bufferedBytes: decoder.bufferedBytes }
    }
    expect(decoder.bufferedBytes).to.be.at.most(pushed)
  }
  return { frames: recorder.frames, pushed, bufferedBytes: decoder.bufferedBytes }
}

const KNOWN_TYPES = new Set<number>([FrameType.SYN, FrameType.RST, FrameType.DATA, FrameType.WNDINC, FrameType.GOAWAY])

describe('protocol/decode properties', function () {
  this.timeout(120_000)

  describe('encode → decode round trip', () => {
    for (const [name, arbitrary] of Object.entries(frames)) {
      it(`${name} with arbitrary valid fields`, () => {
        fc.assert(fc.property(arbitrary, ([bytes, frame]) => {
          const decoded = decodeChunks([bytes])
          expect(decoded.frames).to.deep.equal([frame])
          expect(decoded.bufferedBytes).to.equal(0)
        }), runs(name === 'DATA' ? 200 : 300))
      })
    }
  })

  it('a frame sequence decodes the same at arbitrary split points', () => {
    fc.assert(fc.property(fc.array(anyFrame, { minLength: 1, maxLength: 12 }), splits, fc.boolean(), (encoded, offsets, asLists) => {
      const bytes = concatBytes(encoded.map(([bytes]) => bytes))
      const chunks = split(bytes, offsets)
      // push as Uint8ArrayLists of two pieces too, to exercise both push paths
      const pushed = asLists ? chunks.map(chunk => new Uint8ArrayList(...splitAt(chunk, [chunk.byteLength >> 1]))) : chunks
      const decoded = decodeChunks(pushed)
      expect(decoded.frames).to.deep.equal(encoded.map(([, frame]) => frame))
      expect(decoded.bufferedBytes).to.equal(0)
    }), runs(150))
  })

  it('never loses alignment: ignored bits and GOAWAY length fields change nothing, at any split', () => {
    fc.assert(fc.property(fc.array(fc.tuple(anyFrame, noise), { minLength: 1, maxLength: 12 }), splits, (items, offsets) => {
      const encoded = items.map(([frame, bits]) => addNoise(frame, bits))
      const bytes = concatBytes(encoded.map(([bytes]) => bytes))
      const decoded = decodeChunks(split(bytes, offsets))
      expect(decoded.frames).to.deep.equal(encoded.map(([, frame]) => frame))
      expect(decoded.bufferedBytes).to.equal(0)
    }), runs(150))
  })

  it('random bytes give frames of known types or a FrameError, nothing else', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), splits, (bytes, offsets) => {
      const result = decodeUntilError(split(bytes, offsets))
      if (result.error != null) {
        expect(result.error).to.be.an.instanceOf(FrameError)
        expect([ErrorCode.ProtocolError, ErrorCode.FrameSizeError]).to.include((result.error as FrameError).errorCode)
      }
      for (const frame of result.frames) {
        expect(KNOWN_TYPES.has(frame.type)).to.be.true()
      }
    }), runs(500))
  })

  it('valid frames followed by random bytes: the frames come out intact, then frames or a FrameError', () => {
    fc.assert(fc.property(fc.array(anyFrame, { maxLength: 6 }), fc.uint8Array({ maxLength: 200 }), splits, (encoded, garbage, offsets) => {
      const valid = concatBytes(encoded.map(([bytes]) => bytes))
      const result = decodeUntilError(split(concatBytes([valid, garbage]), offsets))
      if (result.error != null) {
        expect(result.error).to.be.an.instanceOf(FrameError)
      }
      expect(result.frames.slice(0, encoded.length)).to.deep.equal(encoded.map(([, frame]) => frame))
    }), runs(200))
  })

  it('a header is rejected exactly when docs/protocol.md §1.2 says, with the right code, at its 8th byte', () => {
    const header = fc.record({
      lengthBits: fc.integer({ min: 0, max: 3 }),
      length: fc.oneof(fc.constantFrom(0, 4, 8), fc.integer({ min: 0, max: MAX_PAYLOAD })),
      flags: fc.oneof(fc.constantFrom(0, Flag.PRIORITY, Flag.TYPE, Flag.PRIORITY | Flag.TYPE), fc.integer({ min: 0, max: 0xff })),
      typeByte: fc.oneof(fc.constantFrom(...KNOWN_TYPES), fc.integer({ min: 0, max: 0xff })),
      rawId: fc.oneof(fc.constantFrom(0, 0x80000000), uint32)
    })
    fc.assert(fc.property(header, ({ lengthBits, length, flags, typeByte, rawId }) => {
      const bytes = new Uint8Array(8)
      bytes[0] = (lengthBits << 6) | (length >>> 8)
      bytes[1] = length & 0xff
      bytes[2] = flags
      bytes[3] = typeByte
      new DataView(bytes.buffer).setUint32(4, rawId)

      const type = typeByte & 0x1f
      const streamId = rawId & MAX_UINT31
      const synLength = ((flags & Flag.PRIORITY) !== 0 ? 4 : 0) + ((flags & Flag.TYPE) !== 0 ? 4 : 0)
      let expectedCode: number | undefined
      if (!KNOWN_TYPES.has(type) || (type === FrameType.GOAWAY && streamId !== 0)) {
        expectedCode = ErrorCode.ProtocolError
      } else if (type === FrameType.SYN && length !== synLength) {
        expectedCode = ErrorCode.FrameSizeError
      } else if ((type === FrameType.RST || type === FrameType.WNDINC) && length !== 4) {
        expectedCode = ErrorCode.FrameSizeError
      }

      const decoder = new FrameDecoder()
      const recorder = new Recorder()
      decoder.push(bytes.subarray(0, 7))
      expect(decoder.decode(recorder)).to.equal(0)
      decoder.push(bytes.subarray(7))
      let error: unknown
      try {
        decoder.decode(recorder)
      } catch (err) {
        error = err
      }
      if (expectedCode == null) {
        expect(error).to.be.undefined()
      } else {
        expect(error).to.be.an.instanceOf(FrameError)
        expect((error as FrameError).errorCode).to.equal(expectedCode)
      }
    }), runs(1000))
  })
})
