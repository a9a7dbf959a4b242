import { expect } from 'aegir/chai'
import {
  ErrorCode,
  Flag,
  FrameType,
  HEARTBEAT_STREAM_TYPE,
  MAX_PAYLOAD,
  MAX_UINT31,
  encodeDataHeader,
  encodeGoaway,
  encodeRst,
  encodeSyn,
  encodeWndinc,
  writeHeader
} from '../../src/protocol/index.ts'
import { dataFrame, fromHex, toHex } from '../helpers/bytes.ts'
import { encodeFrame, expectedFrame, loadVectors, vectorBytes, errorCodes } from './helpers.ts'
import type { EncoderReject, FrameVector } from './helpers.ts'

const text = (s: string): Uint8Array => new TextEncoder().encode(s)

function isSynFin (vector: FrameVector): boolean {
  return vector.frame.type === FrameType.SYN && (vector.frame.flags & Flag.FIN) !== 0
}

describe('protocol/encode', () => {
  describe('docs/protocol.md §1.4 hex examples', () => {
    const examples: Array<[string, () => Uint8Array, string]> = [
      ['SYN id=3 (Go Open(): plain, no body)', () => encodeSyn(3), '0000000100000003'],
      ['SYN id=1 (encodable; a Go server rejects it)', () => encodeSyn(1), '0000000100000001'],
      ['SYN id=2 (first Go-server stream)', () => encodeSyn(2), '0000000100000002'],
      ['SYN id=7 type=0x2a', () => encodeSyn(7, 0x2a), '00040401000000070000002a'],
      ['SYN id=9 priority=0x10', () => encodeSyn(9, 0, 0x10), '000402010000000900000010'],
      ['SYN id=3 heartbeat (priority + type)', () => encodeSyn(3, HEARTBEAT_STREAM_TYPE, 0x7fffffff), '00080601000000037ffffffffffffeff'],
      ['DATA id=3 "hello"', () => dataFrame(3, text('hello'), false), '000500030000000368656c6c6f'],
      ['DATA id=3 "bye" + FIN', () => dataFrame(3, text('bye'), true), '0003010300000003627965'],
      ['DATA id=3 empty + FIN (Close/HalfClose)', () => encodeDataHeader(3, 0, true), '0000010300000003'],
      ['DATA id=3 16383 bytes (max), header only', () => encodeDataHeader(3, 16383, false), '3fff000300000003'],
      ['WNDINC id=3 +5', () => encodeWndinc(3, 5), '000400040000000300000005'],
      ['WNDINC id=2 +65536', () => encodeWndinc(2, 65536), '000400040000000200010000'],
      ['RST id=3 StreamClosed(4)', () => encodeRst(3, ErrorCode.StreamClosed), '000400020000000300000004'],
      ['RST id=3 FlowControlError(3)', () => encodeRst(3, ErrorCode.FlowControlError), '000400020000000300000003'],
      ['RST id=4 RefusedStream(6)', () => encodeRst(4, ErrorCode.RefusedStream), '000400020000000400000006'],
      // Go writes these two with length fields 31 and 16; a TS peer writes length 8 with no debug
      ['GOAWAY last=3 NoError (TS form of Go\'s 001f0006...)', () => encodeGoaway(3, ErrorCode.NoError), '00080006000000000000000300000000'],
      ['GOAWAY last=0 ProtocolError (TS form of Go\'s 00100006...)', () => encodeGoaway(0, ErrorCode.ProtocolError), '00080006000000000000000000000001'],
      ['GOAWAY as a TS peer should write it', () => encodeGoaway(0x01020304, ErrorCode.FrameSizeError), '00080006000000000102030400000005']
    ]

    for (const [name, encode, hex] of examples) {
      it(name, () => {
        expect(toHex(encode())).to.equal(hex)
      })
    }

    it('GOAWAY defaults to NoError', () => {
      expect(toHex(encodeGoaway(7))).to.equal('00080006000000000000000700000000')
    })

    it('SYN id=5 FIN cannot be produced by encodeSyn (never send SYN|FIN, B4); writeHeader writes it', () => {
      for (const frame of [encodeSyn(5), encodeSyn(5, 1), encodeSyn(5, 0, 1), encodeSyn(5, 1, 1)]) {
        expect(frame[2] & Flag.FIN).to.equal(0)
      }
      const header = new Uint8Array(8)
      writeHeader(header, 0, FrameType.SYN, Flag.FIN, 5, 0)
      expect(toHex(header)).to.equal('0000010100000005')
    })
  })

  describe('frames.json', () => {
    const vectors = loadVectors<FrameVector[]>('frames.json')
    const roundTrips = vectors.filter(vector => vector.roundTrip)
    const goaways = vectors.filter(vector => !vector.roundTrip)

    it('holds round-trip vectors for every frame type except GOAWAY, and only GOAWAYs otherwise', () => {
      expect(new Set(roundTrips.map(vector => vector.frame.type))).to.deep.equal(new Set([FrameType.SYN, FrameType.RST, FrameType.DATA, FrameType.WNDINC]))
      expect(goaways).to.not.be.empty()
      for (const vector of goaways) {
        expect(vector.frame.type).to.equal(FrameType.GOAWAY)
      }
      expect(roundTrips.filter(isSynFin).map(vector => vector.name)).to.deep.equal(['syn-fin'])
    })

    for (const vector of roundTrips.filter(vector => !isSynFin(vector))) {
      it(`${vector.name} is re-encoded byte-exact from its fields`, () => {
        const expected = vectorBytes(vector)
        expect(expected.byteLength).to.equal(vector.totalBytes)
        expect(toHex(encodeFrame(expectedFrame(vector.frame)))).to.equal(toHex(expected))
      })
    }

    it('syn-fin is re-encoded byte-exact by writeHeader', () => {
      const [vector] = roundTrips.filter(isSynFin)
      const { type, flags, streamId, length } = vector.frame
      const header = new Uint8Array(8)
      writeHeader(header, 0, type as FrameType, flags, streamId, length)
      expect(toHex(header)).to.equal(vector.hex)
    })

    for (const vector of goaways) {
      it(`${vector.name} is encoded to tsEncodeHex (length 8, no debug)`, () => {
        const { lastStreamId, errorCode } = vector.frame
        const tsHex = vector.tsEncodeHex ?? ''
        expect(toHex(encodeGoaway(lastStreamId ?? -1, errorCode as ErrorCode))).to.equal(tsHex)
        // the same frame as Go's apart from the length field
        expect(tsHex.slice(0, 4)).to.equal('0008')
        expect(tsHex.slice(4)).to.equal(vector.hex.slice(4))
      })
    }
  })

  describe('encoder-rejects.json', () => {
    const vectors = loadVectors<EncoderReject[]>('encoder-rejects.json')

    /** the same call on our encoders, by vector name */
    const calls: Record<string, () => Uint8Array> = {
      'syn-id-0x80000000': () => encodeSyn(0x80000000),
      'syn-priority-0x80000000': () => encodeSyn(3, 0, 0x80000000),
      'data-16384-bytes': () => encodeDataHeader(3, 16384, false),
      'rst-code-8': () => encodeRst(3, 8 as ErrorCode),
      'wndinc-0x80000000': () => encodeWndinc(3, 0x80000000),
      'goaway-last-0x80000000': () => encodeGoaway(0x80000000, ErrorCode.NoError),
      // our encoder takes no debug bytes at all, so this is the closest call
      'goaway-debug-16368': () => encodeGoaway(2, ErrorCode.NoError)
    }

    it('every vector has a matching call', () => {
      expect(vectors.map(vector => vector.name).sort()).to.deep.equal(Object.keys(calls).sort())
    })

    for (const vector of vectors.filter(vector => vector.writtenHex == null)) {
      it(`${vector.name} is refused like Go refuses it (${vector.goSetError ?? ''})`, () => {
        expect(calls[vector.name]).to.throw(RangeError)
      })
    }

    for (const vector of vectors.filter(vector => vector.writtenHex != null)) {
      it(`${vector.name}: Go writes length ${vector.writtenHex?.slice(0, 4) ?? ''}, ours writes length 8`, () => {
        const ours = toHex(calls[vector.name]())
        expect(ours.slice(0, 4)).to.equal('0008')
        expect(ours.slice(4)).to.equal(vector.writtenHex?.slice(4))
      })
    }
  })

  describe('limits', () => {
    it('accepts 31-bit values up to 0x7fffffff', () => {
      expect(toHex(encodeSyn(MAX_UINT31, 0, MAX_UINT31))).to.equal('000402017fffffff7fffffff')
      expect(toHex(encodeWndinc(MAX_UINT31, MAX_UINT31))).to.equal('000400047fffffff7fffffff')
      expect(toHex(encodeRst(MAX_UINT31, ErrorCode.Cancel))).to.equal('000400027fffffff00000007')
      expect(toHex(encodeGoaway(MAX_UINT31, ErrorCode.Cancel))).to.equal('00080006000000007fffffff00000007')
      expect(toHex(encodeDataHeader(MAX_UINT31, 0, false))).to.equal('000000037fffffff')
    })

    it('accepts stream ids, priorities and increments of 0', () => {
      expect(toHex(encodeSyn(0))).to.equal('0000000100000000')
      expect(toHex(encodeWndinc(0, 0))).to.equal('000400040000000000000000')
    })

    it('accepts any 32-bit stream type', () => {
      expect(toHex(encodeSyn(3, 0xffffffff))).to.equal('0004040100000003ffffffff')
      expect(() => encodeSyn(3, 0x100000000)).to.throw(RangeError)
      expect(() => encodeSyn(3, -1)).to.throw(RangeError)
      expect(() => encodeSyn(3, 1.5)).to.throw(RangeError)
    })

    it('accepts every RST and GOAWAY code 0..7 and refuses 8', () => {
      for (const code of errorCodes) {
        expect(toHex(encodeRst(3, code))).to.equal(`0004000200000003${code.toString(16).padStart(8, '0')}`)
        expect(toHex(encodeGoaway(3, code))).to.equal(`000800060000000000000003${code.toString(16).padStart(8, '0')}`)
      }
      expect(() => encodeRst(3, 8 as ErrorCode)).to.throw(RangeError)
      expect(() => encodeGoaway(3, 8 as ErrorCode)).to.throw(RangeError)
      expect(() => encodeRst(3, -1 as ErrorCode)).to.throw(RangeError)
    })

    it('DATA lengths 0, 1 and 16383 encode; 16384 is refused', () => {
      expect(toHex(encodeDataHeader(3, 0, false))).to.equal('0000000300000003')
      expect(toHex(encodeDataHeader(3, 1, false))).to.equal('0001000300000003')
      expect(toHex(encodeDataHeader(3, MAX_PAYLOAD, true))).to.equal('3fff010300000003')
      expect(() => encodeDataHeader(3, MAX_PAYLOAD + 1, false)).to.throw(RangeError, /16384/)
      expect(() => encodeDataHeader(3, -1, false)).to.throw(RangeError)
      expect(() => encodeDataHeader(3, 1.5, false)).to.throw(RangeError)
    })

    it('refuses negative, fractional and non-finite ids and increments', () => {
      for (const bad of [-1, 1.5, NaN, Infinity, 0x80000000, 0xffffffff]) {
        expect(() => encodeSyn(bad), `SYN id ${bad}`).to.throw(RangeError)
        expect(() => encodeSyn(3, 0, bad), `priority ${bad}`).to.throw(RangeError)
        expect(() => encodeDataHeader(bad, 0, false), `DATA id ${bad}`).to.throw(RangeError)
        expect(() => encodeRst(bad, ErrorCode.Cancel), `RST id ${bad}`).to.throw(RangeError)
        expect(() => encodeWndinc(bad, 1), `WNDINC id ${bad}`).to.throw(RangeError)
        expect(() => encodeWndinc(3, bad), `increment ${bad}`).to.throw(RangeError)
        expect(() => encodeGoaway(bad), `last id ${bad}`).to.throw(RangeError)
      }
    })
  })

  describe('buffers', () => {
    it('never overwrites a frame it returned, across many frames', () => {
      const hex8 = (n: number): string => n.toString(16).padStart(8, '0')
      // 20000 12-byte frames: far more than one 64 KiB slab
      const frames = Array.from({ length: 20000 }, (_, i) => encodeWndinc(i, i + 1))
      expect(frames.map(toHex)).to.deep.equal(frames.map((_, i) => `00040004${hex8(i)}${hex8(i + 1)}`))
    })

    it('returns exactly the frame bytes, with nothing after them', () => {
      expect(encodeSyn(3).byteLength).to.equal(8)
      expect(encodeSyn(3, HEARTBEAT_STREAM_TYPE, MAX_UINT31).byteLength).to.equal(16)
      expect(encodeDataHeader(3, 100, false).byteLength).to.equal(8)
      expect(encodeRst(3, ErrorCode.NoError).byteLength).to.equal(12)
      expect(encodeGoaway(3).byteLength).to.equal(16)
    })

    it('writeHeader writes at an offset and leaves the rest alone', () => {
      const target = fromHex('eeeeeeeeeeeeeeeeeeeeeeeeeeee')
      writeHeader(target, 3, FrameType.WNDINC, 0, 9, 4)
      expect(toHex(target)).to.equal('eeeeee0004000400000009eeeeee')
    })
  })
})
