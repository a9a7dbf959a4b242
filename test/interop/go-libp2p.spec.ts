/**
 * js-libp2p 3 nodes running this muxer against a libp2p peer that is not js-libp2p: this
 * project's own minimal Go peer (go-libp2p-peer/), written from the libp2p specs on Go's
 * reference muxado and flynn/noise (the Noise library go-libp2p uses). It is not go-libp2p.
 *
 * Matrix: JS muxer lists × muxer chosen inside Noise or by multistream-select after it × who
 * dials. Every combination runs on one connection; hanging up ends it, so that test is last.
 * One more connection is opened first and left idle while the matrix runs; the last test checks
 * that heartbeats kept it up for 20 s.
 */

import { yamux } from '@libp2p/yamux'
import { expect } from 'aegir/chai'
import { pEvent } from 'p-event'
import { muxado, muxadoSession } from '../../src/index.ts'
import { ECHO, STREAM_LIMITS, createServiceNode, echo, stopAll } from '../e2e/helpers.ts'
import { sha256 } from '../helpers/digest.ts'
import { pattern, readAll, write } from '../helpers/streams.ts'
import { GO_AGENT, GO_PROTOCOLS, goLibp2pDial, goLibp2pListen } from './go-libp2p-peer.ts'
import { buildGoPeersOrSkip } from './go-peer.ts'
import type { GoLibp2pPeer, Negotiation } from './go-libp2p-peer.ts'
import type { GoEvent, GoPeerOptions } from './go-peer.ts'
import type { MuxerEntry, ServiceNode } from '../e2e/helpers.ts'
import type { Connection, IdentifyResult, Stream, StreamCloseEvent } from '@libp2p/interface'

const MUXADO = '/muxado/1.0.0'
const YAMUX = '/yamux/1.0.0'
const MiB = 1024 * 1024
/** longer than Go muxado's heartbeat interval + tolerance (3 s + 10 s) and ours (3 s + 10 s) */
const IDLE_MS = 20_000

const MUXER_LISTS: Array<{ title: string, muxers(): MuxerEntry[], protocols: string[] }> = [
  { title: '[muxado()]', muxers: () => [muxado()], protocols: [MUXADO] },
  { title: '[muxado(), yamux()]', muxers: () => [muxado(), yamux()], protocols: [MUXADO, YAMUX] },
  { title: '[yamux(), muxado()]', muxers: () => [yamux(), muxado()], protocols: [YAMUX, MUXADO] }
]
const NEGOTIATIONS: Negotiation[] = ['early', 'multistream-select']
const DIRECTIONS = [{ title: 'JS dials Go', jsDials: true }, { title: 'Go dials JS', jsDials: false }]

/** JS resets every stream of this protocol at its first byte (Go's expect-reset command) */
const JS_ABORT = '/muxado-interop/abort/1.0.0'

/** Answer the hex SHA-256 of everything read, after the remote's FIN (Go's halfclose command) */
async function sha256Handler (stream: Stream): Promise<void> {
  try {
    const digest = sha256(await readAll(stream))
    await write(stream, new TextEncoder().encode(digest))
    await stream.close()
  } catch (err: any) {
    stream.abort(err)
  }
}

interface Pair {
  node: ServiceNode
  go: GoLibp2pPeer
  /** the JS node's connection to the Go peer */
  conn: Connection
  /** Go's "connected" event: how the muxer was chosen */
  connected: GoEvent
  /** what the Go peer advertises: its listen address when it listens, nothing when it dials */
  goListenAddrs: string[]
  /** JS's identify of the Go peer (libp2p runs it on every new connection) */
  identified: Promise<IdentifyResult>
}

async function connectPair (muxers: MuxerEntry[], negotiation: Negotiation, jsDials: boolean, options: GoPeerOptions = {}): Promise<Pair> {
  const node = await createServiceNode({ muxers })
  try {
    await node.handle(GO_PROTOCOLS.sha256, sha256Handler, STREAM_LIMITS)
    await node.handle(JS_ABORT, (stream) => {
      stream.addEventListener('message', () => { stream.abort(new Error('reset by the JS test')) }, { once: true })
    })
    const identified = pEvent<'peer:identify', CustomEvent<IdentifyResult>>(node, 'peer:identify', { timeout: 10_000 })
      .then(evt => evt.detail)
    identified.catch(() => {}) // awaited by the identify test; this only keeps a failure from going unhandled
    if (jsDials) {
      const { peer: go, address } = await goLibp2pListen(negotiation, options)
      const conn = await node.dial(address)
      const connected = await go.waitFor('connected')
      return { node, go, conn, connected, goListenAddrs: [address.decapsulateCode(421).toString()], identified }
    }
    const opened = pEvent<'connection:open', CustomEvent<Connection>>(node, 'connection:open', { timeout: 10_000 })
    const go = goLibp2pDial(node.getMultiaddrs()[0], negotiation, options)
    const connected = await go.waitFor('connected')
    return { node, go, conn: (await opened).detail, connected, goListenAddrs: [], identified }
  } catch (err) {
    await stopAll([node]) // the Go peer, if any, is killed by its own timeout
    throw err
  }
}

/** Every stream of `streams` keeps writing and reading until it closes; resolves once each has had an echo */
async function keepBusy (streams: Stream[]): Promise<void> {
  await Promise.all(streams.map(async (stream, i) => {
    stream.addEventListener('message', () => {})
    const echoed = pEvent(stream, 'message', { timeout: 10_000 })
    void (async () => {
      while (stream.writeStatus === 'writable') { await write(stream, pattern(16_384, i)) }
    })().catch(() => {}) // ends when the stream does; the test checks how it ended
    await echoed
  }))
}

async function stopPair (pair?: Pair): Promise<void> {
  if (pair == null) { return }
  await stopAll([pair.node])
  pair.go.kill()
  await pair.go.exited
}

describe('interop: js-libp2p 3 with this project\'s minimal Go libp2p peer (Go muxado + flynn/noise, not go-libp2p)', function () {
  let idle: Pair | undefined
  let idleSince = 0

  before(async function () {
    buildGoPeersOrSkip(this, 'the Go libp2p peer interop')
    // the Go peer's watchdog must outlast the whole matrix
    idle = await connectPair([muxado(), yamux()], 'early', true, { timeoutMs: 300_000 })
    idleSince = Date.now()
  })

  after(async function () {
    await stopPair(idle)
  })

  for (const list of MUXER_LISTS) {
    for (const negotiation of NEGOTIATIONS) {
      for (const direction of DIRECTIONS) {
        describe(`${direction.title}, JS muxers ${list.title}, muxer chosen by ${negotiation === 'early' ? 'early negotiation inside Noise' : 'multistream-select after Noise'}`, function () {
          let pair: Pair

          before(async function () {
            pair = await connectPair(list.muxers(), negotiation, direction.jsDials)
          })

          after(async function () {
            await stopPair(pair)
          })

          it('both sides run /muxado/1.0.0, chosen the way the specs say', function () {
            const { conn, connected } = pair
            expect(conn.encryption).to.equal('/noise')
            expect(conn.multiplexer).to.equal(MUXADO)
            expect(muxadoSession(conn), 'the JS muxer instance').to.not.equal(undefined)
            expect(connected.muxer).to.equal(MUXADO)
            expect(connected.negotiation).to.equal(negotiation)
            // js-libp2p always offers its list inside Noise, in its order
            expect(connected.remoteMuxers).to.deep.equal(list.protocols)
            if (negotiation === 'multistream-select') {
              // the dialer proposes in its order; Go answers "na" to yamux
              const proposals = direction.jsDials ? list.protocols.slice(0, list.protocols.indexOf(MUXADO) + 1) : [MUXADO]
              expect(connected.proposals).to.deep.equal(proposals)
            }
          })

          it('identify: JS learns the Go peer\'s agent, protocols and listen addresses', async function () {
            const result = await pair.identified
            expect(result.peerId.toString()).to.equal(pair.connected.peerId)
            expect(result.agentVersion).to.equal(GO_AGENT)
            expect([...result.protocols].sort()).to.deep.equal(Object.values(GO_PROTOCOLS).sort())
            expect(result.listenAddrs.map(String)).to.deep.equal(pair.goListenAddrs)
          })

          it('identify: Go learns the JS node\'s agent, protocols and listen addresses', async function () {
            const { node } = pair
            const result = await pair.go.run('identify')
            expect(result.publicKeyPeerId).to.equal(node.peerId.toString())
            expect(pair.connected.remotePeer).to.equal(node.peerId.toString())
            expect(result.agentVersion).to.match(/^js-libp2p\/3\./)
            expect([...result.protocols].sort()).to.deep.equal(node.getProtocols().sort())
            expect(result.listenAddrs).to.deep.equal(node.getMultiaddrs().map(ma => ma.decapsulateCode(421).toString()))
          })

          it('ping both ways', async function () {
            const rtt = await pair.node.services.ping.ping(pair.conn.remotePeer)
            expect(rtt).to.be.a('number')
            const result = await pair.go.run('ping', { count: 3 })
            expect(result.rtts).to.have.lengthOf(3)
          })

          it('1 MiB echoed both ways', async function () {
            const data = pattern(MiB, 1)
            const [reply] = await Promise.all([
              echo(pair.node, pair.conn.remotePeer, data),
              pair.go.run('echo', { count: 1, bytes: MiB })
            ])
            expect(reply.byteLength).to.equal(MiB)
            expect(sha256(reply)).to.equal(sha256(data))
          })

          it('100 concurrent streams each way, at the same time', async function () {
            const data = Array.from({ length: 100 }, (_, i) => pattern(16_384, i))
            const [replies, result] = await Promise.all([
              Promise.all(data.map(async d => echo(pair.node, pair.conn.remotePeer, d))),
              pair.go.run('echo', { count: 100, bytes: 16_384 })
            ])
            expect(replies.map(sha256)).to.deep.equal(data.map(sha256))
            expect(result.failures).to.deep.equal([])
          })

          it('half-close both ways: the side that sent its FIN still gets the answer sent after it', async function () {
            const data = pattern(100_000, 2)
            const stream = await pair.node.dialProtocol(pair.conn.remotePeer, GO_PROTOCOLS.sha256)
            const reply = readAll(stream)
            await write(stream, data)
            await stream.close()
            expect(stream.writeStatus).to.equal('closed')
            expect(new TextDecoder().decode((await reply).subarray())).to.equal(sha256(data))
            await pair.go.run('halfclose', { bytes: 100_000 })
          })

          it('JS abort() resets a stream, whichever side opened it: Go\'s reads fail with "reset by peer"', async function () {
            const { node, go, conn } = pair
            const stream = await node.dialProtocol(conn.remotePeer, ECHO, STREAM_LIMITS)
            const echoed = pEvent(stream, 'message', { timeout: 5000 })
            stream.send(pattern(1024))
            await echoed // Go is inside its echo loop
            stream.abort(new Error('reset by the JS test'))
            const end = await go.waitFor(e => e.event === 'stream-end' && e.protocol === ECHO && e.error !== '')
            expect(end.error).to.match(/reset by peer/)

            const result = await go.run('expect-reset') // on a stream Go opens to JS_ABORT
            expect(result.readError).to.match(/reset by peer/)
          })

          it('Go Close() while JS still sends (Go muxado cannot reset a stream): FIN, then RST StreamClosed, which ends the JS stream', async function () {
            const { node, go, conn } = pair
            const stream = await node.dialProtocol(conn.remotePeer, GO_PROTOCOLS.closeEarly)
            const closed = pEvent<'close', StreamCloseEvent>(stream, 'close', { timeout: 5000 })
            const finished = pEvent(stream, 'remoteCloseWrite', { timeout: 5000 })
            stream.send(new Uint8Array(1))
            await finished
            await go.waitFor(e => e.event === 'stream-end' && e.protocol === GO_PROTOCOLS.closeEarly) // Close() returned
            stream.send(new Uint8Array(100)) // Go has forgotten the stream: it answers RST StreamClosed
            // after the peer's FIN, RST StreamClosed is Go's normal close (docs/protocol.md §2.4)
            expect((await closed).error).to.equal(undefined)
            expect(stream.status).to.equal('closed')
            expect(() => stream.send(new Uint8Array(1))).to.throw().with.property('name', 'StreamStateError')
          })

          it('Go hanging up mid-stream ends every JS stream with an error, and the connection', async function () {
            const { node, go, conn } = pair
            const streams = await Promise.all(Array.from({ length: 4 }, async () => node.dialProtocol(conn.remotePeer, ECHO, STREAM_LIMITS)))
            const closed = streams.map(async s => pEvent<'close', StreamCloseEvent>(s, 'close', { timeout: 5000 }))
            const connectionClosed = pEvent(node, 'connection:close', { timeout: 5000 })
            await keepBusy(streams)
            await go.run('hangup')
            for (const evt of await Promise.all(closed)) {
              expect(evt.error, 'the stream\'s close event').to.be.an('error')
            }
            await connectionClosed
            expect(node.getConnections(conn.remotePeer)).to.deep.equal([])
            expect(await go.waitExit()).to.equal(0)
          })
        })
      }
    }
  }

  // the session a Go peer reading in small reads used to kill: a WNDINC per Read(), most of them
  // for streams the JS side has already closed (issue: TooManyUselessFramesError)
  for (const direction of DIRECTIONS) {
    describe(`${direction.title}, JS muxers [muxado()], early negotiation: Go reading in 64-byte reads`, function () {
      it('5 rounds × 100 streams × 10,000 B echoed by JS, every byte checked, and the connection still opens streams', async function () {
        this.timeout(60_000)
        const pair = await connectPair([muxado()], 'early', direction.jsDials)
        try {
          for (let round = 0; round < 5; round++) {
            const result = await pair.go.run('echo', { count: 100, bytes: 10_000, readSize: 64 })
            expect(result.failures, `round ${round + 1}`).to.deep.equal([])
          }
          expect(pair.conn.status).to.equal('open')
          const reply = await echo(pair.node, pair.conn.remotePeer, pattern(1000, 7))
          expect(sha256(reply)).to.equal(sha256(pattern(1000, 7)))
        } finally {
          await stopPair(pair)
        }
      })
    })
  }

  describe('JS dials Go, JS muxers [muxado(), yamux()], early negotiation, connection opened before the matrix', function () {
    it('left idle for 20 s, it stays up: heartbeats went both ways and were answered', async function () {
      this.timeout(IDLE_MS + 30_000)
      if (idle == null) { throw new Error('no idle connection') }
      await new Promise(resolve => setTimeout(resolve, Math.max(0, IDLE_MS - (Date.now() - idleSince))))
      expect(idle.conn.status).to.equal('open')
      // Go muxado closes a session whose heartbeats go unanswered for 13 s
      expect(idle.go.find('session-end'), 'Go\'s session ended').to.equal(undefined)
      // ours measures a round trip only when Go answers
      expect(muxadoSession(idle.conn)?.rtt).to.be.a('number')
      await idle.go.run('ping', { count: 1 })
      expect(await idle.node.services.ping.ping(idle.conn.remotePeer)).to.be.a('number')
    })
  })
})
