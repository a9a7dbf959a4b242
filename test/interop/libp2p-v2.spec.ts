/**
 * A js-libp2p node of the previous major (libp2p 2.x with yamux only, from npm under the
 * libp2p-v2* aliases) against a js-libp2p 3 node offering [muxado(), yamux()]: both directions
 * must fall back to yamux, with identify and ping working. A v2 node cannot load this muxer at
 * all: it is a v3 StreamMuxerFactory, and v2 calls factories differently (README, "Interop").
 *
 * The two majors use different multiaddr majors (12 and 13), so addresses cross as strings.
 */

import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { createLibp2p as createLibp2pV2 } from 'libp2p-v2'
import { identify as identifyV2 } from 'libp2p-v2-identify'
import { multiaddr as multiaddrV2 } from 'libp2p-v2-multiaddr'
import { noise as noiseV2 } from 'libp2p-v2-noise'
import { ping as pingV2 } from 'libp2p-v2-ping'
import { tcp as tcpV2 } from 'libp2p-v2-tcp'
import { yamux as yamuxV2 } from 'libp2p-v2-yamux'
import { pEvent } from 'p-event'
import { muxado } from '../../src/index.ts'
import { ECHO, createServiceNode, stopAll } from '../e2e/helpers.ts'
import type { ServiceNode } from '../e2e/helpers.ts'
import type { IdentifyResult } from '@libp2p/interface'
import type { Libp2p as Libp2pV2 } from 'libp2p-v2'
import type { Identify as IdentifyV2 } from 'libp2p-v2-identify'
import type { Ping as PingV2 } from 'libp2p-v2-ping'

const YAMUX = '/yamux/1.0.0'

type V2Node = Libp2pV2<{ identify: IdentifyV2, ping: PingV2 }>

async function createV2Node (): Promise<V2Node> {
  return createLibp2pV2({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcpV2()],
    connectionEncrypters: [noiseV2()],
    streamMuxers: [yamuxV2()],
    services: { identify: identifyV2(), ping: pingV2() }
  })
}

/** What a node of either major learns by identify about its first new peer */
async function identified (node: ServiceNode | V2Node): Promise<{ agentVersion?: string, protocols: string[], listenAddrs: string[] }> {
  // both majors emit the same event with the same fields; v3's types describe it
  const evt = await pEvent<'peer:identify', CustomEvent<IdentifyResult>>(node as ServiceNode, 'peer:identify', { timeout: 10_000 })
  const result = evt.detail
  return { agentVersion: result.agentVersion, protocols: result.protocols, listenAddrs: result.listenAddrs.map(String) }
}

/** Connect a v3 node with [muxado(), yamux()] and a v2 node with yamux, check the connection, stop both */
async function checkFallback (v3Dials: boolean): Promise<void> {
  const node3 = await createServiceNode({ muxers: [muxado(), yamux()] })
  const node2 = await createV2Node()
  try {
    const v3Learns = identified(node3)
    const v2Learns = identified(node2)
    if (v3Dials) {
      await node3.dial(multiaddr(node2.getMultiaddrs()[0].toString()))
    } else {
      await node2.dial(multiaddrV2(node3.getMultiaddrs()[0].toString()))
    }
    const [of2, of3] = await Promise.all([v3Learns, v2Learns])

    const [conn3] = node3.getConnections()
    const [conn2] = node2.getConnections()
    expect(conn3.multiplexer).to.equal(YAMUX)
    expect(conn2.multiplexer).to.equal(YAMUX)

    expect(of2.agentVersion).to.match(/^js-libp2p\/2\./)
    expect(of2.protocols).to.include.members(['/ipfs/id/1.0.0', '/ipfs/ping/1.0.0'])
    expect(of2.listenAddrs).to.deep.equal(node2.getMultiaddrs().map(ma => ma.decapsulateCode(421).toString()))
    expect(of3.agentVersion).to.match(/^js-libp2p\/3\./)
    expect(of3.protocols).to.include.members([ECHO, '/ipfs/id/1.0.0', '/ipfs/ping/1.0.0'])
    expect(of3.listenAddrs).to.deep.equal(node3.getMultiaddrs().map(ma => ma.decapsulateCode(421).toString()))

    expect(await node3.services.ping.ping(conn3.remotePeer)).to.be.a('number')
    expect(await node2.services.ping.ping(conn2.remotePeer)).to.be.a('number')
  } finally {
    await stopAll([node3])
    await node2.stop()
  }
}

describe('interop: js-libp2p 2.x (yamux only) with js-libp2p 3 offering [muxado(), yamux()]', function () {
  it('v3 dials v2: both fall back to yamux, identify and ping work both ways', async function () {
    await checkFallback(true)
  })

  it('v2 dials v3: both fall back to yamux, identify and ping work both ways', async function () {
    await checkFallback(false)
  })
})
