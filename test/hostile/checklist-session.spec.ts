import { ConnectionClosedError, StreamBufferError, StreamResetError } from '@libp2p/interface'
import { MaxEarlyStreamsError } from '@libp2p/utils'
import { expect } from 'aegir/chai'
import { errorTable } from '../../src/errors.ts'
import { DataAfterFinError, ErrorCode, FlowControlError, FrameError, FrameType, HEARTBEAT_STREAM_TYPE, HeartbeatTimeoutError, ProtocolViolationError, RemoteGoAwayError, StreamChurnLimitError, StreamIdsExhaustedError, StreamResetByPeerError, TooManyUselessFramesError, UnexpectedEOFError, WriteTimeoutError } from '../../src/index.ts'
import { AcceptBacklogFullError, ConnectionLostError, SessionDestroyedError } from '../../src/net/errors.ts'
import { encodeDataHeader, encodeGoaway, encodeRst, encodeSyn, encodeWndinc } from '../../src/protocol/index.ts'
import { toHex } from '../helpers/bytes.ts'
import { RawPeer } from '../helpers/raw-peer.ts'
import { write } from '../helpers/streams.ts'
import { abortAndExpectReleased, acceptAll, closeError, concatBytes, counters, dataFrame, sendAllCredit, expectGoaway, expectReleased, expectReleasedExceptHidden, isGoaway, sentOn, sleep, trackTimers, until } from './harness.ts'
import type { MuxadoStream } from '../../src/index.ts'

/**
 * Rows of the fault checklist (docs/fault-checklist.md) about budgets, GOAWAY, slow peers, connection loss and the error
 * table.
 */

describe('hostile: budget, GOAWAY and connection rows of the fault checklist (docs/fault-checklist.md)', function () {
  this.timeout(10_000)
  const timers = trackTimers()

  it('row 28: SYN+RST churn (rapid reset) → GOAWAY ProtocolError, StreamChurnLimitError once over budget; open handlers cancelled', async () => {
    const peer = new RawPeer('server', { maxStreamResets: 50, maxStreamResetsPerSecond: 10 })
    const accepted = acceptAll(peer)
    peer.send(encodeSyn(3))
    await until(() => accepted.has(3), 'a long-lived stream')
    const handler = closeError(accepted.get(3) as MuxadoStream)
    // under the budget: nothing happens
    const pairs = (from: number, count: number): Uint8Array => concatBytes(Array.from({ length: count }, (_, i) => concatBytes([encodeSyn(from + 2 * i), encodeRst(from + 2 * i, ErrorCode.Cancel)])))
    peer.send(pairs(5, 40))
    await sleep(10)
    expect(peer.muxer.status).to.equal('open')
    expect(counters(peer.muxer)).to.include({ streams: 1, streamsById: 1 })
    peer.send(pairs(85, 40))
    await expectGoaway(peer, ErrorCode.ProtocolError)
    expect(peer.sessionError).to.be.instanceOf(StreamChurnLimitError)
    expect(handler.error).to.be.instanceOf(StreamChurnLimitError)
    // the peer's RSTs get no reply
    expect(peer.framesOf(FrameType.RST)).to.deep.equal([])
    await expectReleased(peer.muxer, timers)
  })

  it('row 29: peer-provoked local RSTs (MadeYouReset: WNDINC overflow, DATA after FIN, window overrun) share the churn budget → GOAWAY ProtocolError, StreamChurnLimitError', async () => {
    const peer = new RawPeer('server', { maxStreamResets: 30, maxStreamResetsPerSecond: 5 })
    const accepted = acceptAll(peer)
    const provoke = (id: number, how: number): Uint8Array[] => {
      if (how === 0) { return [encodeSyn(id), encodeWndinc(id, 0x7fffffff)] }
      if (how === 1) { return [encodeSyn(id), dataFrame(id, 1, true), dataFrame(id, 1)] }
      return [encodeSyn(id), dataFrame(id, 16383), dataFrame(id, 16383), dataFrame(id, 16383), dataFrame(id, 16383), dataFrame(id, 5)]
    }
    for (let i = 0; i < 25; i++) { peer.send(...provoke(3 + 2 * i, i % 3)) }
    await until(() => peer.framesOf(FrameType.RST).length === 25, '25 local resets')
    expect(peer.muxer.status).to.equal('open')
    expect(peer.framesOf(FrameType.RST).map(f => f.errorCode)).to.have.members(Array.from({ length: 25 }, (_, i) => [ErrorCode.FlowControlError, ErrorCode.StreamClosed, ErrorCode.FlowControlError][i % 3]))
    expect(accepted.size).to.equal(25)
    for (let i = 25; i < 40; i++) { peer.send(...provoke(3 + 2 * i, i % 3)) }
    await expectGoaway(peer, ErrorCode.ProtocolError)
    expect(peer.sessionError).to.be.instanceOf(StreamChurnLimitError)
    expect(peer.framesOf(FrameType.RST).length).to.be.at.most(30)
    await expectReleased(peer.muxer, timers)
  })

  it('row 30: RST flood on open streams → each stream reset once, a second RST ignored, nothing sent back', async () => {
    const peer = new RawPeer('server')
    const accepted = acceptAll(peer)
    peer.send(concatBytes(Array.from({ length: 20 }, (_, i) => encodeSyn(3 + 2 * i))))
    await until(() => accepted.size === 20, '20 streams')
    const states = [...accepted.values()].map(closeError)
    const rsts = concatBytes(Array.from({ length: 20 }, (_, i) => encodeRst(3 + 2 * i, ErrorCode.Cancel)))
    peer.send(rsts, rsts)
    await until(() => states.every(s => s.closed), 'every stream reset')
    await sleep(5)
    expect(states.map(s => s.events)).to.deep.equal(Array(20).fill(1))
    expect(states.every(s => s.error instanceof StreamResetByPeerError)).to.equal(true)
    expect(peer.frames).to.deep.equal([])
    expect(peer.muxer.status).to.equal('open')
    expect(counters(peer.muxer)).to.include({ streams: 0, streamsById: 0, inbound: 0 })
    await abortAndExpectReleased(peer.muxer, timers)
  })

  it('row 31: SYN while our close() is under way (our GOAWAY goes out when it ends) → RST RefusedStream; the id counts as seen, so its DATA is not fatal', async () => {
    const peer = new RawPeer('server')
    const stream = await peer.muxer.createStream()
    // more than the window: close() waits for the peer's WNDINC
    stream.send(new Uint8Array(70000))
    const closing = peer.muxer.close()
    expect(peer.muxer.status).to.equal('closing')
    peer.send(encodeSyn(3))
    const rst = await peer.waitForFrame(f => f.type === FrameType.RST)
    expect(rst).to.include({ streamId: 3, errorCode: ErrorCode.RefusedStream })
    peer.send(dataFrame(3, 10))
    await peer.waitForFrame(f => f.type === FrameType.RST && f.streamId === 3 && f.errorCode === ErrorCode.StreamClosed)
    expect(peer.muxer.status).to.equal('closing')
    expect(peer.muxer.streams).to.deep.equal([stream])
    peer.send(encodeWndinc(stream.streamId, 65536), encodeDataHeader(stream.streamId, 0, true))
    await closing
    const goaway = await peer.waitForFrame(isGoaway)
    expect(goaway).to.include({ errorCode: ErrorCode.NoError, lastStreamId: 3 })
    expect(peer.frames.filter(isGoaway)).to.have.length(1)
    await expectReleased(peer.muxer, timers)
  })

  it('row 32: remote GOAWAY(lastId) → our streams above it closed with RemoteGoAwayError, no RST; the rest continue; newStream rejects', async () => {
    const peer = new RawPeer('client')
    const [a, b, c] = [await peer.muxer.createStream(), await peer.muxer.createStream(), await peer.muxer.createStream()]
    const states = [a, b, c].map(closeError)
    peer.send(encodeGoaway(a.streamId, ErrorCode.NoError))
    await until(() => states[1].closed && states[2].closed, 'the unseen streams to close')
    expect(states[1].error).to.be.instanceOf(RemoteGoAwayError)
    expect(states[2].error).to.be.instanceOf(RemoteGoAwayError)
    expect(a.status).to.equal('open')
    await expect(peer.muxer.createStream()).to.eventually.be.rejectedWith(RemoteGoAwayError)
    // the surviving stream still works both ways
    const received: number[] = []
    a.addEventListener('message', (evt) => { received.push(evt.data.byteLength) })
    a.send(new Uint8Array(5))
    peer.send(dataFrame(a.streamId, 6))
    await until(() => sentOn(peer, a.streamId) === 5 && received[0] === 6, 'traffic on the surviving stream')
    expect(peer.framesOf(FrameType.RST)).to.deep.equal([])
    expect(counters(peer.muxer)).to.include({ streams: 1, streamsById: 1, outbound: 1 })
    await abortAndExpectReleased(peer.muxer, timers)
  })

  for (const [what, end] of [
    ['abort', (peer: RawPeer) => { peer.muxer.abort(new ProtocolViolationError('test')) }],
    ['close', (peer: RawPeer) => { void peer.muxer.close() }]
  ] as const) {
    it(`row 33: our GOAWAY (${what}) has length 8 and no debug, and nothing follows it`, async () => {
      const peer = new RawPeer('server')
      acceptAll(peer)
      const raw: Uint8Array[] = []
      peer.connection.addEventListener('message', (evt) => { raw.push(evt.data.subarray()) })
      peer.send(encodeSyn(3), encodeSyn(5))
      await sleep(5)
      end(peer)
      await peer.waitForFrame(isGoaway)
      await sleep(5)
      const wire = toHex(concatBytes(raw))
      const code = what === 'abort' ? ErrorCode.ProtocolError : ErrorCode.NoError
      expect(wire.endsWith('0008000600000000' + '00000005' + code.toString(16).padStart(8, '0'))).to.equal(true, wire)
      expect(peer.frames[peer.frames.length - 1].type).to.equal(FrameType.GOAWAY)
      await expectReleased(peer.muxer, timers)
    })
  }

  it('row 34: empty DATA (no FIN) flood → GOAWAY ProtocolError, TooManyUselessFramesError over budget (not under it)', async () => {
    const peer = new RawPeer('server', { maxUselessFrames: 50 })
    const accepted = acceptAll(peer)
    peer.send(encodeSyn(3))
    await until(() => accepted.has(3), 'stream 3')
    const closed = closeError(accepted.get(3) as MuxadoStream)
    const empty = (n: number): Uint8Array => concatBytes(Array.from({ length: n }, () => encodeDataHeader(3, 0, false)))
    peer.send(empty(40))
    await sleep(5)
    expect(peer.muxer.status).to.equal('open')
    peer.send(empty(20))
    await expectGoaway(peer, ErrorCode.ProtocolError)
    expect(peer.sessionError).to.be.instanceOf(TooManyUselessFramesError)
    expect(closed.error).to.be.instanceOf(TooManyUselessFramesError)
    await expectReleased(peer.muxer, timers)
  })

  it('row 35: 1-byte WNDINC dribble in one chunk → we coalesce: few DATA frames, wire/payload ratio ≤ 1.1', async () => {
    const peer = new RawPeer('client')
    const stream = await peer.muxer.createStream()
    stream.send(new Uint8Array(65536 + 5000))
    await until(() => sentOn(peer, stream.streamId) === 65536, 'the window to be used')
    const before = peer.framesOf(FrameType.DATA).length
    peer.send(concatBytes(Array.from({ length: 1000 }, () => encodeWndinc(stream.streamId, 1))))
    await until(() => sentOn(peer, stream.streamId) === 66536, '1000 more bytes')
    await sleep(5)
    const frames = peer.framesOf(FrameType.DATA).slice(before)
    const payload = frames.reduce((sum, f) => sum + (f.payload?.byteLength ?? 0), 0)
    expect(payload).to.equal(1000)
    const ratio = (8 * frames.length + payload) / payload
    expect(frames.length, `DATA frames for 1000 one-byte grants (wire/payload ratio ${ratio.toFixed(2)})`).to.be.at.most(2)
    await abortAndExpectReleased(peer.muxer, timers)
  })

  it('row 35: 1-byte WNDINCs spread over many chunks → we never send more bytes than the grants cost the peer', async () => {
    const peer = new RawPeer('client')
    const stream = await peer.muxer.createStream()
    stream.send(new Uint8Array(65536 + 5000))
    await until(() => sentOn(peer, stream.streamId) === 65536, 'the window to be used')
    const sentBefore = peer.sentBytes
    for (let i = 0; i < 200; i++) { peer.send(encodeWndinc(stream.streamId, 1)) }
    await until(() => sentOn(peer, stream.streamId) === 65736, '200 more bytes')
    expect(peer.sentBytes - sentBefore).to.be.at.most(200 * 12)
    await abortAndExpectReleased(peer.muxer, timers)
  })

  describe('row 36: a peer that never reads while we write', () => {
    async function stallWrites (peer: RawPeer): Promise<MuxadoStream[]> {
      peer.stopReading()
      await sleep(2)
      const streams: MuxadoStream[] = []
      // one connection write per stream: the connection refuses more after a few
      for (let i = 0; i < 8; i++) {
        const stream = await peer.muxer.createStream()
        stream.send(new Uint8Array(100_000))
        streams.push(stream)
        await sleep(1)
      }
      return streams
    }

    it('row 36: write-progress timeout → WriteTimeoutError on every stream, GOAWAY InternalError (best effort), writes stop at the windows', async () => {
      const peer = new RawPeer('client', { writeTimeout: 200 })
      const started = Date.now()
      const streams = await stallWrites(peer)
      const states = streams.map(closeError)
      await until(() => peer.muxer.status === 'closed', 'the write timeout', 2000)
      expect(Date.now() - started).to.be.within(150, 1500)
      expect(peer.sessionError).to.be.instanceOf(WriteTimeoutError)
      expect(states.every(s => s.error instanceof WriteTimeoutError)).to.equal(true)
      // at most one window per stream ever went to the connection, plus headers and SYNs
      expect(peer.sentBytes).to.be.at.most(8 * (65536 + 5 * 8 + 8) + 16)
      // the GOAWAY went to the connection, best effort: a peer that reads nothing never sees it
      const goaway = peer.handedFrames.find(isGoaway)
      expect(goaway?.errorCode).to.equal(ErrorCode.InternalError)
      await expectReleased(peer.muxer, timers)
    })

    it('row 36: after the write timeout the connection itself is released, though the peer never reads again', async () => {
      const peer = new RawPeer('client', { writeTimeout: 200 })
      await stallWrites(peer)
      await until(() => peer.muxer.status === 'closed', 'the write timeout', 2000)
      await sleep(300)
      expect(peer.muxerConnection.status, 'the muxer\'s connection after a write timeout').to.be.oneOf(['closed', 'aborted', 'reset'])
      await expectReleased(peer.muxer, timers)
    })
  })

  it('row 37: heartbeat echo flood from a peer that never reads its echoes → echoes stop at the heartbeat stream\'s window; the flood is held by flow control (no separate echo counter)', async () => {
    const peer = new RawPeer('client')
    peer.send(encodeSyn(2, HEARTBEAT_STREAM_TYPE, 0x7fffffff))
    // pings as fast as the window we are granted allows, never a WNDINC for the echoes
    const sent = await sendAllCredit(peer, 2, 16380)
    const heartbeat = (peer.muxer as any).streamsById.get(2) as MuxadoStream
    expect(sentOn(peer, 2), 'echo bytes sent').to.equal(65536)
    expect(heartbeat.writeBufferLength, 'echo bytes queued').to.be.at.most(16380)
    expect(heartbeat.readBufferLength, 'unread ping bytes').to.be.at.most(1024 * 1024)
    expect(sent, 'ping bytes the peer could send in all').to.be.at.most(65536 + 1024 * 1024 + 65536)
    expect(peer.framesOf(FrameType.RST)).to.deep.equal([])
    expect(peer.muxer.status).to.equal('open')
    // and it is live: window for the echoes lets them flow again
    peer.send(encodeWndinc(2, 65536))
    await until(() => sentOn(peer, 2) > 65536, 'echoes after the WNDINC')
    peer.muxer.abort(new Error('test over'))
    // the hidden heartbeat stream's cleanup is checked by "rows 2 and 4, cleanup"
    await expectReleasedExceptHidden(peer.muxer, timers)
  })

  for (const [what, drop] of [
    ['closed', async (peer: RawPeer) => { await peer.connection.close() }],
    ['aborted', async (peer: RawPeer) => { peer.connection.abort(new Error('cable cut')) }]
  ] as const) {
    it(`row 41: connection ${what} mid-stream → every open stream ends with an error within a tick; pending writes and reads settle`, async () => {
      const peer = new RawPeer('client')
      const streams = [await peer.muxer.createStream(), await peer.muxer.createStream(), await peer.muxer.createStream()]
      const finished = await peer.muxer.createStream()
      const states = streams.map(closeError)
      const finishedState = closeError(finished)
      // a writer blocked on the window, a reader waiting for data, an idle stream
      // write() rejects with the error of the 'close' event that ended the wait
      const blockedWrite = write(streams[0], new Uint8Array(100_000)).then(() => 'resolved', (err) => err)
      const pendingRead = (async () => {
        for await (const chunk of streams[1]) { void chunk }
        return 'ended'
      })().catch((err) => err)
      // the peer finished this one
      peer.send(dataFrame(finished.streamId, 1, true))
      await sleep(5)
      const dropped = Date.now()
      await drop(peer)
      await until(() => states.every(s => s.closed) && finishedState.closed, 'every stream to close', 500)
      expect(Date.now() - dropped).to.be.at.most(100)
      for (const state of states) {
        expect(state.error).to.be.an('error')
        expect(state.error?.name).to.be.oneOf(['ConnectionClosedError', 'UnexpectedEOFError'])
      }
      expect(finishedState.error).to.equal(undefined)
      expect(await blockedWrite).to.have.property('name', 'ConnectionClosedError')
      expect(await pendingRead).to.have.property('name', 'ConnectionClosedError')
      expect(peer.muxer.status).to.equal('closed')
      await expectReleased(peer.muxer, timers)
    })
  }

  describe('row 49: every error class maps to its v1 code (errorTable)', () => {
    const sessionErrors: Record<string, () => Error> = {
      FrameError: () => new FrameError('test', ErrorCode.FrameSizeError),
      ProtocolViolationError: () => new ProtocolViolationError('test'),
      TooManyUselessFramesError: () => new TooManyUselessFramesError('test'),
      StreamChurnLimitError: () => new StreamChurnLimitError('test'),
      HeartbeatTimeoutError: () => new HeartbeatTimeoutError('test'),
      WriteTimeoutError: () => new WriteTimeoutError('test'),
      UnexpectedEOFError: () => new UnexpectedEOFError('test'),
      ConnectionClosedError: () => new ConnectionClosedError('test'),
      MaxEarlyStreamsError: () => new MaxEarlyStreamsError('test'),
      SessionDestroyedError: () => new SessionDestroyedError('test'),
      ConnectionLostError: () => new ConnectionLostError('test')
    }
    const streamErrors: Record<string, () => Error> = {
      FlowControlError: () => new FlowControlError('test'),
      DataAfterFinError: () => new DataAfterFinError('test'),
      StreamBufferError: () => new StreamBufferError('test'),
      StreamResetError: () => new StreamResetError('test'),
      RemoteGoAwayError: () => new RemoteGoAwayError('test', ErrorCode.NoError),
      StreamIdsExhaustedError: () => new StreamIdsExhaustedError('test'),
      AcceptBacklogFullError: () => new AcceptBacklogFullError('test')
    }

    it('row 49: the table names every typed error once, with a code wherever it sends one', () => {
      const names = errorTable().map(rule => rule.error.name)
      expect(new Set(names).size).to.equal(names.length)
      expect(names).to.have.members([...Object.keys(sessionErrors), ...Object.keys(streamErrors)])
      for (const rule of errorTable()) {
        if (rule.wire !== 'none' && rule.error !== FrameError) { expect(rule.wireCode, rule.error.name).to.be.a('number') }
      }
    })

    for (const rule of errorTable().filter(r => r.scope === 'session' && r.wire === 'GOAWAY')) {
      it(`row 49: session error ${rule.error.name} → GOAWAY ${rule.error === FrameError ? 'with its own code' : ErrorCode[rule.wireCode as number]}`, async () => {
        const peer = new RawPeer('server')
        const accepted = acceptAll(peer)
        peer.send(encodeSyn(3))
        await until(() => accepted.has(3), 'stream 3')
        const closed = closeError(accepted.get(3) as MuxadoStream)
        const err = sessionErrors[rule.error.name]()
        peer.muxer.abort(err)
        const goaway = await peer.waitForFrame(isGoaway)
        expect(goaway.errorCode).to.equal(rule.wireCode ?? ErrorCode.FrameSizeError)
        expect(closed.error).to.equal(err)
        expect(peer.framesOf(FrameType.RST)).to.deep.equal([])
        await expectReleased(peer.muxer, timers)
      })
    }

    for (const rule of errorTable().filter(r => r.scope === 'stream' && r.wire === 'RST')) {
      it(`row 49: stream error ${rule.error.name} → RST ${ErrorCode[rule.wireCode as number]} on that stream only`, async () => {
        const peer = new RawPeer('server')
        const accepted = acceptAll(peer)
        peer.send(encodeSyn(3), encodeSyn(5))
        await until(() => accepted.size === 2, 'two streams')
        accepted.get(3)?.abort(streamErrors[rule.error.name]())
        const rst = await peer.waitForFrame(f => f.type === FrameType.RST)
        expect(rst).to.include({ streamId: 3, errorCode: rule.wireCode })
        expect(accepted.get(5)?.status).to.equal('open')
        await abortAndExpectReleased(peer.muxer, timers)
      })
    }

    it('row 49: errors outside the table → GOAWAY InternalError for the session, RST Cancel for a stream', async () => {
      const peer = new RawPeer('server')
      const accepted = acceptAll(peer)
      peer.send(encodeSyn(3), encodeSyn(5))
      await until(() => accepted.size === 2, 'two streams')
      accepted.get(3)?.abort(new Error('app failure'))
      const rst = await peer.waitForFrame(f => f.type === FrameType.RST)
      expect(rst).to.include({ streamId: 3, errorCode: ErrorCode.Cancel })
      peer.muxer.abort(new TypeError('bug'))
      const goaway = await peer.waitForFrame(isGoaway)
      expect(goaway.errorCode).to.equal(ErrorCode.InternalError)
      await expectReleased(peer.muxer, timers)
    })

    it('row 49: errors whose wire action is "none" send nothing: a peer RST (StreamResetError), a remote GOAWAY (RemoteGoAwayError), a lost connection (ConnectionClosedError / UnexpectedEOFError)', async () => {
      const peer = new RawPeer('client')
      const [a, b, c] = [await peer.muxer.createStream(), await peer.muxer.createStream(), await peer.muxer.createStream()]
      const states = [a, b, c].map(closeError)
      await sleep(5)
      const before = peer.frames.length
      peer.send(encodeRst(a.streamId, ErrorCode.Cancel), encodeGoaway(b.streamId, ErrorCode.NoError))
      await until(() => states[0].closed && states[2].closed, 'the reset and the GOAWAY')
      expect(states[0].error).to.be.instanceOf(StreamResetError)
      expect(states[2].error).to.be.instanceOf(RemoteGoAwayError)
      peer.send(encodeDataHeader(b.streamId, 4, false))
      await sleep(5)
      await peer.connection.close()
      await until(() => states[1].closed, 'the cut')
      expect(states[1].error).to.be.instanceOf(UnexpectedEOFError)
      expect(peer.frames.slice(before)).to.deep.equal([])
      await expectReleased(peer.muxer, timers)
    })
  })
})
