import { AbstractStream } from '@libp2p/utils'
import { expect } from 'aegir/chai'
import { ErrorCode, FrameType, StreamResetByPeerError } from '../src/index.ts'
import { encodeRst, encodeSyn } from '../src/protocol/index.ts'
import { concatBytes, dataFrame } from './helpers/bytes.ts'
import { RawPeer } from './helpers/raw-peer.ts'
import type { MuxadoStream } from '../src/index.ts'
import type { Uint8ArrayList } from 'uint8arraylist'

const later = async <T>(ms: number, value: T): Promise<T> => new Promise(resolve => setTimeout(resolve, ms, value))

/** A client stream whose write waits for window: 100,000 bytes against the initial 65,536 */
async function streamWithDataWaiting (): Promise<{ peer: RawPeer, stream: MuxadoStream }> {
  const peer = new RawPeer('client')
  const stream = await peer.muxer.createStream()
  stream.send(new Uint8Array(100_000))
  expect(stream.writeBufferLength).to.be.above(0)
  return { peer, stream }
}

/**
 * The `@libp2p/utils` behaviour our workarounds exist for (docs/upstream-bugs.md). Each test fails
 * once upstream changes it: then the workaround it names can go.
 */
describe('upstream behaviour the workarounds rely on', () => {
  it('AbstractMessageStream\'s iterator never ends when the data and FIN arrived before it (workaround: MuxadoStream[Symbol.asyncIterator])', async () => {
    const peer = new RawPeer('server')
    const opened = peer.nextStream()
    peer.send(concatBytes([encodeSyn(3), dataFrame(3, new Uint8Array(5)), dataFrame(3, 0, true)]))
    const stream = await opened
    await new Promise(resolve => setTimeout(resolve, 0))

    const baseIterator: () => AsyncGenerator<unknown> = AbstractStream.prototype[Symbol.asyncIterator]
    const reading = (async () => { for await (const chunk of baseIterator.call(stream)) { void chunk } })()
    const outcome = await Promise.race([reading.then(() => 'ended'), new Promise(resolve => setTimeout(resolve, 300, 'still reading'))])

    expect(outcome, 'the base iterator now ends: remove the workaround').to.equal('still reading')
    peer.muxer.abort(new Error('test over'))
    await reading.catch(() => {})
  })

  it('AbstractMessageStream\'s iterator ends on a clean close while a paused reader has data buffered, which it never yields (workaround: MuxadoStream[Symbol.asyncIterator])', async () => {
    const peer = new RawPeer('server')
    const opened = peer.nextStream()
    peer.send(encodeSyn(3))
    const stream = await opened
    const baseIterator: () => AsyncGenerator<Uint8Array | Uint8ArrayList> = AbstractStream.prototype[Symbol.asyncIterator]
    let received = 0
    const reading = (async () => { for await (const chunk of baseIterator.call(stream)) { received += chunk.byteLength } })()
    stream.pause()
    await stream.close()
    peer.send(concatBytes([dataFrame(3, new Uint8Array(100)), dataFrame(3, 0, true)]))
    await reading
    stream.resume()

    expect(received, 'the base iterator now yields the buffered data: remove the workaround').to.equal(0)
    peer.muxer.abort(new Error('test over'))
  })

  it('AbstractStream.close() never settles when the stream is aborted while it waits for its write buffer (workaround: MuxadoStream.close)', async () => {
    const { peer, stream } = await streamWithDataWaiting()
    const baseClose: () => Promise<void> = AbstractStream.prototype.close
    const closing = baseClose.call(stream).then(() => 'settled', () => 'settled')
    stream.abort(new Error('aborted while closing'))
    const outcome = await Promise.race([closing, later(300, 'still waiting')])

    expect(outcome, 'the base close() now settles: remove the workaround').to.equal('still waiting')
    peer.muxer.abort(new Error('test over'))
  })

  it('AbstractStream.onMuxerDrain() fires \'drain\' while the stream\'s data still waits for window (workaround: MuxadoStream.onMuxerDrain)', async () => {
    const { peer, stream } = await streamWithDataWaiting()
    let bufferedAtDrain = -1
    stream.addEventListener('drain', () => { bufferedAtDrain = stream.writeBufferLength }, { once: true })
    AbstractStream.prototype.onMuxerDrain.call(stream)

    expect(bufferedAtDrain, 'the base no longer wakes writers whose data waits: remove the workaround').to.be.above(0)
    peer.muxer.abort(new Error('test over'))
  })

  it('AbstractStream.onMuxerNeedsDrain() holds back a stream with nothing queued (workaround: MuxadoStream.onMuxerNeedsDrain)', async () => {
    const peer = new RawPeer('client')
    const stream = await peer.muxer.createStream()
    AbstractStream.prototype.onMuxerNeedsDrain.call(stream)

    expect(stream.writeBufferLength).to.equal(0)
    expect(stream.writableNeedsDrain, 'the base no longer marks idle streams: remove the workaround').to.equal(true)
    peer.muxer.abort(new Error('test over'))
  })

  it('AbstractStream.onRemoteReset() takes no error, and sets what its copy sets (workaround: MuxadoStream.onRemoteResetWith)', async () => {
    const peer = new RawPeer('server')
    const streams: MuxadoStream[] = []
    peer.muxer.addEventListener('stream', (evt) => { streams.push(evt.detail) })
    peer.send(encodeSyn(3), encodeSyn(5))
    while (streams.length < 2) { await later(1, null) }
    const [byBase, byCopy] = streams
    const errors = streams.map(stream => new Promise(resolve => { stream.addEventListener('close', (evt) => { resolve(evt.error) }) }))
    const baseReset = AbstractStream.prototype.onRemoteReset as (this: AbstractStream, err: Error) => void
    baseReset.call(byBase, new StreamResetByPeerError(ErrorCode.Cancel))
    peer.send(encodeRst(5, ErrorCode.Cancel))
    const [baseError, copyError] = await Promise.all(errors)
    const state = (stream: MuxadoStream): unknown => [stream.status, stream.readStatus, stream.writeStatus, stream.remoteReadStatus, stream.remoteWriteStatus, stream.readableEnded]

    expect(baseError, 'the base now takes the error: call it instead of the copy').to.not.be.instanceOf(StreamResetByPeerError)
    expect(copyError).to.be.instanceOf(StreamResetByPeerError)
    expect(state(byCopy), 'the base now sets other states: update the copy').to.deep.equal(state(byBase))
    peer.muxer.abort(new Error('test over'))
  })

  it('AbstractStream.send() frames what the send() fast path frames, and the fields the fast path reads still mean what they did (fast path: MuxadoStream.send)', async () => {
    const peer = new RawPeer('client')
    const [byBase, byFastPath] = await Promise.all([peer.muxer.createStream(), peer.muxer.createStream()])
    const fields = (stream: MuxadoStream): unknown => [stream.writeStatus, stream.writableNeedsDrain, (stream as any).sendingData, (stream as any).writeBuffer.byteLength, stream.maxMessageSize]
    const idle = ['writable', false, false, 0, undefined]
    expect(fields(byBase), 'the base class fields the fast path reads changed: update it').to.deep.equal(idle)

    const data = new Uint8Array(40_000).fill(7)
    const baseSend = AbstractStream.prototype.send as (this: AbstractStream, data: Uint8Array) => boolean
    expect(baseSend.call(byBase, data)).to.equal(byFastPath.send(data))
    expect(fields(byBase), 'the base now leaves a send in progress: the fast path may not bypass it').to.deep.equal(idle)
    await peer.settle()
    const payloads = (stream: MuxadoStream): unknown => peer.framesOf(FrameType.DATA, stream.streamId).map(f => f.payload?.byteLength)
    expect(payloads(byFastPath)).to.deep.equal([16383, 16383, 7234]).and.deep.equal(payloads(byBase))
    peer.muxer.abort(new Error('test over'))
  })
})
