import { expect } from 'aegir/chai'
import { DataAfterFinError, ErrorCode, FlowControlError, FrameType, ProtocolViolationError, StreamIdsExhaustedError, TooManyUselessFramesError } from '../../src/index.ts'
import { encodeDataHeader, encodeRst, encodeSyn, encodeWndinc } from '../../src/protocol/index.ts'
import { RawPeer } from '../helpers/raw-peer.ts'
import { abortAndExpectReleased, acceptAll, closeError, concatBytes, counters, dataFrame, dataFrames, sendAllCredit, expectGoaway, expectReleased, header, isGoaway, resetByApp, sentOn, sleep, trackTimers, u32, until } from './harness.ts'
import type { MuxadoStream } from '../../src/index.ts'

/**
 * Rows of the fault checklist (docs/fault-checklist.md) about stream state and flow control: windows, ids, limits, FIN.
 */

/** A listener that consumes (and counts) everything the stream delivers */
function reader (stream: MuxadoStream): () => number {
  let bytes = 0
  stream.addEventListener('message', (evt) => { bytes += evt.data.byteLength })
  return () => bytes
}

describe('hostile: stream and flow-control rows of the fault checklist (docs/fault-checklist.md)', function () {
  this.timeout(10_000)
  const timers = trackTimers()

  it('row 10: DATA length > remaining stream window → RST FlowControlError, nothing buffered, next frame parses', async () => {
    const peer = new RawPeer('server')
    const accepted = acceptAll(peer)
    peer.send(encodeSyn(3), encodeSyn(5), ...dataFrames(3, 60000))
    await until(() => accepted.get(3)?.readBufferLength === 60000, '60000 bytes buffered on stream 3')
    const overrun = accepted.get(3) as MuxadoStream
    const other = accepted.get(5) as MuxadoStream
    const otherReceived = reader(other)
    const closed = closeError(overrun)
    let delivered = 0
    const onData = overrun.onData.bind(overrun)
    overrun.onData = (data) => { delivered += data.byteLength; onData(data) }

    // 10000 > 5536 left; then frames that must still parse
    peer.send(concatBytes([dataFrame(3, 10000), encodeSyn(7), dataFrame(5, 5)]))
    const rst = await peer.waitForFrame(f => f.type === FrameType.RST)
    expect(rst).to.include({ streamId: 3, errorCode: ErrorCode.FlowControlError })
    await until(() => accepted.has(7) && otherReceived() === 5, 'the frames after the overrun')
    expect(delivered, 'bytes of the overrunning frame that reached the stream').to.equal(0)
    expect(closed.error).to.be.instanceOf(FlowControlError)
    expect(other.status).to.equal('open')
    expect(peer.muxer.status).to.equal('open')
    expect(counters(peer.muxer)).to.include({ streams: 2, streamsById: 2, inbound: 2 })
    await abortAndExpectReleased(peer.muxer, timers)
  })

  it('row 11: SYN, then DATA totalling 65537 bytes before any WNDINC → RST FlowControlError on the overflowing frame, stream freed', async () => {
    const peer = new RawPeer('server')
    const accepted = acceptAll(peer)
    peer.send(encodeSyn(3), ...dataFrames(3, 65536))
    await until(() => accepted.get(3)?.readBufferLength === 65536, 'the full window buffered')
    const stream = accepted.get(3) as MuxadoStream
    const closed = closeError(stream)
    expect(peer.framesOf(FrameType.RST)).to.deep.equal([])
    peer.send(dataFrame(3, 1))
    const rst = await peer.waitForFrame(f => f.type === FrameType.RST)
    expect(rst).to.include({ streamId: 3, errorCode: ErrorCode.FlowControlError })
    expect(closed.error).to.be.instanceOf(FlowControlError)
    expect(stream.readBufferLength).to.equal(0)
    expect(counters(peer.muxer)).to.include({ streams: 0, streamsById: 0, inbound: 0 })
    expect(peer.muxer.status).to.equal('open')
    await abortAndExpectReleased(peer.muxer, timers)
  })

  for (const [kind, frame] of [
    ['DATA', (id: number) => dataFrame(id, 1)],
    ['RST', (id: number) => encodeRst(id, ErrorCode.Cancel)],
    ['WNDINC', (id: number) => encodeWndinc(id, 1)]
  ] as const) {
    it(`row 12: ${kind} on a never-opened id of the peer's parity above its last SYN → GOAWAY ProtocolError`, async () => {
      const peer = new RawPeer('server')
      acceptAll(peer)
      peer.send(encodeSyn(3))
      await sleep(2)
      const stream = peer.muxer.streams[0]
      const closed = closeError(stream)
      peer.send(frame(5))
      await expectGoaway(peer, ErrorCode.ProtocolError)
      expect(peer.sessionError).to.be.instanceOf(ProtocolViolationError)
      expect(closed.error).to.be.instanceOf(ProtocolViolationError)
      await expectReleased(peer.muxer, timers)
    })

    it(`row 12: ${kind} on one of our ids we never opened → GOAWAY ProtocolError`, async () => {
      const peer = new RawPeer('server')
      const stream = await peer.muxer.createStream()
      const closed = closeError(stream)
      peer.send(frame(4))
      await expectGoaway(peer, ErrorCode.ProtocolError)
      expect(closed.error).to.be.instanceOf(ProtocolViolationError)
      await expectReleased(peer.muxer, timers)
    })
  }

  it('row 13: DATA on a reset id → body drained, one RST StreamClosed per id, FIN-only DATA ignored, next frame parses', async () => {
    const { peer, accepted } = await resetByApp()
    const before = peer.frames.length
    peer.send(dataFrame(3, 100), dataFrame(3, 16383), dataFrame(3, 1), encodeDataHeader(3, 0, true), encodeSyn(5), dataFrame(5, 2))
    await until(() => accepted.get(5)?.readBufferLength === 2, 'the frames after')
    expect(peer.frames.slice(before)).to.deep.equal([{ type: FrameType.RST, streamId: 3, flags: 0, errorCode: ErrorCode.StreamClosed }])
    expect(peer.muxer.status).to.equal('open')
    await abortAndExpectReleased(peer.muxer, timers)
  })

  it('row 13: DATA on a reset id counts as useless → GOAWAY ProtocolError, TooManyUselessFramesError over budget', async () => {
    const peer = new RawPeer('server', { maxUselessFrames: 50 })
    const accepted = acceptAll(peer)
    peer.send(encodeSyn(3), encodeSyn(5))
    await until(() => accepted.size === 2, 'two streams')
    const closed = closeError(accepted.get(5) as MuxadoStream)
    accepted.get(3)?.abort(new Error('app gave up'))
    await sleep(2)
    peer.send(concatBytes(Array.from({ length: 60 }, () => dataFrame(3, 1))))
    await expectGoaway(peer, ErrorCode.ProtocolError)
    expect(peer.sessionError).to.be.instanceOf(TooManyUselessFramesError)
    expect(closed.error).to.be.instanceOf(TooManyUselessFramesError)
    expect(peer.framesOf(FrameType.RST, 3).filter(f => f.errorCode === ErrorCode.StreamClosed)).to.have.length(1)
    await expectReleased(peer.muxer, timers)
  })

  it('row 14: WNDINC and RST on a closed id → ignored (no reply), and counted as useless', async () => {
    const { peer } = await resetByApp({ maxUselessFrames: 50 })
    const before = peer.frames.length
    peer.send(encodeWndinc(3, 100), encodeRst(3, ErrorCode.Cancel))
    await sleep(5)
    expect(peer.frames.slice(before)).to.deep.equal([])
    expect(peer.muxer.status).to.equal('open')
    peer.send(concatBytes(Array.from({ length: 30 }, () => concatBytes([encodeWndinc(3, 1), encodeRst(3, 0)]))))
    await expectGoaway(peer, ErrorCode.ProtocolError)
    expect(peer.sessionError).to.be.instanceOf(TooManyUselessFramesError)
    await expectReleased(peer.muxer, timers)
  })

  it('row 15: WNDINC that makes the send window exceed 2^31 − 1 → RST FlowControlError, no wrap; up to 2^31 − 1 is fine', async () => {
    const peer = new RawPeer('client')
    const [a, b] = [await peer.muxer.createStream(), await peer.muxer.createStream()]
    const closedA = closeError(a)
    const closedB = closeError(b)
    peer.send(encodeWndinc(a.streamId, 0x7fffffff - 65536))
    await sleep(5)
    expect(closedA.closed).to.equal(false)
    expect((a as any).sendWindow).to.equal(0x7fffffff)
    peer.send(encodeWndinc(a.streamId, 1), encodeWndinc(b.streamId, 0x7fffffff))
    await until(() => closedA.closed && closedB.closed, 'both resets')
    expect(closedA.error).to.be.instanceOf(FlowControlError)
    expect(closedB.error).to.be.instanceOf(FlowControlError)
    expect(peer.framesOf(FrameType.RST).map(f => [f.streamId, f.errorCode])).to.deep.equal([[a.streamId, ErrorCode.FlowControlError], [b.streamId, ErrorCode.FlowControlError]])
    expect(peer.muxer.status).to.equal('open')
    await abortAndExpectReleased(peer.muxer, timers)
  })

  it('row 16: WNDINC increment 0 → a no-op with no reply, counted as useless (GOAWAY ProtocolError over budget)', async () => {
    const peer = new RawPeer('client', { maxUselessFrames: 50 })
    const stream = await peer.muxer.createStream()
    stream.send(new Uint8Array(70000))
    await until(() => sentOn(peer, stream.streamId) === 65536, 'the window to be used')
    const before = peer.frames.length
    peer.send(encodeWndinc(stream.streamId, 0))
    await sleep(5)
    expect(peer.frames.slice(before)).to.deep.equal([])
    expect(sentOn(peer, stream.streamId)).to.equal(65536)
    peer.send(concatBytes(Array.from({ length: 60 }, () => encodeWndinc(stream.streamId, 0))))
    await expectGoaway(peer, ErrorCode.ProtocolError)
    expect(peer.sessionError).to.be.instanceOf(TooManyUselessFramesError)
    await expectReleased(peer.muxer, timers)
  })

  it('row 17: WNDINC with the reserved high bit set → the bit is masked (0x80000064 grants 100)', async () => {
    const peer = new RawPeer('client')
    const stream = await peer.muxer.createStream()
    stream.send(new Uint8Array(65536 + 1000))
    await until(() => sentOn(peer, stream.streamId) === 65536, 'the window to be used')
    peer.send(header(FrameType.WNDINC, 0, stream.streamId, 4), u32(0x80000064))
    await until(() => sentOn(peer, stream.streamId) === 65636, '100 more bytes')
    await sleep(5)
    expect(sentOn(peer, stream.streamId)).to.equal(65636)
    expect(peer.framesOf(FrameType.RST)).to.deep.equal([])
    await abortAndExpectReleased(peer.muxer, timers)
  })

  it('row 20: duplicate SYN on an open id → GOAWAY ProtocolError, the stream is not replaced', async () => {
    const peer = new RawPeer('server')
    const accepted: MuxadoStream[] = []
    peer.muxer.addEventListener('stream', (evt) => { accepted.push(evt.detail) })
    peer.send(encodeSyn(3))
    await until(() => accepted.length === 1, 'stream 3')
    const closed = closeError(accepted[0])
    peer.send(encodeSyn(3))
    await expectGoaway(peer, ErrorCode.ProtocolError)
    expect(accepted).to.have.length(1)
    expect(closed.error).to.be.instanceOf(ProtocolViolationError)
    await expectReleased(peer.muxer, timers)
  })

  for (const [role, id, what] of [
    ['server', 2, 'even id to a server'],
    ['server', 4, 'even id to a server that opened 2'],
    ['client', 3, 'odd id to a client'],
    ['client', 5, 'odd id to a client that opened 3']
  ] as const) {
    it(`row 21: SYN with our own parity (${what}) → GOAWAY ProtocolError`, async () => {
      const peer = new RawPeer(role)
      const local = await peer.muxer.createStream()
      const closed = closeError(local)
      peer.send(encodeSyn(id))
      await expectGoaway(peer, ErrorCode.ProtocolError)
      expect(closed.error).to.be.instanceOf(ProtocolViolationError)
      await expectReleased(peer.muxer, timers)
    })
  }

  for (const [first, second] of [[7, 5], [7, 7], [9, 1]] as const) {
    it(`row 22: SYN id going backwards (${first} then ${second}) → GOAWAY ProtocolError`, async () => {
      const peer = new RawPeer('server')
      acceptAll(peer)
      peer.send(encodeSyn(first), encodeSyn(second))
      await expectGoaway(peer, ErrorCode.ProtocolError)
      expect(peer.sessionError).to.be.instanceOf(ProtocolViolationError)
      expect((await peer.waitForFrame(isGoaway)).lastStreamId).to.equal(first)
      await expectReleased(peer.muxer, timers)
    })
  }

  it('row 23: SYN id with the reserved bit set → masked, then checked like any id', async () => {
    const peer = new RawPeer('server')
    const accepted = acceptAll(peer)
    peer.send(header(FrameType.SYN, 0, 0x80000003, 0))
    await until(() => accepted.has(3), 'stream 3 (0x80000003 masked)')
    expect(peer.muxer.status).to.equal('open')
    // masked to 3 again: a duplicate
    peer.send(header(FrameType.SYN, 0, 0x80000003, 0))
    await expectGoaway(peer, ErrorCode.ProtocolError)
    expect((await peer.waitForFrame(isGoaway)).lastStreamId).to.equal(3)
    await expectReleased(peer.muxer, timers)
  })

  it('row 24: local id exhaustion → newStream throws StreamIdsExhaustedError, session alive, nothing on the wire', async () => {
    const peer = new RawPeer('client')
    const accepted = acceptAll(peer)
    ;(peer.muxer as any).nextLocalId = 0x7ffffffd
    const last = [await peer.muxer.createStream(), await peer.muxer.createStream()]
    expect(last.map(s => s.streamId)).to.deep.equal([0x7ffffffd, 0x7fffffff])
    await sleep(5)
    const before = peer.frames.length
    await expect(peer.muxer.createStream()).to.eventually.be.rejectedWith(StreamIdsExhaustedError)
    await sleep(5)
    expect(peer.frames.slice(before)).to.deep.equal([])
    expect(peer.muxer.status).to.equal('open')
    // the session still works both ways
    last[1].send(new Uint8Array([1, 2, 3]))
    peer.send(encodeSyn(2), dataFrame(2, 4))
    await until(() => accepted.get(2)?.readBufferLength === 4 && sentOn(peer, 0x7fffffff) === 3, 'traffic after exhaustion')
    expect(counters(peer.muxer)).to.include({ streams: 3, outbound: 2, inbound: 1 })
    await abortAndExpectReleased(peer.muxer, timers)
  })

  it('row 25: SYN beyond maxInboundStreams → RST RefusedStream; later streams work once slots free', async () => {
    const peer = new RawPeer('server', { maxInboundStreams: 2 })
    const accepted = acceptAll(peer)
    peer.send(encodeSyn(3), encodeSyn(5), encodeSyn(7))
    const rst = await peer.waitForFrame(f => f.type === FrameType.RST)
    expect(rst).to.include({ streamId: 7, errorCode: ErrorCode.RefusedStream })
    expect([...accepted.keys()]).to.deep.equal([3, 5])
    expect(counters(peer.muxer)).to.include({ streams: 2, streamsById: 2, inbound: 2 })
    // a refused id counts as seen: its DATA is answered like any closed stream's, not fatal
    peer.send(dataFrame(7, 1))
    await peer.waitForFrame(f => f.type === FrameType.RST && f.streamId === 7 && f.errorCode === ErrorCode.StreamClosed)
    peer.send(encodeRst(3, ErrorCode.Cancel), encodeSyn(9))
    await until(() => accepted.has(9), 'stream 9 once a slot is free')
    expect(peer.framesOf(FrameType.RST).filter(f => f.errorCode === ErrorCode.RefusedStream)).to.have.length(1)
    expect(counters(peer.muxer)).to.include({ streams: 2, streamsById: 2, inbound: 2 })
    await abortAndExpectReleased(peer.muxer, timers)
  })

  it('row 26: SYNs while the app accepts nothing (no separate backlog in libp2p: maxInboundStreams is it) → RST RefusedStream, the reader never blocks, later bad frames still detected', async () => {
    const peer = new RawPeer('server', { maxInboundStreams: 5 })
    // the app takes streams but never reads or answers them
    const accepted = acceptAll(peer)
    const syns = Array.from({ length: 8 }, (_, i) => encodeSyn(3 + 2 * i))
    peer.send(concatBytes([...syns, ...dataFrames(3, 65536)]))
    await until(() => peer.framesOf(FrameType.RST).length === 3, 'three refusals')
    expect(peer.framesOf(FrameType.RST).map(f => [f.streamId, f.errorCode])).to.deep.equal([[13, 6], [15, 6], [17, 6]])
    expect(accepted.size).to.equal(5)
    await until(() => accepted.get(3)?.readBufferLength === 65536, 'the unread stream to fill its window')
    // the frame loop is not stuck behind the unaccepted streams
    peer.send(encodeSyn(2))
    await expectGoaway(peer, ErrorCode.ProtocolError)
    await expectReleased(peer.muxer, timers)
  })

  it('row 27: SYNs before any stream handler, more than maxEarlyStreams → abort with MaxEarlyStreamsError', async () => {
    const peer = new RawPeer('server', { maxEarlyStreams: 3 })
    peer.send(encodeSyn(3), encodeSyn(5), encodeSyn(7))
    await sleep(5)
    expect(peer.muxer.status).to.equal('open')
    expect(counters(peer.muxer).early).to.equal(3)
    peer.send(encodeSyn(9))
    const goaway = await peer.waitForFrame(isGoaway)
    expect(peer.sessionError).to.have.property('name', 'MaxEarlyStreamsError')
    expect(goaway.errorCode).to.equal(ErrorCode.InternalError)
    await until(() => peer.muxer.status === 'closed', 'the session to close')
    peer.muxer.addEventListener('stream', () => {})
    await expectReleased(peer.muxer, timers)
  })

  it('row 38: DATA after FIN on the same stream → RST StreamClosed (DataAfterFinError); other streams unaffected', async () => {
    const peer = new RawPeer('server')
    const accepted = acceptAll(peer)
    peer.send(encodeSyn(3), encodeSyn(5))
    await until(() => accepted.size === 2, 'two streams')
    const closed = closeError(accepted.get(3) as MuxadoStream)
    const otherReceived = reader(accepted.get(5) as MuxadoStream)
    peer.send(dataFrame(3, 1, true), dataFrame(3, 1), dataFrame(5, 7))
    const rst = await peer.waitForFrame(f => f.type === FrameType.RST)
    expect(rst).to.include({ streamId: 3, errorCode: ErrorCode.StreamClosed })
    await until(() => closed.closed && otherReceived() === 7, 'the reset and the other stream\'s data')
    expect(closed.error).to.be.instanceOf(DataAfterFinError)
    expect(accepted.get(5)?.status).to.equal('open')
    expect(counters(peer.muxer)).to.include({ streams: 1, streamsById: 1 })
    await abortAndExpectReleased(peer.muxer, timers)
  })

  it('row 39: half-close both ways, then late DATA → stream removed, late frames drained, one RST StreamClosed', async () => {
    const peer = new RawPeer('server')
    const accepted = acceptAll(peer)
    peer.send(encodeSyn(3))
    await until(() => accepted.has(3), 'stream 3')
    const stream = accepted.get(3) as MuxadoStream
    const closed = closeError(stream)
    await stream.close()
    peer.send(dataFrame(3, 2, true))
    await until(() => closed.closed, 'the stream to close')
    expect(closed.error).to.equal(undefined)
    expect(counters(peer.muxer)).to.include({ streams: 0, streamsById: 0 })
    const before = peer.frames.length
    peer.send(dataFrame(3, 5), dataFrame(3, 5), encodeDataHeader(3, 0, true), dataFrame(3, 5), encodeSyn(5))
    await until(() => accepted.has(5), 'the SYN after the late frames')
    expect(peer.frames.slice(before)).to.deep.equal([{ type: FrameType.RST, streamId: 3, flags: 0, errorCode: ErrorCode.StreamClosed }])
    await abortAndExpectReleased(peer.muxer, timers)
  })

  it('row 40: the app reads nothing → the window stops the peer at 65536 bytes, read buffer ≤ window, no WNDINC', async () => {
    const peer = new RawPeer('server')
    const accepted = acceptAll(peer)
    peer.send(encodeSyn(3), ...dataFrames(3, 65536))
    await until(() => accepted.get(3)?.readBufferLength === 65536, 'a full window')
    await sleep(5)
    const stream = accepted.get(3) as MuxadoStream
    expect(peer.framesOf(FrameType.WNDINC)).to.deep.equal([])
    expect(stream.readBufferLength).to.be.at.most(stream.maxReadBufferLength)
    peer.send(dataFrame(3, 1))
    await peer.waitForFrame(f => f.type === FrameType.RST && f.errorCode === ErrorCode.FlowControlError)
    await abortAndExpectReleased(peer.muxer, timers)
  })

  it('row 40: the app reads, then pauses → grants stop; the read buffer stays within the granted window (≤ maxStreamWindow)', async () => {
    const maxStreamWindow = 256 * 1024
    const peer = new RawPeer('server', { maxStreamWindow })
    const accepted = acceptAll(peer)
    peer.send(encodeSyn(3))
    await until(() => accepted.has(3), 'stream 3')
    const stream = accepted.get(3) as MuxadoStream
    const received = reader(stream)
    // a peer that sends everything it is allowed, as fast as it can; the app pauses after 200 kB
    const sent = await sendAllCredit(peer, 3, 16383, (sentSoFar) => {
      if (sentSoFar >= 200_000 && stream.readStatus !== 'paused') { stream.pause() }
    })
    expect(stream.readStatus).to.equal('paused')
    expect(peer.framesOf(FrameType.RST)).to.deep.equal([])
    expect(received() + stream.readBufferLength).to.equal(sent)
    expect(stream.readBufferLength).to.be.greaterThan(0)
    expect(stream.readBufferLength).to.be.at.most(maxStreamWindow)
    const grantsWhilePaused = peer.framesOf(FrameType.WNDINC, 3).length
    await sleep(20)
    expect(peer.framesOf(FrameType.WNDINC, 3)).to.have.length(grantsWhilePaused)
    await abortAndExpectReleased(peer.muxer, timers)
  })

  it('a FIN costs no window: close() after using exactly the peer\'s window sends DATA|FIN at once, without waiting for WNDINC (Go v1 TestSendHalfCloseWithZeroWindow)', async () => {
    const peer = new RawPeer('client')
    const stream = await peer.muxer.createStream()
    stream.send(new Uint8Array(65536))
    await until(() => sentOn(peer, stream.streamId) === 65536, 'the window to be used')
    const closing = stream.close()
    await sleep(20)
    expect(peer.framesOf(FrameType.DATA, stream.streamId).filter(f => (f.flags & 1) !== 0), 'DATA|FIN').to.have.length(1)
    await closing
    expect(stream.writeStatus).to.equal('closed')
    await abortAndExpectReleased(peer.muxer, timers)
  })
})
