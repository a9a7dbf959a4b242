import { expect } from 'aegir/chai'
import { Uint8ArrayList } from 'uint8arraylist'
import {
  ErrorCode,
  Flag,
  FrameDecoder,
  FrameError,
  FrameType,
  HEARTBEAT_STREAM_TYPE,
  MAX_PAYLOAD,
  MAX_UINT31,
  encodeDataHeader,
  encodeGoaway,
  encodeRst,
  encodeSyn,
  encodeWndinc
} from '../../src/protocol/index.ts'
import { concatBytes, dataFrame, fromHex, toHex } from '../helpers/bytes.ts'
import {
  Recorder,
  bytewise,
  decodeChunks,
  expectedFrame,
  loadVectors,
  prng,
  randomSplit,
  seededBytes,
  splitAt,
  vectorBytes, errorCodes
} from './helpers.ts'
import type { DecodeResult, DecodedFrame, Direction, FrameVector, MalformedExpectation, MalformedVector, SessionTrace, TraceFrame } from './helpers.ts'

/** What frames.json's GOAWAY vectors append to show Go's over-read: WNDINC id 3 +1, DATA id 3 "hello" */
const FOLLOW_HEX = '000400040000000300000001000500030000000368656c6c6f'
const FOLLOW_FRAMES: DecodedFrame[] = [
  { type: FrameType.WNDINC, flags: 0, streamId: 3, increment: 1 },
  { type: FrameType.DATA, flags: 0, streamId: 3, payloadLength: 5, payloadHex: '68656c6c6f' }
]

interface BytewiseResult {
  frames: DecodedFrame[]
  /** bytes fed when each frame was delivered */
  deliveredAt: number[]
  error?: unknown
  /** bytes fed when `decode()` threw */
  errorAt?: number
  bufferedBytes: number
}

/** Feed `bytes` one at a time, decoding after each byte, and note when things happen */
function feedBytewise (bytes: Uint8Array): BytewiseResult {
  const decoder = new FrameDecoder()
  const recorder = new Recorder()
  const deliveredAt: number[] = []
  for (let fed = 1; fed <= bytes.byteLength; fed++) {
    decoder.push(bytes.subarray(fed - 1, fed))
    try {
      const handled = decoder.decode(recorder)
      for (let i = 0; i < handled; i++) {
        deliveredAt.push(fed)
      }
    } catch (error) {
      return { frames: recorder.frames, deliveredAt, error, errorAt: fed, bufferedBytes: decoder.bufferedBytes }
    }
  }
  return { frames: recorder.frames, deliveredAt, bufferedBytes: decoder.bufferedBytes }
}

function expectFrameError (error: unknown, errorCode: number): void {
  expect(error).to.be.an.instanceOf(FrameError)
  expect((error as FrameError).errorCode).to.equal(errorCode)
  expect((error as FrameError).name).to.equal('FrameError')
}

function text (s: string): Uint8Array {
  return new TextEncoder().encode(s)
}

/** The byte pattern the trace's client wrote on stream 7: Go's `byte(i*31 + i/251)` */
function stream7Pattern (length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 31 + Math.floor(i / 251)) & 0xff)
}

/** Bytes a decoded frame took on the wire (a GOAWAY body is always 8 bytes) */
function wireBytes (frame: DecodedFrame): number {
  switch (frame.type) {
    case FrameType.SYN:
      return 8 + (frame.priority == null ? 0 : 4) + (frame.streamType == null ? 0 : 4)
    case FrameType.DATA:
      return 8 + (frame.payloadLength ?? 0)
    case FrameType.GOAWAY:
      return 16
    default:
      return 12
  }
}

/** However `recorded` is cut into pushes, the decoder must report the same frames */
function describeInvariance (name: string, recorded: Uint8Array[]): void {
  describe(name, () => {
    const bytes = concatBytes(recorded)
    let reference: DecodeResult

    before(() => {
      reference = decodeChunks([bytes])
    })

    it('decodes completely when fed whole', () => {
      expect(reference.frames).to.not.be.empty()
      expect(reference.bufferedBytes).to.equal(0)
    })

    it('gives the same frames fed as recorded', () => {
      expect(decodeChunks(recorded).frames).to.deep.equal(reference.frames)
    })

    it('gives the same frames fed one byte at a time', () => {
      const result = decodeChunks(bytewise(bytes))
      expect(result.frames).to.deep.equal(reference.frames)
      expect(result.bufferedBytes).to.equal(0)
      // payloads over several pushes arrive as lists, and were compared by content above
      expect(result.recorder.payloads.some(payload => payload instanceof Uint8ArrayList)).to.be.true()
    })

    it('gives the same frames in random chunks', () => {
      for (const [seed, maxChunk] of [[1, 3], [2, 9], [3, 64], [4, 1000], [5, 20000]]) {
        const chunks = randomSplit(bytes, prng(seed), maxChunk)
        expect(chunks.length).to.be.greaterThan(1)
        expect(decodeChunks(chunks).frames, `chunks of 1..${maxChunk} bytes, seed ${seed}`).to.deep.equal(reference.frames)
      }
    })

    it('gives the same frames when chunks are pushed as Uint8ArrayLists', () => {
      const random = prng(6)
      const lists = randomSplit(bytes, random, 5000).map(chunk => new Uint8ArrayList(...randomSplit(chunk, random, 700)))
      expect(decodeChunks(lists).frames).to.deep.equal(reference.frames)
    })

    it('gives the same frames when split at every frame boundary and in every header', () => {
      const boundaries: number[] = []
      let offset = 0
      for (const frame of reference.frames) {
        boundaries.push(offset, offset + 1, offset + 4, offset + 7, offset + 8, offset + 9)
        offset += wireBytes(frame)
      }
      expect(offset).to.equal(bytes.byteLength)
      expect(decodeChunks(splitAt(bytes, boundaries)).frames).to.deep.equal(reference.frames)
    })
  })
}

describe('protocol/decode', () => {
  describe('payload views', () => {
    /** a Uint8Array subclass, as Node's Buffer is */
    class Bytes extends Uint8Array {}

    function payloadsOf (pushed: Uint8Array | Uint8ArrayList): Array<Uint8Array | Uint8ArrayList> {
      const decoder = new FrameDecoder()
      const recorder = new Recorder()
      decoder.push(pushed)
      decoder.decode(recorder)
      return recorder.payloads
    }

    it('are plain Uint8Arrays over the bytes of a pushed subclass (a Buffer), never copies', () => {
      const frame = dataFrame(3, 100)
      const pushed = new Bytes(frame.byteLength + 10).subarray(5, 5 + frame.byteLength)
      pushed.set(frame)
      const [payload] = payloadsOf(pushed)
      expect(Object.getPrototypeOf(payload)).to.equal(Uint8Array.prototype)
      expect((payload as Uint8Array).buffer).to.equal(pushed.buffer)
      expect(payload).to.deep.equal(frame.subarray(8))
    })

    it('are plain Uint8Arrays when the subclass arrives in a list and the payload spans its pieces', () => {
      const frame = dataFrame(3, 100)
      const pieces = [frame.subarray(0, 40), frame.subarray(40)].map(piece => Bytes.from(piece))
      const [payload] = payloadsOf(new Uint8ArrayList(...pieces))
      const views = payload instanceof Uint8ArrayList ? [...payload] : [payload]
      expect(views).to.have.lengthOf(2)
      expect(views.every(view => Object.getPrototypeOf(view) === Uint8Array.prototype)).to.equal(true)
      expect(payload.subarray()).to.deep.equal(frame.subarray(8))
    })
  })

  describe('frames.json', () => {
    const vectors = loadVectors<FrameVector[]>('frames.json')

    it('has vectors of every frame type', () => {
      expect(new Set(vectors.map(vector => vector.frame.type))).to.deep.equal(new Set([FrameType.SYN, FrameType.RST, FrameType.DATA, FrameType.WNDINC, FrameType.GOAWAY]))
    })

    for (const vector of vectors) {
      describe(vector.name, () => {
        const bytes = vectorBytes(vector)
        const expected = expectedFrame(vector.frame)

        it(`decodes to its fields and consumes ${vector.totalBytes} bytes`, () => {
          expect(bytes.byteLength).to.equal(vector.totalBytes)
          const { frames, bufferedBytes } = decodeChunks([bytes])
          expect(frames).to.deep.equal([expected])
          expect(bufferedBytes).to.equal(0)
        })

        it('leaves the bytes that follow it for the next frames', () => {
          const follow = fromHex(FOLLOW_HEX)
          expect(decodeChunks([concatBytes([bytes, follow])]).frames).to.deep.equal([expected, ...FOLLOW_FRAMES])

          const partial = decodeChunks([concatBytes([bytes, follow.subarray(0, 5)])])
          expect(partial.frames).to.deep.equal([expected])
          expect(partial.bufferedBytes).to.equal(5)
        })

        it(`is delivered exactly when byte ${vector.totalBytes} arrives`, () => {
          const result = feedBytewise(concatBytes([bytes, fromHex(FOLLOW_HEX)]))
          expect(result.error).to.be.undefined()
          expect(result.frames).to.deep.equal([expected, ...FOLLOW_FRAMES])
          expect(result.deliveredAt).to.deep.equal([vector.totalBytes, vector.totalBytes + 12, vector.totalBytes + 25])
        })
      })
    }

    it('Go-form GOAWAYs (length field 16 + debug) consume exactly 16 bytes', () => {
      const goaways = vectors.filter(vector => vector.frame.type === FrameType.GOAWAY)
      expect(goaways).to.not.be.empty()
      for (const vector of goaways) {
        expect(vector.totalBytes, vector.name).to.equal(16)
        expect(vector.goReadFollowedBy?.followHex, vector.name).to.equal(FOLLOW_HEX)
        const decoded = decodeChunks([fromHex(vector.hex), fromHex(FOLLOW_HEX)])
        expect(decoded.frames, vector.name).to.deep.equal([expectedFrame(vector.frame), ...FOLLOW_FRAMES])
      }
    })
  })

  describe('malformed.json', () => {
    const vectors = loadVectors<MalformedVector[]>('malformed.json')

    /** goaway-len0..7 carry their expectation as a sentence: accept, reading exactly 8 body bytes */
    function expectation (vector: MalformedVector): MalformedExpectation {
      if (typeof vector.expected !== 'string') {
        return vector.expected
      }
      const match = /^goaway-len([0-7])$/.exec(vector.name)
      if (match == null) {
        throw new Error(`Unexpected plain-string expectation on ${vector.name}`)
      }
      const length = Number(match[1])
      return {
        action: 'accept',
        frame: { type: FrameType.GOAWAY, flags: 0, length, streamId: 0, lastStreamId: 3, errorCode: ErrorCode.ProtocolError },
        consume: 16
      }
    }

    it('has every action', () => {
      expect(new Set(vectors.map(vector => expectation(vector).action))).to.deep.equal(new Set(['session-error', 'accept', 'need-more']))
      const sentences = vectors.filter(vector => typeof vector.expected === 'string')
      expect(sentences).to.have.lengthOf(8)
      for (const vector of sentences) {
        // header length L, body: last id 3, code ProtocolError
        const length = expectation(vector).frame?.length ?? -1
        expect(vector.hex).to.equal(`000${length}0006000000000000000300000001`)
      }
    })

    for (const vector of vectors) {
      const bytes = fromHex(vector.hex)
      const expected = expectation(vector)

      if (expected.action === 'session-error') {
        describe(`${vector.name}: session error ${expected.goawayCode ?? '?'}`, () => {
          it('throws FrameError once the 8 header bytes are in, not before', () => {
            expect(expected.decideAfterBytes).to.equal(8)
            const result = feedBytewise(bytes)
            expectFrameError(result.error, expected.goawayCode ?? -1)
            expect(result.errorAt).to.equal(expected.decideAfterBytes)
            expect(result.frames).to.be.empty()
          })

          it('throws the same when all bytes arrive at once', () => {
            const decoder = new FrameDecoder()
            const recorder = new Recorder()
            decoder.push(bytes)
            let error: unknown
            try {
              decoder.decode(recorder)
            } catch (err) {
              error = err
            }
            expectFrameError(error, expected.goawayCode ?? -1)
            expect(recorder.frames).to.be.empty()
          })
        })
      } else if (expected.action === 'accept') {
        describe(`${vector.name}: accept`, () => {
          const frame = expectedFrame(expected.frame ?? { type: -1, flags: 0, length: 0, streamId: 0 })

          it(`decodes to the masked fields and consumes ${expected.consume ?? '?'} bytes`, () => {
            const { frames, bufferedBytes } = decodeChunks([bytes])
            expect(frames).to.deep.equal([frame])
            expect(bytes.byteLength - bufferedBytes).to.equal(expected.consume)
          })

          it('delivers the frame exactly when its last byte arrives', () => {
            const result = feedBytewise(bytes)
            expect(result.error).to.be.undefined()
            expect(result.frames).to.deep.equal([frame])
            expect(result.deliveredAt).to.deep.equal([expected.consume])
          })
        })
      } else {
        describe(`${vector.name}: need more`, () => {
          it('keeps the bytes: no frame and no error', () => {
            expect(expected.consume).to.equal(0)
            const whole = decodeChunks([bytes])
            expect(whole.frames).to.be.empty()
            const result = feedBytewise(bytes)
            expect(result.error).to.be.undefined()
            expect(result.frames).to.be.empty()
          })

          it(`decides after byte ${expected.decideAfterBytes ?? '?'}`, () => {
            const decideAfter = expected.decideAfterBytes ?? -1
            expect(decideAfter).to.be.greaterThan(bytes.byteLength)
            const padded = concatBytes([bytes, new Uint8Array(decideAfter - bytes.byteLength)])
            const result = feedBytewise(padded)
            expect(result.error).to.be.undefined()
            if (decideAfter > 8) {
              // the header was complete and legal: the frame comes with its last body byte
              expect(result.deliveredAt).to.deep.equal([decideAfter])
              expect(result.frames).to.deep.equal(decodeChunks([padded]).frames)
              expect(result.bufferedBytes).to.equal(0)
            } else {
              // the 8th byte completes a legal header, whose body is still to come
              expect(result.frames).to.be.empty()
            }
          })
        })
      }
    }

    it('keeps the GOAWAY debug bytes of goaway-len11-with-debug as the start of the next header', () => {
      const decoder = new FrameDecoder()
      const recorder = new Recorder()
      decoder.push(fromHex('000b0006000000000000000500000002616263'))
      expect(decoder.decode(recorder)).to.equal(1)
      expect(decoder.bufferedBytes).to.equal(3)
      // 61 62 63 + 5 zero bytes: a header whose type byte is 0x00, an unknown type
      decoder.push(fromHex('0000000000'))
      let error: unknown
      try {
        decoder.decode(recorder)
      } catch (err) {
        error = err
      }
      expectFrameError(error, ErrorCode.ProtocolError)
    })
  })

  describe('session-trace.json', () => {
    const trace = loadVectors<SessionTrace>('session-trace.json')
    const directions: Direction[] = ['c2s', 's2c']

    function chunksOf (dir: Direction): Uint8Array[] {
      return trace.chunks.filter(chunk => chunk.dir === dir).map(chunk => fromHex(chunk.hex))
    }

    /** The trace writes DATA payloads out only up to 16 bytes */
    function comparable (listed: TraceFrame, decoded: DecodedFrame): [DecodedFrame, DecodedFrame] {
      const expected = expectedFrame(listed)
      if (decoded.type === FrameType.DATA && expected.payloadHex == null) {
        const { payloadHex, ...rest } = decoded
        return [expected, rest]
      }
      return [expected, decoded]
    }

    for (const dir of directions) {
      const chunks = chunksOf(dir)
      const { list } = trace.frames[dir]

      it(`${dir}: the recorded chunks decode to frames.${dir}.list`, () => {
        expect(chunks).to.have.lengthOf(trace.frames[dir].chunks)
        expect(concatBytes(chunks).byteLength).to.equal(trace.frames[dir].bytes)
        const { frames, bufferedBytes } = decodeChunks(chunks)
        expect(frames).to.have.lengthOf(list.length)
        for (let i = 0; i < list.length; i++) {
          const [expected, actual] = comparable(list[i], frames[i])
          expect(actual, `frame ${i}`).to.deep.equal(expected)
        }
        expect(bufferedBytes).to.equal(0)
      })

      it(`${dir}: each frame is delivered with the chunk that completes it`, () => {
        const decoder = new FrameDecoder()
        const recorder = new Recorder()
        const deliveredIn: number[] = []
        const chunkEnds: number[] = []
        let end = 0
        for (let i = 0; i < chunks.length; i++) {
          end += chunks[i].byteLength
          chunkEnds.push(end)
          decoder.push(chunks[i])
          const handled = decoder.decode(recorder)
          for (let n = 0; n < handled; n++) {
            deliveredIn.push(i)
          }
        }
        const completesIn: number[] = []
        for (const listed of list) {
          const frameEnd = listed.offset + listed.wireBytes
          completesIn.push(chunkEnds.findIndex(chunkEnd => chunkEnd >= frameEnd))
        }
        expect(deliveredIn).to.deep.equal(completesIn)
      })

      it(`${dir}: every stream's bytes arrive intact`, () => {
        const { recorder } = decodeChunks(chunks)
        expect(toHex(recorder.stream(5))).to.equal(toHex(text('hello world')))
        expect(toHex(recorder.stream(7))).to.equal(toHex(stream7Pattern(70000)))
        expect(toHex(recorder.stream(9))).to.equal(toHex(text('bye')))
        // one heartbeat ping each way on each heartbeat stream
        expect(toHex(recorder.stream(2))).to.equal('00000000')
        expect(toHex(recorder.stream(3))).to.equal('00000000')
      })
    }
  })

  describe('chunking invariance', () => {
    const trace = loadVectors<SessionTrace>('session-trace.json')

    /** Every frame type and edge, each with the frame the decoder must report */
    const mix: Array<[Uint8Array, DecodedFrame]> = [
      [encodeSyn(3), { type: FrameType.SYN, flags: 0, streamId: 3 }],
      [encodeSyn(5, 0x2a), { type: FrameType.SYN, flags: Flag.TYPE, streamId: 5, streamType: 0x2a }],
      [encodeSyn(7, 0, 0x10), { type: FrameType.SYN, flags: Flag.PRIORITY, streamId: 7, priority: 0x10 }],
      [encodeSyn(9, HEARTBEAT_STREAM_TYPE, MAX_UINT31), { type: FrameType.SYN, flags: Flag.PRIORITY | Flag.TYPE, streamId: 9, priority: MAX_UINT31, streamType: HEARTBEAT_STREAM_TYPE }],
      [fromHex('0000010100000005'), { type: FrameType.SYN, flags: Flag.FIN, streamId: 5 }],
      [encodeDataHeader(3, 0, false), { type: FrameType.DATA, flags: 0, streamId: 3, payloadLength: 0, payloadHex: '' }],
      [dataFrame(3, text('x'), false), { type: FrameType.DATA, flags: 0, streamId: 3, payloadLength: 1, payloadHex: '78' }],
      [dataFrame(5, seededBytes(MAX_PAYLOAD, 1), false), { type: FrameType.DATA, flags: 0, streamId: 5, payloadLength: MAX_PAYLOAD, payloadHex: toHex(seededBytes(MAX_PAYLOAD, 1)) }],
      [encodeWndinc(3, 1), { type: FrameType.WNDINC, flags: 0, streamId: 3, increment: 1 }],
      [dataFrame(7, seededBytes(1000, 2), true), { type: FrameType.DATA, flags: Flag.FIN, streamId: 7, payloadLength: 1000, payloadHex: toHex(seededBytes(1000, 2)) }],
      [encodeWndinc(MAX_UINT31, MAX_UINT31), { type: FrameType.WNDINC, flags: 0, streamId: MAX_UINT31, increment: MAX_UINT31 }],
      ...errorCodes.map((code): [Uint8Array, DecodedFrame] => [encodeRst(code + 1, code), { type: FrameType.RST, flags: 0, streamId: code + 1, errorCode: code }]),
      // Go's GOAWAY: length field 31, 8 body bytes
      [fromHex('001f0006000000000000000300000000'), { type: FrameType.GOAWAY, flags: 0, streamId: 0, lastStreamId: 3, errorCode: 0 }],
      // every reserved bit set, unused flag 0x80
      [fromHex('c00580e38000000368656c6c6f'), { type: FrameType.DATA, flags: 0x80, streamId: 3, payloadLength: 5, payloadHex: '68656c6c6f' }],
      [fromHex('0004ff0400000003ffffffff'), { type: FrameType.WNDINC, flags: 0, streamId: 3, increment: MAX_UINT31 }],
      [dataFrame(9, seededBytes(300, 3), false), { type: FrameType.DATA, flags: 0, streamId: 9, payloadLength: 300, payloadHex: toHex(seededBytes(300, 3)) }],
      [encodeGoaway(9, ErrorCode.InternalError), { type: FrameType.GOAWAY, flags: 0, streamId: 0, lastStreamId: 9, errorCode: ErrorCode.InternalError }]
    ]

    const streams: Array<[string, Uint8Array[]]> = [
      ['session trace c2s', trace.chunks.filter(chunk => chunk.dir === 'c2s').map(chunk => fromHex(chunk.hex))],
      ['session trace s2c', trace.chunks.filter(chunk => chunk.dir === 's2c').map(chunk => fromHex(chunk.hex))],
      ['a mix of every frame type', mix.map(([bytes]) => bytes)]
    ]

    it('the mix decodes to its frames', () => {
      const { frames, bufferedBytes } = decodeChunks([concatBytes(mix.map(([bytes]) => bytes))])
      expect(frames).to.deep.equal(mix.map(([, frame]) => frame))
      expect(bufferedBytes).to.equal(0)
    })

    for (const [name, recorded] of streams) {
      describeInvariance(name, recorded)
    }

    it('hands out a contiguous payload as a view of the input, not a copy', () => {
      const input = dataFrame(3, text('hello'), false)
      const { recorder } = decodeChunks([input])
      const [payload] = recorder.payloads
      expect(payload).to.be.an.instanceOf(Uint8Array)
      expect((payload as Uint8Array).buffer).to.equal(input.buffer)
      expect((payload as Uint8Array).byteOffset).to.equal(8)
    })
  })

  describe('FrameDecoder', () => {
    const three = concatBytes([encodeSyn(3), encodeWndinc(3, 7), encodeGoaway(3)])

    it('decodes nothing from nothing', () => {
      const decoder = new FrameDecoder()
      expect(decoder.decode(new Recorder())).to.equal(0)
      expect(decoder.bufferedBytes).to.equal(0)
    })

    it('stops after maxFrames and resumes where it stopped', () => {
      const decoder = new FrameDecoder()
      const recorder = new Recorder()
      decoder.push(three)
      expect(decoder.decode(recorder, 0)).to.equal(0)
      expect(decoder.bufferedBytes).to.equal(36)
      expect(decoder.decode(recorder, 1)).to.equal(1)
      expect(decoder.bufferedBytes).to.equal(28)
      expect(decoder.decode(recorder, 5)).to.equal(2)
      expect(decoder.bufferedBytes).to.equal(0)
      expect(decoder.decode(recorder)).to.equal(0)
      expect(recorder.frames.map(frame => frame.type)).to.deep.equal([FrameType.SYN, FrameType.WNDINC, FrameType.GOAWAY])
    })

    it('counts pushed bytes until they are decoded, ignoring empty chunks', () => {
      const decoder = new FrameDecoder()
      decoder.push(new Uint8Array(0))
      decoder.push(new Uint8ArrayList())
      decoder.push(three.subarray(0, 3))
      decoder.push(new Uint8ArrayList(three.subarray(3, 10), new Uint8Array(0), three.subarray(10, 20)))
      expect(decoder.bufferedBytes).to.equal(20)
      const recorder = new Recorder()
      expect(decoder.decode(recorder)).to.equal(2)
      expect(decoder.bufferedBytes).to.equal(0)
      decoder.push(three.subarray(20))
      expect(decoder.bufferedBytes).to.equal(16)
      expect(decoder.decode(recorder)).to.equal(1)
      expect(recorder.frames.map(frame => frame.type)).to.deep.equal([FrameType.SYN, FrameType.WNDINC, FrameType.GOAWAY])
    })

    it('reports a DATA payload split over pushes by content', () => {
      const decoder = new FrameDecoder()
      const recorder = new Recorder()
      decoder.push(fromHex('00050103000000036865'))
      expect(decoder.decode(recorder)).to.equal(0)
      decoder.push(fromHex('6c6c6f'))
      expect(decoder.decode(recorder)).to.equal(1)
      expect(recorder.frames).to.deep.equal([{ type: FrameType.DATA, flags: Flag.FIN, streamId: 3, payloadLength: 5, payloadHex: '68656c6c6f' }])
      expect(toHex(recorder.payloads[0])).to.equal('68656c6c6f')
    })

    it('hands on a payload that arrives as a chunk of its own as that chunk, and a part of a chunk as a view', () => {
      const decoder = new FrameDecoder()
      const recorder = new Recorder()
      const payload = fromHex('68656c6c6f')
      decoder.push(encodeDataHeader(3, payload.byteLength, false))
      decoder.push(payload)
      const shared = concatBytes([encodeDataHeader(5, 2, false), fromHex('6869'), encodeDataHeader(5, 1, true), fromHex('21')])
      decoder.push(shared)
      expect(decoder.decode(recorder)).to.equal(3)
      expect(recorder.payloads[0]).to.equal(payload)
      expect(recorder.payloads[1]).to.not.equal(shared)
      expect((recorder.payloads[1] as Uint8Array).buffer).to.equal(shared.buffer)
      expect(recorder.payloads.map(toHex)).to.deep.equal(['68656c6c6f', '6869', '21'])
    })
  })
})
