import net from 'node:net'
import { Writable } from 'node:stream'
import tls from 'node:tls'
import { noise } from '@chainsafe/libp2p-noise'
import { multiaddrConnectionPair } from '@libp2p/utils'
import { expect } from 'aegir/chai'
import { pEvent } from 'p-event'
import { muxado } from '../../src/index.ts'
import { SocketConnection } from '../../src/net/index.ts'
import { profileTransport } from '../../src/transport.ts'
import { duplexPair } from '../helpers/duplex-pair.ts'
import { echoStream, pattern, readAll, write } from '../helpers/streams.ts'
import { socketToMaConn } from '../interop/tcp.ts'
import { testCertificate } from '../net/helpers.ts'
import { ECHO, STREAM_LIMITS, connect, createNode, stopAll } from './helpers.ts'
import type { MuxerEntry } from './helpers.ts'
import type { MuxadoMuxer } from '../../src/index.ts'
import type { Libp2p, MessageStream, Stream } from '@libp2p/interface'
import type { Duplex } from 'node:stream'

/**
 * The writer copies a batch into one reused buffer only where the connection proves it is done
 * with it after `send()` (src/transport.ts). A recorder keeps every buffer a muxer handed to its
 * connection with a copy of its bytes at that moment: on a connection that may keep what it is
 * given (an in-memory pair hands the very buffer to the reader), none may change afterwards; on
 * TCP and Noise, where buffers are reused, every byte must still arrive exactly as sent while the
 * receiving socket stops reading and the sending socket queues.
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

/** Everything the stream echoes, its reader pausing now and then */
async function readPausing (stream: Stream): Promise<Uint8Array> {
  const [received] = await Promise.all([readAll(stream), (async () => {
    for (let k = 0; k < 4 && stream.readStatus === 'readable'; k++) {
      await new Promise(resolve => setTimeout(resolve, 20))
      if (stream.readStatus !== 'readable') { break }
      stream.pause()
      await new Promise(resolve => setTimeout(resolve, 20))
      stream.resume()
    }
  })()])
  return received
}

async function sendAll (stream: Stream, data: Uint8Array): Promise<void> {
  for (let offset = 0; offset < data.byteLength; offset += 65536) { await write(stream, data.subarray(offset, offset + 65536)) }
  await stream.close()
}

/** Echo `streams` × `bytes`; every echo must come back byte-exact. Fails at the first that does not */
async function stress (open: () => Promise<Stream>, streams = 8, bytes = 2 * 1024 * 1024): Promise<void> {
  await Promise.all(Array.from({ length: streams }, async (_, i) => {
    const stream = await open()
    const data = pattern(bytes, i)
    const [received] = await Promise.all([readPausing(stream), sendAll(stream, data)])
    const firstDifference = received.findIndex((byte, k) => byte !== data[k])
    expect({ length: received.byteLength, firstDifference }, `stream ${i}`).to.deep.equal({ length: bytes, firstDifference: -1 })
  }))
}

async function outcome (transfer: Promise<void>): Promise<'intact' | 'corrupted'> {
  return transfer.then(() => 'intact', () => 'corrupted')
}

/** A muxer pair over `client` / `server`, the client's sends recorded */
function pairOver (client: MessageStream, server: MessageStream): { muxer: MuxadoMuxer, recorder: SendRecorder, close(): void } {
  const recorder = new SendRecorder()
  recorder.wrap(client)
  const factory = muxado({ enableHeartbeat: false })()
  const muxer = factory.createStreamMuxer(client)
  const remote = factory.createStreamMuxer(server)
  remote.addEventListener('stream', (evt) => { void echoStream(evt.detail) })
  return { muxer, recorder, close: () => { muxer.abort(new Error('test over')); remote.abort(new Error('test over')) } }
}

interface SocketPair<S extends Duplex> { client: S, server: S, stop(): void }

async function socketPair (): Promise<SocketPair<net.Socket>> {
  const listener = net.createServer({ noDelay: true })
  const accepted = pEvent<'connection', net.Socket>(listener, 'connection')
  await new Promise<void>(resolve => { listener.listen(0, '127.0.0.1', resolve) })
  const client = net.connect({ port: (listener.address() as net.AddressInfo).port, host: '127.0.0.1', noDelay: true })
  await pEvent(client, 'connect')
  const server = await accepted
  return { client, server, stop: () => { client.destroy(); server.destroy(); listener.close() } }
}

async function tlsPair (): Promise<SocketPair<tls.TLSSocket>> {
  const listener = tls.createServer(testCertificate())
  const accepted = pEvent<'secureConnection', tls.TLSSocket>(listener, 'secureConnection')
  await new Promise<void>(resolve => { listener.listen(0, '127.0.0.1', resolve) })
  const client = tls.connect({ port: (listener.address() as net.AddressInfo).port, host: '127.0.0.1', ca: testCertificate().cert, servername: 'localhost' })
  await pEvent(client, 'secureConnect')
  const server = await accepted
  return { client, server, stop: () => { client.destroy(); server.destroy(); listener.close() } }
}

/** What the sending socket really holds, whatever its instance reports */
const queuedIn = Object.getOwnPropertyDescriptor(Writable.prototype, 'writableLength')?.get as (this: net.Socket) => number

/**
 * Enough streams that their initial 64 KiB windows (8 MiB) exceed what loopback's kernel buffers
 * take (a 4 MiB send buffer at most, and the receiver's): with the receiver stopped, the sending
 * socket has to queue
 */
const QUEUEING = { streams: 128, bytes: 256 * 1024 }

/**
 * The receiving socket stops reading until the sender's socket holds a batch it could not hand to
 * the kernel (one at most: the connection queues the rest itself once a write returns false), the
 * time in which a buffer reused too early changes bytes not yet sent
 */
async function holdReceiver (sockets: SocketPair<net.Socket>): Promise<void> {
  sockets.server.pause()
  for (let waited = 0; queuedIn.call(sockets.client) < 64 * 1024 && waited < 5000; waited += 5) {
    await new Promise(resolve => setTimeout(resolve, 5))
  }
  expect(queuedIn.call(sockets.client), 'bytes queued in the sending socket').to.be.at.least(64 * 1024)
  sockets.server.resume()
}

describe('write path: buffers are reused only where the connection is done with them', function () {
  this.timeout(60_000)

  it('an in-memory pair gets views: no buffer changes after send(), and every byte arrives', async () => {
    const [client, server] = multiaddrConnectionPair()
    expect(profileTransport(client)).to.deep.equal({ sendsViews: true })
    const { muxer, recorder, close } = pairOver(client, server)
    await stress(async () => muxer.createStream())
    expect(recorder.handed.length).to.be.greaterThan(100)
    expect(recorder.changed()).to.equal(0)
    close()
  })

  it('the check catches reuse forced onto an in-memory pair (a connection posing as a kernel socket)', async () => {
    const [client, server] = multiaddrConnectionPair()
    Object.assign(client, { socket: { writableLength: 0, setNoDelay () {} } })
    expect(profileTransport(client).finishedWithSent?.()).to.equal(true)
    const { muxer, recorder, close } = pairOver(client, server)
    await outcome(stress(async () => muxer.createStream()))
    expect(recorder.changed()).to.be.greaterThan(0)
    close()
  })

  it('@libp2p/tcp: batches share one buffer, and every byte arrives while the sending socket queues', async () => {
    const sockets = await socketPair()
    const client = socketToMaConn(sockets.client, 'outbound')
    expect(profileTransport(client).finishedWithSent).to.be.a('function')
    const { muxer, recorder, close } = pairOver(client, socketToMaConn(sockets.server, 'inbound'))
    const [transfer] = await Promise.all([outcome(stress(async () => muxer.createStream(), QUEUEING.streams, QUEUEING.bytes)), holdReceiver(sockets)])
    expect(transfer).to.equal('intact')
    // headers come from the encoder's slab and single frames go uncopied; the batches share one buffer
    expect(recorder.buffers()).to.be.lessThan(recorder.handed.length / 4)
    close()
    sockets.stop()
  })

  it('@libp2p/tcp with reuse forced while the sending socket queues: the stress transfer catches the corruption', async () => {
    const sockets = await socketPair()
    Object.defineProperty(sockets.client, 'writableLength', { get: () => 0 })
    const client = socketToMaConn(sockets.client, 'outbound')
    // the connection never says "no more", so the streams keep sending and batches queue in the socket
    Object.defineProperty(client, 'writableNeedsDrain', { get: () => false, set: () => {} })
    const { muxer, close } = pairOver(client, socketToMaConn(sockets.server, 'inbound'))
    const [transfer] = await Promise.all([outcome(stress(async () => muxer.createStream(), QUEUEING.streams, QUEUEING.bytes)), holdReceiver(sockets)])
    expect(transfer).to.equal('corrupted')
    close()
    sockets.stop()
  })

  it('libp2p nodes over TCP + Noise: batches share one buffer, and every byte arrives', async () => {
    const recorder = new SendRecorder()
    const recorded: MuxerEntry = () => {
      const factory = muxado()()
      return {
        protocol: factory.protocol,
        createStreamMuxer: (connection) => {
          recorder.wrap(connection)
          expect(profileTransport(connection).finishedWithSent).to.be.a('function')
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

  it('libp2p-muxado/net over TLS gets views: no buffer changes after send(), and every byte arrives', async () => {
    const sockets = await tlsPair()
    const client = new SocketConnection({ socket: sockets.client, direction: 'outbound' })
    expect(profileTransport(client)).to.deep.equal({ sendsViews: true })
    const { muxer, recorder, close } = pairOver(client, new SocketConnection({ socket: sockets.server, direction: 'inbound' }))
    await stress(async () => muxer.createStream())
    expect(recorder.changed()).to.equal(0)
    close()
    sockets.stop()
  })

  it('libp2p-muxado/net over a plain Duplex gets fresh copies: no buffer changes after send(), and every byte arrives', async () => {
    const [a, b] = duplexPair()
    const client = new SocketConnection({ socket: a, direction: 'outbound' })
    expect(profileTransport(client)).to.deep.equal({ sendsViews: false })
    const { muxer, recorder, close } = pairOver(client, new SocketConnection({ socket: b, direction: 'inbound' }))
    await stress(async () => muxer.createStream())
    expect(recorder.changed()).to.equal(0)
    // every batch in memory of its own: nothing shared with a batch still held
    expect(recorder.buffers()).to.be.greaterThan(1)
    close()
  })

  it('a connection whose fields do not match gets no reused buffer: the safe path', () => {
    const fresh = (fields: object): MessageStream => Object.assign(multiaddrConnectionPair()[0], fields)
    // a JS stream's writableLength says nothing about whether it kept the buffer
    expect(profileTransport(fresh({ socket: { writableLength: 0 } }))).to.deep.equal({ sendsViews: true })
    expect(profileTransport(fresh({ socket: { bufferedAmount: 0, setNoDelay () {} } }))).to.deep.equal({ sendsViews: true })
    expect(profileTransport(fresh({ handshake: {} }))).to.deep.equal({ sendsViews: true })
    // no writeBufferLength: whether the connection queued what it was given cannot be known
    expect(profileTransport(Object.assign({}, { socket: { writableLength: 0, setNoDelay () {} } }) as any)).to.deep.equal({ sendsViews: true })
    expect(profileTransport(fresh({ websocket: { send () {} } }))).to.deep.equal({ sendsViews: false })
  })
})
