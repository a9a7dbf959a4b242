import { noise } from '@chainsafe/libp2p-noise'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { webSockets } from '@libp2p/websockets'
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { createLibp2p } from 'libp2p'
import { pEvent } from 'p-event'
import { equals } from 'uint8arrays/equals'
import { muxado } from '../../src/index.ts'
import { pattern, readAll, write } from '../helpers/streams.ts'
import { ECHO, REPORT } from './protocols.ts'
import type { ConnectionReport, StreamReport } from './protocols.ts'
import type { Identify } from '@libp2p/identify'
import type { Connection, IdentifyResult, Libp2p, Stream } from '@libp2p/interface'
import type { Ping } from '@libp2p/ping'

/**
 * A libp2p node in Chromium (page or Web Worker) dialing the Node node that `.aegir.js` started
 * (`node-peer.ts`), over WebSockets + Noise + muxado.
 */

const MIB = 1024 * 1024

async function echo (connection: Connection, data: Uint8Array): Promise<Uint8Array> {
  const stream = await connection.newStream(ECHO)
  const reply = readAll(stream)
  for (let offset = 0; offset < data.byteLength; offset += 64 * 1024) {
    await write(stream, data.subarray(offset, offset + 64 * 1024))
  }
  await stream.close()
  return reply
}

/** ECHO streams that have echoed one byte: the Node side's handler is running on each */
async function openEchoStreams (connection: Connection, count: number): Promise<Stream[]> {
  return Promise.all(Array.from({ length: count }, async () => {
    const stream = await connection.newStream(ECHO)
    const echoed = new Promise(resolve => { stream.addEventListener('message', resolve, { once: true }) })
    stream.send(Uint8Array.of(1))
    await echoed
    return stream
  }))
}

describe('browser ↔ Node over WebSockets (Noise, muxado)', function () {
  this.timeout(60_000)
  const nodePeer = multiaddr(process.env.MUXADO_NODE_PEER ?? '')
  let node: Libp2p<{ identify: Identify, ping: Ping }>

  /** What the Node side saw on this browser's connections that have closed since the last report */
  async function nodeSideReport (): Promise<ConnectionReport[]> {
    const connection = await dial()
    const stream = await connection.newStream(REPORT)
    await stream.close()
    const report = JSON.parse(new TextDecoder().decode(await readAll(stream)))
    await connection.close()
    return report
  }

  /** The one connection closed since the last report ended with these ECHO streams, none left open */
  async function expectNodeSide (streams: StreamReport[]): Promise<void> {
    expect(await nodeSideReport()).to.deep.equal([{ multiplexer: '/muxado/1.0.0', streams, openStreams: 0 }])
  }

  /** A new connection each time: libp2p would otherwise hand back one still open */
  async function dial (): Promise<Connection> {
    return node.dial(nodePeer, { force: true })
  }

  before(async () => {
    node = await createLibp2p({
      transports: [webSockets()],
      connectionEncrypters: [noise()],
      streamMuxers: [muxado()],
      services: { identify: identify(), ping: ping() },
      // a browser node refuses private addresses by default; the Node peer is on 127.0.0.1
      connectionGater: { denyDialMultiaddr: () => false }
    })
  })

  after(async () => {
    await node?.stop()
  })

  it('negotiates /muxado/1.0.0, identifies the Node node and pings it', async () => {
    // identify runs on every new connection; a second identify stream would be refused
    const identified = pEvent<'peer:identify', CustomEvent<IdentifyResult>>(node, 'peer:identify')
    const connection = await dial()
    expect(connection.multiplexer).to.equal('/muxado/1.0.0')
    expect(connection.encryption).to.equal('/noise')
    expect((await identified).detail.protocols).to.include.members([ECHO, REPORT, '/ipfs/ping/1.0.0'])
    const rtt = await node.services.ping.ping(connection.remotePeer)
    expect(rtt).to.be.a('number').and.at.least(0)
    await connection.close()
    await expectNodeSide([])
  })

  it('10 streams echo 1 MiB each, byte-exact; every stream closes without error on both sides', async () => {
    const connection = await dial()
    const payloads = Array.from({ length: 10 }, (_, i) => pattern(MIB, i))
    const replies = await Promise.all(payloads.map(async (data) => echo(connection, data)))
    replies.forEach((reply, i) => {
      expect(reply.byteLength, `stream ${i} bytes`).to.equal(MIB)
      expect(equals(reply, payloads[i]), `stream ${i} bytes equal`).to.equal(true)
    })
    await connection.close()
    await expectNodeSide(Array(10).fill({ closed: true }))
  })

  it('closing the connection with streams open half-closes them: the Node side echoes its FIN and every stream closes without error', async () => {
    const connection = await dial()
    await openEchoStreams(connection, 5)
    await connection.close()
    expect(connection.status).to.equal('closed')
    await expectNodeSide(Array(5).fill({ closed: true }))
  })

  it('the WebSocket closing under libp2p, as when the tab closes, ends every Node-side stream; the Node node serves on', async () => {
    // record the sockets the transport opens (it dials with the global WebSocket)
    const sockets: WebSocket[] = []
    const NativeWebSocket = globalThis.WebSocket
    globalThis.WebSocket = class extends NativeWebSocket {
      constructor (...args: ConstructorParameters<typeof WebSocket>) {
        super(...args)
        sockets.push(this)
      }
    }
    let connection: Connection
    try {
      connection = await dial()
    } finally {
      globalThis.WebSocket = NativeWebSocket
    }
    await openEchoStreams(connection, 5)
    expect(sockets).to.have.length(1)
    const closed = pEvent<'connection:close', CustomEvent<Connection>>(node, 'connection:close', { filter: (evt) => evt.detail.id === connection.id })
    sockets[0].close()
    // until then this browser node would open the REPORT stream on the dead connection
    await closed
    // no GOAWAY came: the muxer ends each stream with the error of a lost connection
    await expectNodeSide(Array(5).fill({ closed: true, error: 'ConnectionClosedError' }))
  })
})
