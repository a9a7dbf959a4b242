import net from 'node:net'
import { noise } from '@chainsafe/libp2p-noise'
import { multiaddrConnectionPair } from '@libp2p/utils'
import { expect } from 'aegir/chai'
import { pEvent } from 'p-event'
import { muxado } from '../../src/index.ts'
import { profileTransport } from '../../src/transport.ts'
import { socketToMaConn } from '../interop/tcp.ts'
import { ECHO, STREAM_LIMITS, connect, createNode, echoHandler, pattern, readAll, stopAll, write } from './helpers.ts'
import type { MuxadoMuxer } from '../../src/index.ts'
import type { MuxerEntry } from './helpers.ts'
import type { Libp2p, MessageStream, MultiaddrConnection, Stream } from '@libp2p/interface'

/**
 * The writer copies a batch into one reused buffer only where the connection proves it is done
 * with it after `send()` (src/transport.ts). A recorder keeps every buffer a muxer handed to its
 * connection with a copy of its bytes at that moment: on a connection that keeps what it is given
 * (an in-memory pair hands the very buffer to the reader), none may change afterwards; on TCP and
 * Noise, where buffers are reused, every byte must still arrive exactly as sent while the reader
 * pauses and the connection queues.
 */
class SendRecorder {
  readonly handed: Array<{ view: Uint8Array, bytes: Uint8Array }> = []

  wrap (connection: MessageStream): void {
    const send = connection.send.bind(connection)
    connection.send = (data) => {
      for (const view of data instanceof Uint8Array ? [data] : data) { this.handed.push({ view, bytes: view.slice() }) }
      return send(data)
    }
  }

  /** buffers whose bytes changed after they were handed over */
  changed (): number {
    return this.handed.filter(({ view, bytes }) => !view.every((byte, i) => byte === bytes[i])).length
  }

  /** distinct memory the handed buffers live in: few when a buffer is reused */
  buffers (): number {
    return new Set(this.handed.map(({ view }) => view.buffer)).size
  }
}

const STREAMS = 8
const BYTES = 2 * 1024 * 1024

/** Echo STREAMS × BYTES with the reader of every stream pausing now and then; the echoes byte-exact */
async function stress (open: () => Promise<Stream>): Promise<void> {
  await Promise.all(Array.from({ length: STREAMS }, async (_, i) => {
    const stream = await open()
    const data = pattern(BYTES, i)
    const reading = (async () => {
      const received = readAll(stream)
      for (let k = 0; k < 4 && stream.readStatus === 'readable'; k++) {
        await new Promise(resolve => setTimeout(resolve, 20))
        if (stream.readStatus !== 'readable') { break }
        stream.pause()
        await new Promise(resolve => setTimeout(resolve, 20))
        stream.resume()
      }
      return received
    })()
    for (let offset = 0; offset < BYTES; offset += 65536) { await write(stream, data.subarray(offset, offset + 65536)) }
    await stream.close()
    const received = (await reading).subarray()
    const firstDifference = received.findIndex((byte, k) => byte !== data[k])
    expect({ length: received.byteLength, firstDifference }, `stream ${i}`).to.deep.equal({ length: BYTES, firstDifference: -1 })
  }))
}

function echoInbound (muxer: MuxadoMuxer): void {
  muxer.addEventListener('stream', (evt) => { void echoHandler(evt.detail) })
}

/** A muxer pair over `client` / `server`, the client's sends recorded */
function pairOver (client: MultiaddrConnection, server: MultiaddrConnection): { muxer: MuxadoMuxer, recorder: SendRecorder, close(): void } {
  const recorder = new SendRecorder()
  recorder.wrap(client)
  const factory = muxado({ enableHeartbeat: false })()
  const muxer = factory.createStreamMuxer(client)
  const remote = factory.createStreamMuxer(server)
  echoInbound(remote)
  return { muxer, recorder, close: () => { muxer.abort(new Error('test over')); remote.abort(new Error('test over')) } }
}

async function tcpPair (): Promise<{ client: MultiaddrConnection, server: MultiaddrConnection, stop(): void }> {
  const server = net.createServer({ noDelay: true })
  const accepted = pEvent<'connection', net.Socket>(server, 'connection')
  await new Promise<void>(resolve => { server.listen(0, '127.0.0.1', resolve) })
  const socket = net.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1', noDelay: true })
  await pEvent(socket, 'connect')
  const inbound = await accepted
  return { client: socketToMaConn(socket, 'outbound'), server: socketToMaConn(inbound, 'inbound'), stop: () => { socket.destroy(); inbound.destroy(); server.close() } }
}

describe('write path: buffers are reused only where the connection is done with them', function () {
  this.timeout(60_000)

  it('an in-memory pair keeps what it is handed: no buffer changes after send(), and every byte arrives', async () => {
    const [client, server] = multiaddrConnectionPair()
    const { muxer, recorder, close } = pairOver(client, server)
    await stress(async () => muxer.createStream())
    expect(recorder.handed.length).to.be.greaterThan(100)
    expect(recorder.changed()).to.equal(0)
    close()
  })

  it('the check catches reuse forced onto an in-memory pair (a connection posing as a socket)', async () => {
    const [client, server] = multiaddrConnectionPair()
    Object.assign(client, { socket: { writableLength: 0 } })
    expect(profileTransport(client, false).finishedWithSent?.()).to.equal(true)
    const { muxer, recorder, close } = pairOver(client, server)
    await Promise.allSettled([stress(async () => muxer.createStream())])
    expect(recorder.changed()).to.be.greaterThan(0)
    close()
  })

  it('@libp2p/tcp: batches share one buffer, and every byte arrives while the reader pauses and the socket queues', async () => {
    const { client, server, stop } = await tcpPair()
    expect(profileTransport(client, false).finishedWithSent).to.be.a('function')
    const { muxer, recorder, close } = pairOver(client, server)
    await stress(async () => muxer.createStream())
    // headers come from the encoder's slab and single frames go uncopied; the batches share one buffer
    expect(recorder.buffers()).to.be.lessThan(recorder.handed.length / 4)
    close()
    stop()
  })

  it('@libp2p/tcp with reuse forced while the socket queues: the stress transfer catches the corruption', async () => {
    const { client, server, stop } = await tcpPair()
    const socket = (client as unknown as { socket: net.Socket }).socket
    Object.defineProperty(socket, 'writableLength', { get: () => 0 })
    const { muxer, close } = pairOver(client, server)
    const outcome = await stress(async () => muxer.createStream()).then(() => 'intact', () => 'corrupted')
    expect(outcome).to.equal('corrupted')
    close()
    stop()
  })

  it('libp2p nodes over TCP + Noise: batches share one buffer, and every byte arrives', async () => {
    const recorder = new SendRecorder()
    const recorded: MuxerEntry = () => {
      const factory = muxado()()
      return {
        protocol: factory.protocol,
        createStreamMuxer: (connection) => {
          recorder.wrap(connection)
          expect(profileTransport(connection, false).finishedWithSent).to.be.a('function')
          return factory.createStreamMuxer(connection)
        }
      }
    }
    let nodes: Libp2p[] = []
    try {
      nodes = [await createNode({ muxers: [recorded], encrypters: [noise()] }), await createNode()]
      const { outbound } = await connect(nodes[0], nodes[1])
      await stress(async () => outbound.newStream(ECHO, STREAM_LIMITS))
      expect(recorder.buffers()).to.be.lessThan(recorder.handed.length / 4)
    } finally {
      await stopAll(nodes)
    }
  })

  it('a connection whose fields do not match gets fresh memory: the safe path', () => {
    const [client] = multiaddrConnectionPair()
    expect(profileTransport(client, false)).to.deep.equal({ gathers: false })
    expect(profileTransport(Object.assign(client, { socket: { bufferedAmount: 0 } }), false)).to.deep.equal({ gathers: false })
    expect(profileTransport(Object.assign({}, { socket: { writableLength: 0 } }) as any, false)).to.deep.equal({ gathers: false })
    expect(profileTransport(client, true)).to.deep.equal({ gathers: true })
  })
})
