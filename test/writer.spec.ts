import { logger } from '@libp2p/logger'
import { expect } from 'aegir/chai'
import fc from 'fast-check'
import { Uint8ArrayList } from 'uint8arraylist'
import { FrameType } from '../src/protocol/constants.ts'
import { encodeWndinc } from '../src/protocol/encode.ts'
import { ConnectionWriter } from '../src/writer.ts'
import { concatBytes } from './helpers/bytes.ts'
import { decodeFrames } from './helpers/frames.ts'
import { propertyRuns } from './helpers/fuzz-settings.ts'
import { pattern } from './helpers/streams.ts'
import type { TransportProfile } from '../src/transport.ts'

/** A writer whose connection reports, after each send(), whether it still holds what it was given */
function writerOver (holds: () => boolean): { writer: ConnectionWriter, sent: Uint8Array[] } {
  const sent: Uint8Array[] = []
  const writer = new ConnectionWriter({
    send: (data: Uint8Array | Uint8ArrayList) => { sent.push(data as Uint8Array); return true },
    transport: { sendsViews: false, finishedWithSent: () => !holds() },
    onStall: () => {},
    writeTimeout: 1000,
    log: logger('test:writer')
  })
  return { writer, sent }
}

/** One batch of two pieces, so it is copied */
function sendBatch (writer: ConnectionWriter, fill: number): void {
  writer.enqueue(new Uint8Array(8).fill(fill))
  writer.enqueue(new Uint8Array(100).fill(fill))
  writer.flush()
}

describe('ConnectionWriter: scratch buffers', () => {
  it('a connection that holds nothing after send() gets every batch in the same buffer', () => {
    const { writer, sent } = writerOver(() => false)
    for (let i = 0; i < 5; i++) { sendBatch(writer, i) }
    expect(new Set(sent.map(batch => batch.buffer)).size).to.equal(1)
  })

  it('while the connection holds its batches, each gets a buffer of its own, four at most, then fresh memory; once it holds nothing they are reused', () => {
    let holding = true
    const { writer, sent } = writerOver(() => holding)
    for (let i = 0; i < 6; i++) { sendBatch(writer, i) }
    const scratch = sent.slice(0, 4).map(batch => batch.buffer)
    expect(new Set(scratch).size, 'four scratch buffers').to.equal(4)
    expect(scratch, 'batches 5 and 6 in fresh memory').to.not.include(sent[4].buffer).and.not.include(sent[5].buffer)
    sent.forEach((batch, i) => { expect(batch[0], `batch ${i} unchanged`).to.equal(i) })

    holding = false
    sendBatch(writer, 9)
    expect(scratch, 'the next batch reuses a scratch buffer').to.include(sent[6].buffer)
  })
})

describe('ConnectionWriter: frames queued while dispatching', () => {
  it('go out in one send as soon as the dispatch returns, not from a microtask', async () => {
    const { writer, sent } = writerOver(() => false)
    writer.whileDispatching(() => {
      writer.enqueue(new Uint8Array(8).fill(1))
      writer.enqueue(new Uint8Array(12).fill(2))
      expect(sent, 'nothing before the dispatch returns').to.have.lengthOf(0)
    })
    expect(sent, 'one send on return').to.have.lengthOf(1)
    expect(sent[0].byteLength).to.equal(20)
    await Promise.resolve()
    expect(sent, 'no second send from the microtask').to.have.lengthOf(1)
  })

  it('outside a dispatch they wait for a microtask', async () => {
    const { writer, sent } = writerOver(() => false)
    writer.enqueue(new Uint8Array(8))
    expect(sent).to.have.lengthOf(0)
    await Promise.resolve()
    expect(sent).to.have.lengthOf(1)
  })

  it('a nested dispatch leaves the send to the outer one', () => {
    const { writer, sent } = writerOver(() => false)
    writer.whileDispatching(() => {
      writer.whileDispatching(() => { writer.enqueue(new Uint8Array(8).fill(1)) })
      expect(sent, 'not sent by the inner dispatch').to.have.lengthOf(0)
      writer.enqueue(new Uint8Array(8).fill(2))
    })
    expect(sent).to.have.lengthOf(1)
    expect(sent[0].byteLength).to.equal(16)
  })

  it('a dispatch that throws still sends what it queued, and the error reaches the caller', () => {
    const { writer, sent } = writerOver(() => false)
    expect(() => {
      writer.whileDispatching(() => {
        writer.enqueue(new Uint8Array(8).fill(3))
        throw new Error('handler failed')
      })
    }).to.throw('handler failed')
    expect(sent).to.have.lengthOf(1)
    expect(sent[0][0]).to.equal(3)
  })
})

/** `data` as a list cut at `cuts` (those inside it), or itself when nothing cuts it */
function cutAt (data: Uint8Array, cuts: number[]): Uint8Array | Uint8ArrayList {
  const at = [0, ...cuts.filter(c => c < data.byteLength).sort((a, b) => a - b), data.byteLength]
  const pieces = at.slice(1).map((end, k) => data.subarray(at[k], end)).filter(p => p.byteLength > 0)
  return pieces.length === 1 ? data : new Uint8ArrayList(...pieces)
}

/** Every byte a writer hands its connection, in order */
function bytesSentOver (transport: TransportProfile, queue: (writer: ConnectionWriter) => void): Uint8Array {
  const sent: Uint8Array[] = []
  const writer = new ConnectionWriter({
    // copied: a scratch buffer is written again once the connection reports it is done with it
    send: (data) => { sent.push(data.slice()); return true },
    transport,
    onStall: () => {},
    writeTimeout: 1000,
    log: logger('test:writer')
  })
  queue(writer)
  writer.flush()
  return concatBytes(sent)
}

/** The pieces of every send a views-mode writer makes */
function piecesSentAsViews (queue: (writer: ConnectionWriter) => void): Uint8Array[] {
  const pieces: Uint8Array[] = []
  const writer = new ConnectionWriter({
    send: (data) => { pieces.push(...(data instanceof Uint8Array ? [data] : data)); return true },
    transport: { sendsViews: true },
    onStall: () => {},
    writeTimeout: 1000,
    log: logger('test:writer')
  })
  queue(writer)
  writer.flush()
  return pieces
}

describe('ConnectionWriter: short DATA frames as views', () => {
  it('a short write goes out as one piece, its payload copied in after the header', () => {
    const data = pattern(64, 1)
    const pieces = piecesSentAsViews(writer => { writer.enqueueData(3, data, 64) })
    expect(pieces).to.have.lengthOf(1)
    expect(pieces[0].buffer).to.not.equal(data.buffer)
    expect(decodeFrames(pieces[0])).to.deep.equal([{ type: FrameType.DATA, streamId: 3, flags: 0, payload: data }])
  })

  it('a short frame whose payload spans pieces of a list is copied together', () => {
    const data = pattern(30, 3)
    const pieces = piecesSentAsViews(writer => { writer.enqueueData(5, new Uint8ArrayList(data.subarray(0, 7), data.subarray(7, 19), data.subarray(19)), 30) })
    expect(pieces).to.have.lengthOf(1)
    expect(decodeFrames(pieces[0])).to.deep.equal([{ type: FrameType.DATA, streamId: 5, flags: 0, payload: data }])
  })

  it('full frames stay views of the write; only its short last frame is copied', () => {
    const data = pattern(65536, 2)
    const pieces = piecesSentAsViews(writer => { writer.enqueueData(3, data, 65536) })
    const uncopied = pieces.filter(piece => piece.buffer === data.buffer)
    expect(uncopied.map(piece => piece.byteLength)).to.deep.equal([16383, 16383, 16383, 16383])
    expect(pieces).to.have.lengthOf(9)
    expect(concatBytes(decodeFrames(concatBytes(pieces)).map(f => f.payload ?? new Uint8Array()))).to.deep.equal(data)
  })

  it('frames cut back to back from the slab merge into one piece, and a header never merges across a payload', () => {
    const long = pattern(65536, 4)
    const short = pattern(64, 5)
    const pieces = piecesSentAsViews(writer => {
      writer.enqueueData(3, long, 65536)
      writer.enqueueData(3, short, 64)
      writer.enqueue(encodeWndinc(3, 100))
    })
    // four headers and four payload views, then the 4-byte last frame, the short write and the WNDINC as one
    expect(pieces).to.have.lengthOf(9)
    const frames = decodeFrames(concatBytes(pieces))
    expect(frames.map(f => f.type)).to.deep.equal([...new Array(6).fill(FrameType.DATA), FrameType.WNDINC])
    expect(concatBytes(frames.slice(0, 6).map(f => f.payload ?? new Uint8Array()))).to.deep.equal(concatBytes([long, short]))
  })
})

describe('ConnectionWriter: framing', function () {
  this.timeout(30_000)

  it('DATA written in place into scratch buffers, copied into fresh memory and sent as views is the same bytes', () => {
    // writes of any size, as one buffer or a list cut anywhere, between control frames
    const write = fc.record({
      streamId: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
      bytes: fc.integer({ min: 1, max: 200_000 }),
      cuts: fc.array(fc.integer({ min: 1, max: 199_999 }), { maxLength: 4 })
    })
    fc.assert(fc.property(fc.array(write, { minLength: 1, maxLength: 6 }), (writes) => {
      const queue = (writer: ConnectionWriter): void => {
        writes.forEach(({ streamId, bytes, cuts }, i) => {
          writer.enqueue(Uint8Array.of(0, 4, 0, 3, 0, 0, 0, 9, 0, 0, 0, i))
          writer.enqueueData(streamId, cutAt(pattern(bytes, i), cuts), bytes)
        })
      }
      const inPlace = bytesSentOver({ sendsViews: false, finishedWithSent: () => true }, queue)
      const views = bytesSentOver({ sendsViews: true }, queue)
      const freshCopies = bytesSentOver({ sendsViews: false }, queue)
      expect(inPlace).to.deep.equal(views)
      expect(freshCopies).to.deep.equal(views)
      const frames = decodeFrames(views)
      expect(frames.filter(f => f.payload != null).every(f => (f.payload?.byteLength ?? 0) <= 16383)).to.equal(true)
    }), propertyRuns(50, 15))
  })
})
