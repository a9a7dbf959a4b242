import { multiaddrConnectionPair } from '@libp2p/utils'
import { expect } from 'aegir/chai'
import { pEvent } from 'p-event'
import { ErrorCode, Flag, FlowControlError, FrameType, muxado } from '../src/index.ts'
import { FrameDecoder, encodeDataHeader, encodeSyn, encodeWndinc } from '../src/protocol/index.ts'
import { dataFrames } from './helpers/bytes.ts'
import { RawPeer } from './helpers/raw-peer.ts'
import { pattern, readAll, write } from './helpers/streams.ts'
import type { MuxadoStream } from '../src/index.ts'
import type { MultiaddrConnection } from '@libp2p/interface'

/** Count the DATA payload bytes a connection sends, per stream id */
function tapDataBytes (connection: MultiaddrConnection): Map<number, number> {
  const counts = new Map<number, number>()
  const decoder = new FrameDecoder()
  const send = connection.send.bind(connection)
  const ignore = (): void => {}
  connection.send = (data) => {
    decoder.push(data)
    decoder.decode({
      onData: (id, flags, payload) => { counts.set(id, (counts.get(id) ?? 0) + payload.byteLength) },
      onSyn: ignore,
      onRst: ignore,
      onWndinc: ignore,
      onGoaway: ignore
    })
    return send(data)
  }
  return counts
}

describe('flow control', () => {
  it('a paused reader holds the sender at 65536 bytes, and resuming delivers everything intact', async () => {
    const [outbound, inbound] = multiaddrConnectionPair()
    const crossed = tapDataBytes(outbound)
    const factory = muxado({ enableHeartbeat: false })()
    const client = factory.createStreamMuxer(outbound)
    const server = factory.createStreamMuxer(inbound)
    const inboundStream = pEvent<'stream', CustomEvent<MuxadoStream>>(server, 'stream')

    const stream = await client.createStream()
    const total = pattern(1024 * 1024)
    let offset = 0
    let accepted = true
    while (accepted && offset < total.byteLength) {
      accepted = stream.send(total.subarray(offset, offset + 65536))
      offset += 65536
    }
    const receiver = (await inboundStream).detail
    receiver.pause()
    await new Promise(resolve => setTimeout(resolve, 100))

    expect(accepted).to.equal(false)
    expect(crossed.get(stream.streamId)).to.equal(65536)
    expect(receiver.readBufferLength).to.equal(65536)
    expect(stream.send(new Uint8Array(0))).to.equal(false)

    const received = readAll(receiver)
    receiver.resume()
    while (offset < total.byteLength) {
      await write(stream, total.subarray(offset, offset + 65536))
      offset += 65536
    }
    await stream.close()
    expect(await received).to.deep.equal(total)
  })

  it('never grants window for data the application has not consumed', async () => {
    const peer = new RawPeer('server')
    peer.send(encodeSyn(3))
    const stream = await peer.nextStream()
    for (let i = 0; i < 4; i++) { peer.send(encodeDataHeader(3, 16383, false), new Uint8Array(16383)) }
    peer.send(encodeDataHeader(3, 4, false), new Uint8Array(4))
    await peer.settle(50)
    expect(stream.readBufferLength).to.equal(65536)
    expect(peer.framesOf(FrameType.WNDINC)).to.deep.equal([])
  })

  it('batches WNDINC instead of sending one per DATA frame, and grants all it consumed', async () => {
    const peer = new RawPeer('server')
    peer.send(encodeSyn(3))
    const stream = await peer.nextStream()
    let consumed = 0
    stream.addEventListener('message', (evt) => { consumed += evt.data.byteLength })
    for (let i = 0; i < 64; i++) { peer.send(encodeDataHeader(3, 1024, false), new Uint8Array(1024)) }
    await peer.settle(50)
    const grants = peer.framesOf(FrameType.WNDINC, 3)
    expect(consumed).to.equal(65536)
    expect(grants.length).to.be.within(1, 4)
    expect(grants.reduce((sum, f) => sum + (f.increment ?? 0), 0)).to.be.at.least(32768)
  })

  it('resets a stream whose peer overruns the window with RST FlowControlError, and only that stream', async () => {
    const peer = new RawPeer('server')
    peer.send(encodeSyn(3), encodeSyn(5))
    await peer.settle()
    const [overrun, other] = peer.muxer.streams
    const closed = pEvent(overrun, 'close')
    for (let i = 0; i < 4; i++) { peer.send(encodeDataHeader(3, 16383, false), new Uint8Array(16383)) }
    peer.send(encodeDataHeader(3, 5, false), new Uint8Array(5))
    const evt: any = await closed
    expect(evt.error).to.be.instanceOf(FlowControlError)
    const rst = await peer.waitForFrame(f => f.type === FrameType.RST)
    expect(rst).to.include({ streamId: 3, errorCode: ErrorCode.FlowControlError })
    expect(other.status).to.equal('open')
    expect(peer.muxer.status).to.equal('open')
  })

  it('stops sending at the peer\'s window and resumes on WNDINC', async () => {
    const peer = new RawPeer('client')
    const stream = await peer.muxer.createStream()
    expect(stream.send(new Uint8Array(100000))).to.equal(false)
    await peer.settle()
    const sent = (): number => peer.framesOf(FrameType.DATA).reduce((sum, f) => sum + (f.payload?.byteLength ?? 0), 0)
    expect(sent()).to.equal(65536)
    const drained = pEvent(stream, 'drain')
    peer.send(encodeWndinc(stream.streamId, 40000))
    await drained
    await peer.settle()
    expect(sent()).to.equal(100000)
  })

  it('a write that uses the last of the window asks the writer to wait: anything more could only sit in the buffer', async () => {
    const peer = new RawPeer('client')
    const stream = await peer.muxer.createStream()
    expect(stream.send(new Uint8Array(30000)), 'window to spare').to.equal(true)
    expect(stream.send(new Uint8Array(65536 - 30000)), 'the window is used up').to.equal(false)
    expect(stream.writableNeedsDrain).to.equal(true)
    expect(stream.writeBufferLength, 'nothing waits: the write went out whole').to.equal(0)
    const drained = pEvent(stream, 'drain')
    peer.send(encodeWndinc(stream.streamId, 1000))
    await drained
    expect(stream.writableNeedsDrain).to.equal(false)
    expect(stream.send(new Uint8Array(1000))).to.equal(false)
    await peer.settle()
    expect(peer.framesOf(FrameType.DATA).reduce((sum, f) => sum + (f.payload?.byteLength ?? 0), 0)).to.equal(66536)
  })

  it('closing a stream whose last write used up the window sends the FIN at once, without waiting for a grant', async () => {
    const peer = new RawPeer('client')
    const stream = await peer.muxer.createStream()
    expect(stream.send(new Uint8Array(65536))).to.equal(false)
    await stream.close({ signal: AbortSignal.timeout(1000) })
    await peer.settle()
    expect(peer.framesOf(FrameType.DATA).filter(f => (f.flags & Flag.FIN) !== 0)).to.have.length(1)
  })

  it('a connection drain wakes a writer only once its data is out: no \'drain\' while it waits for window', async () => {
    const peer = new RawPeer('client')
    const stream = await peer.muxer.createStream()
    expect(stream.send(new Uint8Array(100000))).to.equal(false)
    await peer.settle()
    const drainedWith: number[] = []
    stream.addEventListener('drain', () => { drainedWith.push(stream.writeBufferLength) })
    stream.onMuxerDrain()
    await peer.settle()
    expect(drainedWith, 'drained while 34,464 bytes wait for window').to.deep.equal([])
    peer.send(encodeWndinc(stream.streamId, 40000))
    await pEvent(stream, 'drain')
    expect(drainedWith).to.deep.equal([0])
  })

  it('a stream whose window grew gives its share of the session\'s receive budget back when it closes', async () => {
    const peer = new RawPeer('server', { enableHeartbeat: false })
    const budget = (peer.muxer as unknown as { windowTuning: { budget: { held: number } } }).windowTuning.budget
    const opened = peer.nextStream()
    peer.send(encodeSyn(3))
    const stream = await opened
    stream.addEventListener('message', () => {})
    // a reader that keeps up with a fast peer: every window it is granted back, it earns more
    let credit = 65536
    let granted = 0
    for (let round = 0; round < 16 && budget.held === 0; round++) {
      peer.send(...dataFrames(3, credit))
      credit = 0
      await peer.settle(1)
      const grants = peer.framesOf(FrameType.WNDINC, 3)
      for (const grant of grants.slice(granted)) { credit += grant.increment ?? 0 }
      granted = grants.length
    }
    expect(budget.held, 'the window grew, taking a share of the budget').to.be.above(0)

    stream.abort(new Error('done with it'))
    expect(budget.held).to.equal(0)
    peer.muxer.abort(new Error('test over'))
  })
})
