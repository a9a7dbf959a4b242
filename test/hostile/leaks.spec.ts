import { StreamBufferError } from '@libp2p/interface'
import { expect } from 'aegir/chai'
import { ErrorCode, FrameType, TooManyUselessFramesError } from '../../src/index.ts'
import { encodeDataHeader } from '../../src/protocol/index.ts'
import { receiveData } from '../../src/stream.ts'
import { muxerPair } from '../helpers/muxer-pair.ts'
import { RawPeer, wndincFlood } from '../helpers/raw-peer.ts'
import { readAll } from '../helpers/streams.ts'
import { abortAndExpectReleased, closeError, concatBytes, counters, expectReleased, sentOn, sleep, trackTimers, until } from './harness.ts'
import type { MuxadoMuxer, MuxadoStream } from '../../src/index.ts'

/**
 * Leak and fairness checks (fault checklist rows 36, 42 and 45, docs/fault-checklist.md): bookkeeping,
 * timers and listeners return to baseline after heavy churn; a chunk packed with frames does not
 * starve the event loop; a peer that never reads cannot make our buffers grow without bound.
 */

const LISTENED = ['message', 'drain', 'close', 'stream', 'remoteCloseWrite', 'end', 'idle']

/** Event listeners on a muxer and its connection, by event type */
function listeners (muxer: MuxadoMuxer): Record<string, number> {
  const counts: Record<string, number> = {}
  const targets: Array<[string, any]> = [['muxer', muxer], ['connection', (muxer as any).maConn]]
  for (const [name, target] of targets) {
    for (const type of LISTENED) {
      counts[`${name}.${type}`] = target.listenerCount(type)
    }
  }
  return counts
}

describe('hostile: leaks and fairness', function () {
  this.timeout(60_000)
  const timers = trackTimers()

  it('row 42: 10,000 streams opened, used and closed (half gracefully, half by reset) leave streams, timers and listeners at baseline', async () => {
    // 5,000 resets in a few seconds is a rapid-reset attack to the default churn budget (1000 burst, 200/s)
    const { client, server } = muxerPair({ maxStreamResets: 100_000, maxStreamResetsPerSecond: 100_000 })
    const total = 10_000
    const batch = 250
    let served = 0
    server.addEventListener('stream', (evt) => {
      const stream = evt.detail
      void (async () => {
        const data = await readAll(stream)
        if (stream.writeStatus === 'writable') {
          stream.send(data)
          await stream.close()
        }
        served++
      })().catch(() => { served++ })
    })
    const baseline = { client: listeners(client), server: listeners(server) }
    const started = Date.now()
    const states: Array<ReturnType<typeof closeError>> = []

    for (let first = 0; first < total; first += batch) {
      await Promise.all(Array.from({ length: batch }, async (_, j) => {
        const i = first + j
        const stream = await client.createStream()
        const state = closeError(stream)
        if (i % 2 === 0) {
          const echoed = readAll(stream)
          stream.send(new Uint8Array([i & 0xff, 1, 2, 3]))
          await stream.close()
          expect((await echoed).byteLength).to.equal(4)
        } else {
          stream.send(new Uint8Array([i & 0xff]))
          await sleep(0)
          stream.abort(new Error('reset on purpose'))
        }
        await until(() => state.closed, `stream ${stream.streamId} to close`)
        if (i % 400 === 1) { states.push(state) }
      }))
    }
    await until(() => served === total, `the server to finish all ${total} streams (${served})`, 10_000)
    await sleep(10)
    const elapsed = Date.now() - started

    expect(states.every(s => s.error != null)).to.equal(true)
    expect(counters(client)).to.include({ streams: 0, streamsById: 0, inbound: 0, outbound: 0 })
    expect(counters(server)).to.include({ streams: 0, streamsById: 0, inbound: 0, outbound: 0 })
    expect(listeners(client)).to.deep.equal(baseline.client)
    expect(listeners(server)).to.deep.equal(baseline.server)
    expect(timers.pending).to.equal(0)
    // closed streams are remembered for their late frames, in a bounded record
    for (const muxer of [client, server]) {
      expect((muxer as any).lateFrames.size).to.equal((muxer as any).lateFrames.capacity)
    }
    // the next stream still gets the next id: nothing was skipped or reused
    const next = await client.createStream()
    expect(next.streamId).to.equal(3 + 2 * total)
    await client.close()
    await until(() => server.status === 'closed', 'the server to see the close')
    await expectReleased(client, timers, 'client')
    await expectReleased(server, timers, 'server')
    // generous: this is a leak check, not a benchmark
    expect(elapsed).to.be.below(30_000)
  })

  describe('row 45: one chunk with 100,000 tiny frames', () => {
    it('row 45: 100,000 WNDINC +1 frames in one chunk are handled in turns of maxFramesPerTurn; a timer set before them fires before they are done', async () => {
      const peer = new RawPeer('client', { maxFramesPerTurn: 1024 })
      const stream = await peer.muxer.createStream()
      const flood = wndincFlood(stream, 100_000)
      let handledWhenTimerFired = -1
      setTimeout(() => { handledWhenTimerFired = flood.handled() }, 0)
      const started = Date.now()
      // straight into the muxer, as one chunk, so the yield under test is the muxer's own
      peer.muxer.onData(flood.chunk)
      expect(flood.handled(), 'frames handled before onData returned').to.equal(1024)
      await until(() => flood.handled() === 100_000, 'all frames handled', 10_000)
      const elapsed = Date.now() - started
      expect(handledWhenTimerFired, 'frames handled when the timer fired').to.be.within(1024, 99_999)
      expect((stream as any).sendWindow).to.equal(65536 + 100_000)
      expect(peer.muxer.status).to.equal('open')
      expect(elapsed).to.be.below(5000)
      await abortAndExpectReleased(peer.muxer, timers)
    })

    it('row 45: the same through the connection (64 KiB chunks) — timers still fire while it is processed', async () => {
      const peer = new RawPeer('client')
      const stream = await peer.muxer.createStream()
      const flood = wndincFlood(stream, 100_000)
      let handledWhenTimerFired = -1
      setTimeout(() => { handledWhenTimerFired = flood.handled() }, 0)
      peer.send(flood.chunk)
      await until(() => flood.handled() === 100_000, 'all frames handled', 10_000)
      expect(handledWhenTimerFired).to.be.within(0, 99_999)
      await abortAndExpectReleased(peer.muxer, timers)
    })

    it('row 45: the budget is enforced inside the chunk: 100,000 empty DATA frames end the session at maxUselessFrames', async () => {
      const peer = new RawPeer('client', { maxUselessFrames: 1000 })
      const stream = await peer.muxer.createStream()
      const closed = closeError(stream)
      let onDataCalls = 0
      const onDataFrame = stream[receiveData].bind(stream)
      stream[receiveData] = (payload, fin) => { onDataCalls++; return onDataFrame(payload, fin) }
      const chunk = concatBytes(Array.from({ length: 100_000 }, () => encodeDataHeader(stream.streamId, 0, false)))
      peer.muxer.onData(chunk)
      await until(() => peer.muxer.status === 'closed', 'the budget to end the session')
      expect(peer.sessionError).to.be.instanceOf(TooManyUselessFramesError)
      expect(closed.error).to.be.instanceOf(TooManyUselessFramesError)
      expect(onDataCalls).to.equal(0)
      // decoding stopped at the budget: the rest of the chunk was never handled
      expect((peer.muxer as any).decoder.bufferedBytes).to.be.at.least((100_000 - 1024) * 8)
      const goaway = await peer.waitForFrame(f => f.type === FrameType.GOAWAY)
      expect(goaway.errorCode).to.equal(ErrorCode.ProtocolError)
      await expectReleased(peer.muxer, timers)
    })
  })

  describe('a peer that never reads', () => {
    it('never grants window: our writes stop at 65536 bytes; an app ignoring backpressure hits the write-buffer cap (StreamBufferError, RST Cancel)', async () => {
      const maxWriteBufferLength = 256 * 1024
      const peer = new RawPeer('client', { maxWriteBufferLength })
      const stream = await peer.muxer.createStream()
      const closed = closeError(stream)
      let accepted = 0
      let refusals = 0
      for (let i = 0; i < 10 && !closed.closed; i++) {
        try {
          if (!stream.send(new Uint8Array(64 * 1024))) { refusals++ }
          accepted++
        } catch {
          break
        }
        await sleep(1)
        expect(stream.writeBufferLength, 'write buffer').to.be.at.most(maxWriteBufferLength + 64 * 1024)
      }
      await until(() => closed.closed, 'the write-buffer cap')
      expect(refusals).to.be.greaterThan(0)
      expect(accepted).to.be.at.most(6)
      expect(closed.error).to.be.instanceOf(StreamBufferError)
      expect(sentOn(peer, stream.streamId)).to.equal(65536)
      const rst = await peer.waitForFrame(f => f.type === FrameType.RST)
      expect(rst).to.include({ streamId: stream.streamId, errorCode: ErrorCode.Cancel })
      await abortAndExpectReleased(peer.muxer, timers)
    })

    it('stops reading the connection: our writes stop when the connection refuses data, the write buffer stays at its cap, the connection gets at most one window per stream', async () => {
      const maxWriteBufferLength = 256 * 1024
      const peer = new RawPeer('client', { maxWriteBufferLength, writeTimeout: 60_000 })
      const streams: MuxadoStream[] = []
      for (let i = 0; i < 6; i++) { streams.push(await peer.muxer.createStream()) }
      await sleep(2)
      peer.stopReading()
      await sleep(2)
      const states = streams.map(closeError)
      for (let round = 0; round < 8; round++) {
        for (const [i, stream] of streams.entries()) {
          if (!states[i].closed) { stream.send(new Uint8Array(64 * 1024)) }
          expect(stream.writeBufferLength).to.be.at.most(maxWriteBufferLength + 64 * 1024)
        }
        await sleep(1)
      }
      expect(states.every(s => s.error instanceof StreamBufferError)).to.equal(true)
      expect(peer.sentBytes).to.be.at.most(6 * (65536 + 8 * 8 + 8 + 12))
      expect(peer.muxer.status).to.equal('open')
      peer.resumeReading()
      await abortAndExpectReleased(peer.muxer, timers)
    })
  })
})
