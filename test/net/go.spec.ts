/**
 * libp2p-muxado/net against the Go muxado v1 library (the interop peer in test/interop/go-peer),
 * both roles: TS dial() → Go muxado.Listen, and Go muxado.Dial → TS listen().
 *
 * The Go peer echoes every stream it accepts; with -streams N -bytes M it also opens N streams,
 * writes the pattern of test/interop/streams.ts and checks the echo. MUXADO_SKIP_GO=1 skips the
 * suite when the peer cannot be built, as test/interop does.
 */

import { expect } from 'aegir/chai'
import { within } from '../helpers/time.ts'
import { buildGoPeersOrSkip, goDial, goListen, killAllGoPeers } from '../interop/go-peer.ts'
import { goPattern } from '../interop/streams.ts'
import { cleanup, dialTracked, echoRoundTrip, listenTracked, readAll, sessionClosed } from './helpers.ts'
import type { MuxadoDuplex, Session } from '../../src/net/index.ts'
import type { GoPeer } from '../interop/go-peer.ts'

/** Echo every stream the peer opens; resolves with their ids, types and byte counts at the end */
function echoAndRecord (session: Session): Promise<Array<{ id: number, streamType: number, bytes: number }>> {
  return (async () => {
    const echoed: Array<Promise<{ id: number, streamType: number, bytes: number }>> = []
    for await (const stream of session) {
      echoed.push(echo(stream))
    }
    return Promise.all(echoed)
  })()
}

async function echo (stream: MuxadoDuplex): Promise<{ id: number, streamType: number, bytes: number }> {
  let bytes = 0
  // destroyOnReturn: false keeps the stream writable after the loop for the final end()
  for await (const chunk of stream.iterator({ destroyOnReturn: false })) {
    bytes += chunk.byteLength
    if (!stream.write(chunk)) { await new Promise(resolve => stream.once('drain', resolve)) }
  }
  stream.end()
  return { id: stream.id, streamType: stream.streamType, bytes }
}

/**
 * The Go peer opened `count` typed streams of 100 KB: TS echoes them, Go checks every echo and
 * closes the session when done (GOAWAY NoError, then TCP close)
 */
async function expectGoStreamsEchoed (peer: GoPeer, session: Session, expected: { count: number, streamType: number, goIds: 'odd' | 'even' }): Promise<void> {
  const echoed = echoAndRecord(session)
  const done = await peer.waitFor('streams-done', 20_000)
  expect(done).to.include({ ok: true, okCount: expected.count, count: expected.count })
  await peer.expectSuccess()
  expect(await within(sessionClosed(session), 5000, 'the session end')).to.equal(undefined)
  const results = await echoed
  expect(results).to.have.lengthOf(expected.count)
  for (const result of results) {
    expect(result).to.include({ streamType: expected.streamType, bytes: 100_000 })
    expect(result.id % 2, `Go stream ids are ${expected.goIds}`).to.equal(expected.goIds === 'odd' ? 1 : 0)
  }
}

describe('libp2p-muxado/net with Go muxado v1', function () {
  before(function () {
    buildGoPeersOrSkip(this, 'libp2p-muxado/net ↔ Go')
  })

  afterEach(async () => {
    await killAllGoPeers()
    await cleanup()
  })

  it('TS dial() → Go Listen: 8 streams × 100 KB echoed by Go', async function () {
    this.timeout(30_000)
    const { peer, port } = await goListen([], { timeoutMs: 25_000 })
    const session = await dialTracked({ port })
    const results = await Promise.all(Array.from({ length: 8 }, async (_, i) => {
      const stream = await session.open()
      const data = Buffer.from(goPattern(i, 100_000))
      const reply = await echoRoundTrip(stream, data)
      return { id: stream.id, ok: reply.equals(data) }
    }))
    for (const result of results) {
      expect(result.ok, `stream ${result.id}`).to.equal(true)
      expect(result.id % 2).to.equal(1)
    }
    await session.close()
    await peer.expectSuccess()
    const accepted = peer.streamsDone('accepted')
    expect(accepted).to.have.lengthOf(8)
    for (const e of accepted) { expect(e).to.include({ ok: true, bytes: 100_000 }) }
  })

  it('TS dial() → Go Listen: streams opened by Go are accepted and echoed by TS', async function () {
    this.timeout(30_000)
    const { peer, port } = await goListen(['-streams', '4', '-bytes', '100000', '-type', '42'], { timeoutMs: 25_000 })
    const session = await dialTracked({ port })
    await expectGoStreamsEchoed(peer, session, { count: 4, streamType: 42, goIds: 'even' })
  })

  it('Go Dial → TS listen(): Go opens 8 typed streams × 100 KB, TS echoes', async function () {
    this.timeout(30_000)
    const server = await listenTracked()
    const peer = goDial(server.address().port, ['-streams', '8', '-bytes', '100000', '-type', '7'], { timeoutMs: 25_000 })
    const session = await server.accept()
    expect(session.role).to.equal('server')
    await expectGoStreamsEchoed(peer, session, { count: 8, streamType: 7, goIds: 'odd' })
  })

  it('Go Dial → TS listen(): TS opens streams on the accepted session, Go echoes', async function () {
    this.timeout(30_000)
    const server = await listenTracked()
    const peer = goDial(server.address().port, ['-end', 'wait'], { timeoutMs: 25_000 })
    const session = await server.accept()
    const results = await Promise.all(Array.from({ length: 4 }, async (_, i) => {
      const stream = await session.open({ streamType: 9 })
      const data = Buffer.from(goPattern(i, 200_000))
      const reply = await echoRoundTrip(stream, data)
      return { id: stream.id, ok: reply.equals(data) }
    }))
    for (const result of results) {
      expect(result.ok, `stream ${result.id}`).to.equal(true)
      expect(result.id % 2).to.equal(0)
    }
    await session.close()
    await peer.expectSuccess()
    const accepted = peer.streamsDone('accepted')
    expect(accepted).to.have.lengthOf(4)
    for (const e of accepted) { expect(e).to.include({ ok: true, bytes: 200_000, type: 9 }) }
  })

  it('a Go peer killed mid-stream fails the stream and closes the session with a reason', async function () {
    this.timeout(20_000)
    const { peer, port } = await goListen([], { timeoutMs: 15_000 })
    const session = await dialTracked({ port })
    const stream = await session.open()
    stream.write(Buffer.alloc(1000, 1))
    const reading = readAll(stream)
    await peer.waitFor('accepted', 5000)
    peer.kill()
    await expect(within(reading, 5000, 'the read')).to.eventually.be.rejected()
    const reason = await within(sessionClosed(session), 5000, 'the session end')
    expect(reason).to.be.an.instanceOf(Error)
  })
})
