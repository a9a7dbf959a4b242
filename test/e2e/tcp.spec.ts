import { expect } from 'aegir/chai'
import { pEvent } from 'p-event'
import { PROTOCOL } from '../../src/index.ts'
import { sha256 } from '../helpers/digest.ts'
import { pattern } from '../helpers/streams.ts'
import { ECHO, connect, createNode, createServiceNode, echo, stopAll } from './helpers.ts'
import type { ServiceNode } from './helpers.ts'
import type { Connection, IdentifyResult, Libp2p } from '@libp2p/interface'

describe('e2e: two libp2p nodes in one process, TCP + Noise + muxado', () => {
  let nodes: Libp2p[] = []

  afterEach(async () => {
    await stopAll(nodes)
    nodes = []
  })

  async function pair (): Promise<[Libp2p, Libp2p]> {
    const dialer = await createNode()
    const listener = await createNode()
    nodes.push(dialer, listener)
    return [dialer, listener]
  }

  it('negotiates /muxado/1.0.0 on both ends of the connection', async function () {
    this.timeout(10_000)
    const [dialer, listener] = await pair()
    const { outbound, inbound } = await connect(dialer, listener)
    expect(outbound.multiplexer).to.equal(PROTOCOL)
    expect(outbound.encryption).to.equal('/noise')
    expect(inbound.multiplexer).to.equal(PROTOCOL)
    expect(inbound.encryption).to.equal('/noise')
  })

  it('echoes 1 MB intact on one stream', async function () {
    this.timeout(20_000)
    const [dialer, listener] = await pair()
    const data = pattern(1024 * 1024, 1)
    const reply = await echo(dialer, listener.getMultiaddrs(), data)
    expect(reply.byteLength).to.equal(data.byteLength)
    expect(sha256(reply)).to.equal(sha256(data))
    expect(dialer.getConnections(listener.peerId)).to.have.length(1)
  })

  async function concurrentEchoes (dialer: Libp2p, connection: Connection, streams: number): Promise<void> {
    const results = await Promise.all(Array.from({ length: streams }, async (_, i) => {
      const data = pattern(20_000 + i * 97, i)
      const reply = await echo(dialer, connection.remotePeer, data)
      return sha256(reply) === sha256(data)
    }))
    expect(results.filter(ok => !ok)).to.have.length(0)
    expect(dialer.getConnections(connection.remotePeer)).to.deep.equal([connection])
    expect(connection.status).to.equal('open')
  }

  it('echoes on 100 concurrent protocol streams over one connection', async function () {
    this.timeout(30_000)
    const [dialer, listener] = await pair()
    const { outbound } = await connect(dialer, listener)
    await concurrentEchoes(dialer, outbound, 100)
  })

  // dial() resolves before the listener's libp2p listens for streams on the new connection, and
  // muxado's coalesced writes deliver all the SYNs at once: with libp2p's default early-stream
  // limit (10) that aborted the whole session, so muxado raises it to maxInboundStreams
  it('echoes on 100 concurrent protocol streams opened the moment dial() resolves', async function () {
    this.timeout(30_000)
    const [dialer, listener] = await pair()
    const connection = await dialer.dial(listener.getMultiaddrs())
    await concurrentEchoes(dialer, connection, 100)
  })

  it('carries the identify and ping services', async function () {
    this.timeout(15_000)
    const dialer: ServiceNode = await createServiceNode()
    const listener: ServiceNode = await createServiceNode()
    nodes.push(dialer, listener)
    const identified = pEvent<'peer:identify', CustomEvent<IdentifyResult>>(dialer, 'peer:identify', {
      filter: (evt) => evt.detail.peerId.equals(listener.peerId)
    })
    const connection = await dialer.dial(listener.getMultiaddrs())
    const { detail } = await identified
    expect(detail.connection.multiplexer).to.equal(PROTOCOL)
    expect(detail.protocols).to.include.members([ECHO, '/ipfs/id/1.0.0', '/ipfs/ping/1.0.0'])
    expect(detail.agentVersion).to.be.a('string')

    const rtt = await listener.services.ping.ping(dialer.peerId)
    expect(rtt).to.be.a('number').and.at.least(0)
    const rtt2 = await dialer.services.ping.ping(listener.peerId)
    expect(rtt2).to.be.a('number').and.at.least(0)
    expect(connection.status).to.equal('open')
  })
})
