import { expect } from 'aegir/chai'
import { ErrorCode, FrameType, TooManyUselessFramesError } from '../../src/index.ts'
import { LateFrames } from '../../src/late-frames.ts'
import { encodeRst, encodeSyn, encodeWndinc } from '../../src/protocol/index.ts'
import { RawPeer } from '../helpers/raw-peer.ts'
import { abortAndExpectReleased, acceptAll, concatBytes, dataFrame, expectGoaway, resetByApp, sleep, trackTimers, until } from './harness.ts'
import type { MuxadoInit, MuxadoStream } from '../../src/index.ts'

/**
 * Rows 13, 14 and 16 count frames for closed streams as useless. A Go peer sends some of them in
 * normal traffic: a WNDINC per Read() of data that arrived before it saw our FIN, a second FIN
 * from Close() after HalfClose(), RST StreamClosed for our last frame on a stream it removed.
 * Those are expected up to what the stream could still produce; past that they count again.
 */

/**
 * Stream 3 opened by the peer: our app sends `bytes`, the peer grants `granted` of them back, both
 * sides FIN, and the stream is gone
 */
async function closedStream (bytes: number, init: MuxadoInit = { maxUselessFrames: 5 }, granted = 0): Promise<RawPeer> {
  const peer = new RawPeer('server', init)
  const accepted = acceptAll(peer)
  peer.send(encodeSyn(3))
  await until(() => accepted.has(3), 'stream 3')
  const stream = accepted.get(3) as MuxadoStream
  stream.send(new Uint8Array(bytes))
  if (granted > 0) { peer.send(encodeWndinc(3, granted)) }
  await stream.close()
  peer.send(dataFrame(3, 0, true))
  await until(() => stream.status === 'closed', 'stream 3 to close')
  return peer
}

/** `count` WNDINCs of `increment` for stream 3 in one chunk */
function wndincs (count: number, increment = 1): Uint8Array {
  return concatBytes(Array.from({ length: count }, () => encodeWndinc(3, increment)))
}

describe('hostile: late frames for closed streams (a Go peer\'s normal traffic)', function () {
  this.timeout(10_000)
  const timers = trackTimers()

  it('WNDINCs after close adding up to what we sent and were not granted are expected, one byte more counts as useless', async () => {
    const peer = await closedStream(10_000)
    // a Go reader with a 1-byte buffer: 10,000 grants, all after our stream is gone
    peer.send(wndincs(10_000))
    await sleep(5)
    expect(peer.muxer.status).to.equal('open')
    expect(peer.framesOf(FrameType.RST)).to.deep.equal([])

    peer.send(wndincs(6))
    await expectGoaway(peer, ErrorCode.ProtocolError)
    expect(peer.sessionError).to.be.instanceOf(TooManyUselessFramesError)
  })

  it('grants the peer made before the close are not expected again', async () => {
    const peer = await closedStream(10_000, { maxUselessFrames: 5 }, 4000)
    peer.send(wndincs(1, 6000))
    await sleep(5)
    expect(peer.muxer.status).to.equal('open')
    peer.send(wndincs(6, 1))
    await expectGoaway(peer, ErrorCode.ProtocolError)
  })

  it('a second FIN and one RST StreamClosed are expected once per closed stream', async () => {
    const peer = await closedStream(100, { maxUselessFrames: 2 })
    peer.send(dataFrame(3, 0, true), encodeRst(3, ErrorCode.StreamClosed))
    await sleep(5)
    expect(peer.muxer.status).to.equal('open')
    peer.send(dataFrame(3, 0, true), encodeRst(3, ErrorCode.StreamClosed), dataFrame(3, 0, true))
    await expectGoaway(peer, ErrorCode.ProtocolError)
  })

  it('an RST with any other code after close counts as useless', async () => {
    const peer = await closedStream(100, { maxUselessFrames: 2 })
    peer.send(encodeRst(3, ErrorCode.Cancel), encodeRst(3, ErrorCode.Cancel), encodeRst(3, ErrorCode.Cancel))
    await expectGoaway(peer, ErrorCode.ProtocolError)
  })

  it('a stream reset before the peer\'s FIN may still get both of Go\'s FINs', async () => {
    const { peer } = await resetByApp({ maxUselessFrames: 1 })
    peer.send(dataFrame(3, 0, true), dataFrame(3, 0, true))
    await sleep(5)
    expect(peer.muxer.status).to.equal('open')
    peer.send(dataFrame(3, 0, true), dataFrame(3, 0, true))
    await expectGoaway(peer, ErrorCode.ProtocolError)
  })

  it('streams forgotten past the bounded record count as useless again', async () => {
    // the record holds 2 × (1 + 1) = 4 closed streams
    const peer = new RawPeer('server', { maxInboundStreams: 1, maxOutboundStreams: 1, maxUselessFrames: 5 })
    const accepted = acceptAll(peer)
    for (const id of [3, 5, 7, 9, 11]) {
      peer.send(encodeSyn(id))
      await until(() => accepted.has(id), `stream ${id}`)
      const stream = accepted.get(id) as MuxadoStream
      stream.send(new Uint8Array(1000))
      await stream.close()
      peer.send(dataFrame(id, 0, true))
      await until(() => stream.status === 'closed', `stream ${id} to close`)
    }
    expect((peer.muxer as any).lateFrames.size).to.equal(4)
    peer.send(concatBytes(Array.from({ length: 10 }, () => encodeWndinc(5, 100))))
    await sleep(5)
    expect(peer.muxer.status).to.equal('open')
    peer.send(concatBytes(Array.from({ length: 6 }, () => encodeWndinc(3, 1))))
    await expectGoaway(peer, ErrorCode.ProtocolError)
  })

  it('the open session is released as usual', async () => {
    const peer = await closedStream(1000)
    peer.send(wndincs(1000))
    await abortAndExpectReleased(peer.muxer, timers)
  })
})

describe('LateFrames', () => {
  it('expects WNDINCs up to the ungranted bytes, an increment of 0 never', () => {
    const late = new LateFrames(10)
    late.streamClosed(3, { ungrantedBytes: 100, peerFinished: true })
    expect(late.expectWndinc(3, 0)).to.equal(false)
    expect(late.expectWndinc(3, 60)).to.equal(true)
    expect(late.expectWndinc(3, 41)).to.equal(false)
    expect(late.expectWndinc(3, 40)).to.equal(true)
    expect(late.expectWndinc(3, 1)).to.equal(false)
    expect(late.expectWndinc(5, 1), 'an id it never saw').to.equal(false)
  })

  it('expects one FIN after the peer\'s, two when the peer had not finished, one RST StreamClosed', () => {
    const late = new LateFrames(10)
    late.streamClosed(3, { ungrantedBytes: 0, peerFinished: true })
    late.streamClosed(5, { ungrantedBytes: 0, peerFinished: false })
    expect([late.expectFin(3), late.expectFin(3)]).to.deep.equal([true, false])
    expect([late.expectFin(5), late.expectFin(5), late.expectFin(5)]).to.deep.equal([true, true, false])
    expect(late.expectRst(3, ErrorCode.Cancel)).to.equal(false)
    expect([late.expectRst(3, ErrorCode.StreamClosed), late.expectRst(3, ErrorCode.StreamClosed)]).to.deep.equal([true, false])
  })

  it('answers late DATA once per id, remembered or not', () => {
    const late = new LateFrames(10)
    late.streamClosed(3, { ungrantedBytes: 0, peerFinished: true })
    expect([late.answerLateData(3), late.answerLateData(3)]).to.deep.equal([true, false])
    expect([late.answerLateData(7), late.answerLateData(7)]).to.deep.equal([true, false])
  })

  it('forgets the stream that closed longest ago past its capacity', () => {
    const late = new LateFrames(2)
    for (const id of [3, 5, 7]) { late.streamClosed(id, { ungrantedBytes: 10, peerFinished: true }) }
    expect(late.size).to.equal(2)
    expect(late.expectWndinc(3, 1)).to.equal(false)
    expect(late.expectWndinc(5, 1)).to.equal(true)
    expect(late.expectWndinc(7, 1)).to.equal(true)
  })
})
