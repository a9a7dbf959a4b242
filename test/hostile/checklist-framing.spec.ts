import { expect } from 'aegir/chai'
import { ErrorCode, FrameError, FrameType, HeartbeatTimeoutError, UnexpectedEOFError } from '../../src/index.ts'
import { encodeDataHeader, encodeRst, encodeSyn, encodeWndinc } from '../../src/protocol/index.ts'
import { fromHex } from '../helpers/bytes.ts'
import { RawPeer } from '../helpers/raw-peer.ts'
import { loadVectors } from '../protocol/helpers.ts'
import { abortAndExpectReleased, closeError, concatBytes, counters, dataFrame, expectGoaway, expectReleased, expectReleasedExceptHidden, header, sleep, trackTimers, u32, until } from './harness.ts'
import type { MuxadoStream } from '../../src/index.ts'
import type { WireFrame } from '../helpers/frames.ts'
import type { SessionTrace } from '../protocol/helpers.ts'

/**
 * Rows of the fault checklist (docs/fault-checklist.md) about framing and the connection: truncation, unknown types, bad
 * lengths, GOAWAY length quirks, id 0, flag bits, chunking. Each test is named after its row.
 */

/** A server-role muxer with one open inbound stream (id 3) that the app reads */
async function serverWithStream (init = {}): Promise<{ peer: RawPeer, stream: MuxadoStream, received(): number }> {
  const peer = new RawPeer('server', init)
  const next = peer.nextStream()
  peer.send(encodeSyn(3))
  const stream = await next
  let bytes = 0
  stream.addEventListener('message', (evt) => { bytes += evt.data.byteLength })
  return { peer, stream, received: () => bytes }
}

describe('hostile: framing and connection rows of the fault checklist (docs/fault-checklist.md)', function () {
  this.timeout(10_000)
  const timers = trackTimers()

  for (const length of [1, 4, 7]) {
    it(`row 1: truncated header (${length} of 8 bytes), then EOF → UnexpectedEOFError on every stream, no GOAWAY, no hang`, async () => {
      const { peer, stream } = await serverWithStream()
      const closed = closeError(stream)
      peer.send(encodeSyn(5).slice(0, length))
      await sleep(5)
      await peer.connection.close()
      await until(() => closed.closed, 'the stream to close')
      expect(closed.error).to.be.instanceOf(UnexpectedEOFError)
      expect(peer.muxer.status).to.equal('closed')
      expect(peer.framesOf(FrameType.GOAWAY)).to.deep.equal([])
      await expectReleased(peer.muxer, timers)
    })
  }

  it('row 2: truncated header with the connection kept open → heartbeat timeout, GOAWAY NoError, HeartbeatTimeoutError', async () => {
    const { peer, stream } = await serverWithStream({ enableHeartbeat: true, heartbeatInterval: 50, heartbeatTimeout: 200 })
    const closed = closeError(stream)
    const started = Date.now()
    peer.send(encodeWndinc(3, 1).slice(0, 5))
    await expectGoaway(peer, ErrorCode.NoError)
    expect(Date.now() - started).to.be.within(150, 1000)
    expect(peer.sessionError).to.be.instanceOf(HeartbeatTimeoutError)
    expect(closed.error).to.be.instanceOf(HeartbeatTimeoutError)
    await expectReleasedExceptHidden(peer.muxer, timers)
  })

  it('row 3: header, half a DATA body, then EOF → UnexpectedEOFError, the partial body is not delivered', async () => {
    const { peer, stream, received } = await serverWithStream()
    const closed = closeError(stream)
    peer.send(encodeDataHeader(3, 10, false), new Uint8Array(5))
    await sleep(5)
    await peer.connection.close()
    await until(() => closed.closed, 'the stream to close')
    expect(received()).to.equal(0)
    expect(closed.error).to.be.instanceOf(UnexpectedEOFError)
    await expectReleased(peer.muxer, timers)
  })

  it('row 4: peer stops mid-frame forever → heartbeat timeout within interval + tolerance, GOAWAY NoError', async () => {
    const { peer, stream, received } = await serverWithStream({ enableHeartbeat: true, heartbeatInterval: 50, heartbeatTimeout: 200 })
    const closed = closeError(stream)
    const started = Date.now()
    peer.send(encodeDataHeader(3, 100, false), new Uint8Array(40))
    await expectGoaway(peer, ErrorCode.NoError)
    expect(Date.now() - started).to.be.at.most(50 + 200 + 750)
    expect(peer.sessionError).to.be.instanceOf(HeartbeatTimeoutError)
    expect(closed.error).to.be.instanceOf(HeartbeatTimeoutError)
    expect(received()).to.equal(0)
    await expectReleasedExceptHidden(peer.muxer, timers)
  })

  it('rows 2 and 4, cleanup: the hidden heartbeat streams leave the stream map when the session ends', async () => {
    const peer = new RawPeer('server', { enableHeartbeat: true, heartbeatInterval: 50, heartbeatTimeout: 200 })
    // the peer's heartbeat stream too, which we answer
    peer.send(encodeSyn(3, 0xfffffeff, 0x7fffffff))
    await sleep(10)
    expect(counters(peer.muxer).hidden).to.equal(2)
    await expectGoaway(peer, ErrorCode.NoError)
    await expectReleased(peer.muxer, timers)
  })

  for (const type of [0, 5, 7, 8, 15, 31]) {
    it(`row 5: unknown frame type ${type} → GOAWAY ProtocolError, FrameError, other streams end`, async () => {
      const { peer, stream } = await serverWithStream()
      const closed = closeError(stream)
      peer.send(header(type, 0, 3, 4), u32(0))
      await expectGoaway(peer, ErrorCode.ProtocolError)
      expect(peer.sessionError).to.be.instanceOf(FrameError)
      expect(closed.error).to.be.instanceOf(FrameError)
      await expectReleased(peer.muxer, timers)
    })
  }

  for (const [what, bytes] of [
    ['RST length 3', concatBytes([header(FrameType.RST, 0, 3, 3), new Uint8Array(3)])],
    ['RST length 8', concatBytes([header(FrameType.RST, 0, 3, 8), new Uint8Array(8)])],
    ['WNDINC length 0', header(FrameType.WNDINC, 0, 3, 0)],
    ['WNDINC length 5', concatBytes([header(FrameType.WNDINC, 0, 3, 5), new Uint8Array(5)])],
    ['SYN length 4 without flags', concatBytes([header(FrameType.SYN, 0, 5, 4), new Uint8Array(4)])],
    ['SYN length 0 with PRIORITY', header(FrameType.SYN, 0x02, 5, 0)],
    ['SYN length 4 with PRIORITY|TYPE', concatBytes([header(FrameType.SYN, 0x06, 5, 4), new Uint8Array(4)])],
    ['SYN length 9 with PRIORITY|TYPE (panics Go)', concatBytes([header(FrameType.SYN, 0x06, 5, 9), new Uint8Array(9)])]
  ] as const) {
    it(`row 7: ${what} → GOAWAY FrameSizeError, decided on the header`, async () => {
      const { peer, stream } = await serverWithStream()
      const closed = closeError(stream)
      // the header alone: the decision must not wait for the body
      peer.send(bytes.slice(0, 8))
      await expectGoaway(peer, ErrorCode.FrameSizeError)
      expect(peer.sessionError).to.be.instanceOf(FrameError)
      expect(closed.error).to.be.instanceOf(FrameError)
      await expectReleased(peer.muxer, timers)
    })
  }

  for (const length of [0, 1, 7]) {
    it(`row 8: GOAWAY with length ${length} (< 8) → exactly 8 body bytes read, no underflow, no stall`, async () => {
      const peer = new RawPeer('server')
      const next = peer.nextStream()
      peer.send(header(FrameType.GOAWAY, 0, 0, length), u32(0, 0), encodeSyn(3), dataFrame(3, 3))
      const stream = await next
      expect(stream.streamId).to.equal(3)
      await until(() => stream.readBufferLength === 3, 'the DATA after the GOAWAY')
      expect(peer.muxer.status).to.equal('open')
      await expect(peer.muxer.createStream()).to.eventually.be.rejected.with.property('name', 'RemoteGoAwayError')
      await abortAndExpectReleased(peer.muxer, timers)
    })
  }

  for (const length of [16, 31, 0x3fff]) {
    it(`row 9: GOAWAY with length field ${length} → exactly 8 body bytes read, the length ignored`, async () => {
      const peer = new RawPeer('server')
      const next = peer.nextStream()
      peer.send(header(FrameType.GOAWAY, 0, 0, length), u32(0, 0), encodeSyn(3), dataFrame(3, 3))
      const stream = await next
      await until(() => stream.readBufferLength === 3, 'the DATA after the GOAWAY')
      expect(peer.muxer.status).to.equal('open')
      expect((peer.muxer as any).decoder.bufferedBytes).to.equal(0)
      await abortAndExpectReleased(peer.muxer, timers)
    })
  }

  for (const [what, frame] of [
    ['DATA', dataFrame(0, 4)],
    ['empty DATA|FIN', encodeDataHeader(0, 0, true)],
    ['RST', encodeRst(0, ErrorCode.Cancel)],
    ['WNDINC', encodeWndinc(0, 1)]
  ] as const) {
    it(`row 18: ${what} on stream id 0 → GOAWAY ProtocolError`, async () => {
      const { peer, stream } = await serverWithStream()
      const closed = closeError(stream)
      peer.send(frame)
      await expectGoaway(peer, ErrorCode.ProtocolError)
      expect(peer.sessionError).to.have.property('name', 'ProtocolViolationError')
      expect(closed.error).to.have.property('name', 'ProtocolViolationError')
      await expectReleased(peer.muxer, timers)
    })
  }

  for (const id of [1, 3, 0x7fffffff]) {
    it(`row 19: GOAWAY on stream id ${id} → GOAWAY ProtocolError`, async () => {
      const { peer, stream } = await serverWithStream()
      const closed = closeError(stream)
      peer.send(header(FrameType.GOAWAY, 0, id, 8), u32(0, 0))
      await expectGoaway(peer, ErrorCode.ProtocolError)
      expect(peer.sessionError).to.be.instanceOf(FrameError)
      expect(closed.error).to.be.instanceOf(FrameError)
      await expectReleased(peer.muxer, timers)
    })
  }

  describe('row 44: slowloris, valid traffic 1 byte per chunk', () => {
    /** The Go client's side of the recorded session, minus the frames for the Go server's heartbeat stream 2 */
    function goClientBytes (): Uint8Array {
      const trace = loadVectors<SessionTrace>('session-trace.json')
      const stream = concatBytes(trace.chunks.filter(c => c.dir === 'c2s').map(c => fromHex(c.hex)))
      return concatBytes(trace.frames.c2s.list
        .filter(f => f.streamId !== 2)
        .map(f => stream.subarray(f.offset, f.offset + f.wireBytes)))
    }

    async function replay (bytes: Uint8Array, chunk: number): Promise<{ frames: WireFrame[], events: string[] }> {
      const peer = new RawPeer('server')
      const events: string[] = []
      peer.muxer.addEventListener('stream', (evt) => {
        const stream = evt.detail
        let bytes = 0
        events.push(`open ${stream.streamId}`)
        stream.addEventListener('message', (e) => { bytes += e.data.byteLength })
        stream.addEventListener('remoteCloseWrite', () => { events.push(`fin ${stream.streamId} after ${bytes}`) })
      })
      for (let offset = 0; offset < bytes.byteLength; offset += chunk) {
        peer.muxer.onData(bytes.subarray(offset, offset + chunk))
      }
      await until(() => (peer.muxer as any).decoder.bufferedBytes === 0, 'the decoder to finish')
      await sleep(10)
      const frames = [...peer.frames]
      peer.muxer.abort(new Error('test over'))
      // the Go client's heartbeat stream is hidden; its cleanup is checked in "rows 2 and 4, cleanup"
      await expectReleasedExceptHidden(peer.muxer, timers)
      return { frames, events }
    }

    it('row 44: the Go session trace fed 1 byte per chunk gives the same frames back and the same stream events as whole chunks', async () => {
      const bytes = goClientBytes()
      const whole = await replay(bytes, bytes.byteLength)
      const bytewise = await replay(bytes, 1)
      expect(whole.events).to.include('fin 7 after 70000')
      expect(bytewise.events).to.deep.equal(whole.events)
      // our answers: the echo of the Go client's heartbeat ping, and window for the 70000 bytes.
      // Reads are delivered per decoded chunk, and a window grows at each sixteenth of it consumed,
      // so the window comes back in grants of different sizes and number, on the same streams
      const grants = (frames: WireFrame[]): WireFrame[] => frames.filter(f => f.type === FrameType.WNDINC)
      const others = (frames: WireFrame[]): WireFrame[] => frames.filter(f => f.type !== FrameType.WNDINC)
      expect(whole.frames.map(f => f.type)).to.include.members([FrameType.DATA, FrameType.WNDINC])
      expect(others(bytewise.frames)).to.deep.equal(others(whole.frames))
      const grantedStreams = (frames: WireFrame[]): number[] => [...new Set(grants(frames).map(f => f.streamId))]
      expect(grantedStreams(bytewise.frames)).to.deep.equal(grantedStreams(whole.frames))
    })
  })

  describe('row 48: undefined flag bits are ignored', () => {
    it('row 48: DATA with flags 0xf0 is plain DATA, DATA with 0xf1 is DATA|FIN', async () => {
      const { peer, stream, received } = await serverWithStream()
      peer.send(concatBytes([header(FrameType.DATA, 0xf0, 3, 2), new Uint8Array(2)]))
      await until(() => received() === 2, 'the data')
      expect(stream.remoteWriteStatus).to.equal('writable')
      peer.send(concatBytes([header(FrameType.DATA, 0xf1, 3, 1), new Uint8Array(1)]))
      await until(() => stream.remoteWriteStatus === 'closed', 'the FIN')
      expect(received()).to.equal(3)
      expect(peer.muxer.status).to.equal('open')
      await abortAndExpectReleased(peer.muxer, timers)
    })

    it('row 48: SYN, RST, WNDINC and GOAWAY with every unused flag bit set behave as without them', async () => {
      const peer = new RawPeer('server')
      const accepted: MuxadoStream[] = []
      peer.muxer.addEventListener('stream', (evt) => { accepted.push(evt.detail) })
      const local = await peer.muxer.createStream()
      peer.send(
        header(FrameType.SYN, 0xf8, 3, 0),
        header(FrameType.SYN, 0xf8 | 0x04, 5, 4), u32(0x2a),
        header(FrameType.WNDINC, 0xff, local.streamId, 4), u32(10)
      )
      await until(() => accepted.length === 2, 'two streams')
      expect(accepted.map(s => [s.streamId, s.streamType])).to.deep.equal([[3, 0], [5, 0x2a]])
      const closed = closeError(accepted[0])
      peer.send(header(FrameType.RST, 0xff, 3, 4), u32(ErrorCode.Cancel), header(FrameType.GOAWAY, 0xff, 0, 8), u32(5, 0))
      await until(() => closed.closed, 'the RST')
      expect(closed.error).to.have.property('name', 'StreamResetError')
      await expect(peer.muxer.createStream()).to.eventually.be.rejected.with.property('name', 'RemoteGoAwayError')
      expect(peer.muxer.status).to.equal('open')
      await abortAndExpectReleased(peer.muxer, timers)
    })

    it('row 48: a SYN|FIN (as Go may send, B4) opens a stream that still takes DATA', async () => {
      const peer = new RawPeer('server')
      const next = peer.nextStream()
      peer.send(header(FrameType.SYN, 0x01, 3, 0), dataFrame(3, 3, true))
      const stream = await next
      await until(() => stream.remoteWriteStatus === 'closed', 'the DATA|FIN')
      expect(stream.readBufferLength).to.equal(3)
      await abortAndExpectReleased(peer.muxer, timers)
    })
  })
})
