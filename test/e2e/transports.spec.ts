import { createRequire } from 'node:module'
import { memory } from '@libp2p/memory'
import { webSockets } from '@libp2p/websockets'
import { expect } from 'aegir/chai'
import { PROTOCOL } from '../../src/index.ts'
import { sha256 } from '../helpers/digest.ts'
import { pattern } from '../helpers/streams.ts'
import { connect, createNode, echo, stopAll } from './helpers.ts'
import type { NodeOptions } from './helpers.ts'
import type { Libp2p } from '@libp2p/interface'

let memoryAddresses = 0

const transports: Array<[string, () => NodeOptions]> = [
  ['WebSockets', () => ({ transports: [webSockets()], listen: ['/ip4/127.0.0.1/tcp/0/ws'] })],
  ['the memory transport', () => ({ transports: [memory()], listen: [`/memory/muxado-e2e-${process.pid}-${memoryAddresses++}`] })]
]

describe('e2e: muxado over other transports (Noise)', () => {
  const nodes: Libp2p[] = []
  let borrowedWebSocket = false

  before(() => {
    if ((globalThis as any).WebSocket == null) {
      // Node 20 has a global WebSocket only with --experimental-websocket, and the websockets
      // transport dials with the global. Its listener side already runs on the `ws` package, so
      // the dialer borrows that package's client, resolved from the transport's own dependencies.
      const require = createRequire(import.meta.resolve('@libp2p/websockets'))
      ;(globalThis as any).WebSocket = require('ws').WebSocket
      borrowedWebSocket = true
    }
  })

  after(() => {
    if (borrowedWebSocket) {
      delete (globalThis as any).WebSocket
    }
  })

  afterEach(async () => {
    await stopAll(nodes.splice(0))
  })

  for (const [name, options] of transports) {
    it(`echoes 1 MB and 20 concurrent streams over ${name}`, async function () {
      this.timeout(20_000)
      const dialer = await createNode(options())
      const listener = await createNode(options())
      nodes.push(dialer, listener)
      const { outbound, inbound } = await connect(dialer, listener)
      expect(outbound.multiplexer).to.equal(PROTOCOL)
      expect(inbound.multiplexer).to.equal(PROTOCOL)

      const big = pattern(1024 * 1024, 5)
      expect(sha256(await echo(dialer, listener.peerId, big))).to.equal(sha256(big))

      const echoed = await Promise.all(Array.from({ length: 20 }, async (_, i) => {
        const data = pattern(30_000, i)
        return sha256(await echo(dialer, listener.peerId, data)) === sha256(data)
      }))
      expect(echoed.filter(ok => !ok)).to.have.length(0)
      expect(dialer.getConnections(listener.peerId)).to.deep.equal([outbound])
    })
  }
})
