import { expect } from 'aegir/chai'
import { ErrorCode, FrameType } from '../../src/index.ts'
import { encodeDataHeader, encodeRst, encodeSyn } from '../../src/protocol/index.ts'
import { echoInbound, muxerPair } from '../helpers/muxer-pair.ts'
import { RawPeer } from '../helpers/raw-peer.ts'
import { pattern, readAll, write } from '../helpers/streams.ts'
import { acceptAll, concatBytes, dataFrame, sleep, until } from './harness.ts'
import type { MuxadoStream } from '../../src/index.ts'

/**
 * Each budget in the README's options table against the heaviest traffic a well-behaved Go or
 * libp2p peer produces, with the default options: none of it may end the session or reset a
 * stream. (The late frames of a Go peer reading in small reads, against `maxUselessFrames`, are
 * in late-frames.spec.ts and legal-peer.property.spec.ts.)
 */
describe('hostile: the budgets let the heaviest legitimate traffic through (default options)', function () {
  this.timeout(20_000)

  it('maxInboundStreams, maxEarlyStreams: 1000 streams opened, written and half-closed in one chunk before any listener exists', async () => {
    const peer = new RawPeer('server')
    const ids = Array.from({ length: 1000 }, (_, i) => 3 + 2 * i)
    peer.send(concatBytes(ids.flatMap(id => [encodeSyn(id), dataFrame(id, 100), encodeDataHeader(id, 0, true)])))
    await sleep(5)
    // libp2p attaches its listener after an async step of the upgrade
    const accepted = acceptAll(peer)
    await until(() => accepted.size === 1000, 'every stream handed out')
    const received = await Promise.all([...accepted.values()].map(async stream => (await readAll(stream)).byteLength))
    expect(received).to.deep.equal(Array(1000).fill(100))
    expect(peer.framesOf(FrameType.RST)).to.deep.equal([])
    expect(peer.muxer.status).to.equal('open')
    peer.muxer.abort(new Error('test over'))
  })

  it('maxStreamResets, maxStreamResetsPerSecond: a client whose 1000 requests in flight all time out at once, then 150 more a second later', async () => {
    const peer = new RawPeer('server')
    const accepted = acceptAll(peer)
    const timeOut = async (ids: number[]): Promise<void> => {
      peer.send(concatBytes(ids.flatMap(id => [encodeSyn(id), dataFrame(id, 20)])))
      await until(() => ids.every(id => accepted.has(id)), 'the requests to arrive')
      peer.send(concatBytes(ids.map(id => encodeRst(id, ErrorCode.Cancel))))
      await until(() => ids.every(id => accepted.get(id)?.status === 'reset'), 'the resets')
    }
    await timeOut(Array.from({ length: 1000 }, (_, i) => 3 + 2 * i))
    await sleep(1000)
    await timeOut(Array.from({ length: 150 }, (_, i) => 2003 + 2 * i))
    expect(peer.muxer.status).to.equal('open')
    expect(peer.sessionError).to.equal(undefined)
    peer.muxer.abort(new Error('test over'))
  })

  it('maxWriteBufferLength: one send() of 4 MiB on a fresh stream', async () => {
    const { client, server } = muxerPair()
    echoInbound(server)
    const big = await client.createStream()
    const echoedBig = readAll(big)
    expect(big.send(pattern(4 * 1024 * 1024, 1))).to.equal(false)
    await big.close()
    expect(await echoedBig).to.deep.equal(pattern(4 * 1024 * 1024, 1))

    client.abort(new Error('test over'))
    server.abort(new Error('test over'))
  })

  it('maxWriteBufferLength: a writer honouring backpressure to a reader that pauses and resumes', async () => {
    const { client, server } = muxerPair()
    let paused: MuxadoStream | undefined
    server.addEventListener('stream', (evt) => { paused = evt.detail })
    const stream = await client.createStream()
    const writing = (async () => {
      for (let i = 0; i < 256; i++) { await write(stream, pattern(64 * 1024, i)) }
      await stream.close()
    })()
    await until(() => paused != null, 'the stream')
    const reader = paused as MuxadoStream
    const received = readAll(reader)
    reader.pause()
    await sleep(200)
    expect(stream.status).to.equal('open')
    reader.resume()
    await writing
    expect((await received).byteLength).to.equal(256 * 64 * 1024)
    client.abort(new Error('test over'))
    server.abort(new Error('test over'))
  })

  it('heartbeatInterval, heartbeatTimeout: pings every 3 s on both sides during a 4 s bulk echo, every echo in time', async function () {
    this.timeout(30_000)
    const { client, server } = muxerPair({ enableHeartbeat: true })
    echoInbound(server)
    const stream = await client.createStream()
    const echoed = readAll(stream)
    const started = Date.now()
    let sent = 0
    while (Date.now() - started < 4000) {
      await write(stream, pattern(64 * 1024, sent))
      sent++
    }
    await stream.close()
    expect((await echoed).byteLength).to.equal(sent * 64 * 1024)
    expect(client.status).to.equal('open')
    expect(server.status).to.equal('open')
    expect(client.rtt).to.be.a('number')
    client.abort(new Error('test over'))
    server.abort(new Error('test over'))
  })
})
