/**
 * Failures of libp2p-muxado/net: each gives a clear error and nothing hangs.
 */

import { once } from 'node:events'
import net from 'node:net'
import { PassThrough } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { expect } from 'aegir/chai'
import { HeartbeatTimeoutError, createSession, dial } from '../../src/net/index.ts'
import { duplexPair } from '../helpers/duplex-pair.ts'
import { sleep, within } from '../helpers/time.ts'
import { cleanup, dialTracked, echoRoundTrip, echoStreams, listenTracked, readAll, sessionClosed, testCertificate, trackSession } from './helpers.ts'

/** A port nobody listens on: bound, then released */
async function closedPort (): Promise<number> {
  const server = net.createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address() as net.AddressInfo
  await new Promise(resolve => server.close(resolve))
  return address.port
}

describe('libp2p-muxado/net errors', () => {
  afterEach(cleanup)

  it('dialing a closed port rejects with ECONNREFUSED', async () => {
    const port = await closedPort()
    const err = await within(dial({ host: '127.0.0.1', port }).then(() => undefined, (e: NodeJS.ErrnoException) => e), 5000, 'dial')
    expect(err).to.be.an.instanceOf(Error)
    expect(err?.code).to.equal('ECONNREFUSED')
  })

  it('a TLS certificate the client does not trust fails dial() with the TLS error', async () => {
    const server = await listenTracked({ tls: testCertificate() })
    let serverSessions = 0
    server.on('session', () => { serverSessions++ })
    const err = await within(dial({ host: '127.0.0.1', port: server.address().port, tls: { servername: 'localhost' } }).then(() => undefined, (e: NodeJS.ErrnoException) => e), 5000, 'dial')
    expect(err).to.be.an.instanceOf(Error)
    expect(err?.code).to.match(/SELF_SIGNED|UNABLE_TO_VERIFY/)
    expect(serverSessions).to.equal(0)
  })

  it('TLS to a plain muxado server fails dial() instead of hanging', async () => {
    const server = await listenTracked()
    const err = await within(dial({ host: '127.0.0.1', port: server.address().port, tls: { servername: 'localhost', rejectUnauthorized: false } }).then(() => undefined, (e: Error) => e), 10_000, 'dial')
    expect(err).to.be.an.instanceOf(Error)
  })

  it('the aborted dial rejects with the signal reason', async () => {
    const server = await listenTracked({ tls: testCertificate() })
    const controller = new AbortController()
    const dialing = dial({ host: '127.0.0.1', port: server.address().port, tls: { ca: testCertificate().cert, servername: 'localhost' }, signal: controller.signal })
    controller.abort(new Error('gave up'))
    await expect(dialing).to.eventually.be.rejectedWith('gave up')
  })

  it('a peer that vanishes mid-stream fails the stream and ends the session with the reason', async function () {
    this.timeout(10_000)
    const server = await listenTracked()
    const accepted = server.accept()
    const client = await dialTracked({ port: server.address().port })
    const serverSession = await accepted

    const stream = await client.open()
    const sending = pipeline(async function * () {
      for (let i = 0; i < 1000; i++) {
        yield Buffer.alloc(64 * 1024, i)
        await sleep(1)
      }
    }, stream)
    const reading = readAll(stream)
    const remote = await serverSession.accept()
    remote.on('error', () => {})
    await once(remote, 'data')

    // the server host goes away: its socket is reset without a GOAWAY
    ;(serverSession.socket as net.Socket).resetAndDestroy()

    await expect(within(sending, 5000, 'the writer')).to.eventually.be.rejected()
    await expect(within(reading, 5000, 'the reader')).to.eventually.be.rejected()
    const reason = await within(sessionClosed(client), 5000, 'the session end')
    expect(reason).to.be.an.instanceOf(Error)
    expect(client.closed).to.equal(true)
    await expect(client.open()).to.eventually.be.rejected()
  })

  it('a silent peer is detected by the heartbeat: HeartbeatTimeoutError', async function () {
    this.timeout(10_000)
    // a TCP server that reads everything and answers nothing, as a host that froze
    const sockets: net.Socket[] = []
    const blackHole = net.createServer((socket) => { sockets.push(socket); socket.resume() })
    blackHole.listen(0, '127.0.0.1')
    await once(blackHole, 'listening')
    try {
      const port = (blackHole.address() as net.AddressInfo).port
      const client = await dialTracked({ port, heartbeatInterval: 50, heartbeatTimeout: 300, closeTimeout: 500 })
      const stream = await client.open()
      stream.write('anyone there?')
      const failed = new Promise<Error>(resolve => stream.once('error', resolve))
      const reason = await within(sessionClosed(client), 3000, 'the heartbeat timeout')
      expect(reason).to.be.an.instanceOf(HeartbeatTimeoutError)
      expect(await within(failed, 1000, 'the stream error')).to.be.an.instanceOf(Error)
    } finally {
      for (const socket of sockets) { socket.destroy() }
      blackHole.close()
    }
  })

  it('the peer closing the session ends open streams and the session without an error', async function () {
    this.timeout(10_000)
    const server = await listenTracked()
    const accepted = server.accept()
    const client = await dialTracked({ port: server.address().port })
    const serverSession = await accepted
    echoStreams(serverSession)
    const stream = await client.open()
    expect((await echoRoundTrip(stream, Buffer.from('one'))).toString()).to.equal('one')
    const waiting = client.accept()
    await serverSession.close()
    expect(await within(sessionClosed(client), 5000, 'the session end')).to.equal(undefined)
    await expect(waiting).to.eventually.be.rejected()
  })

  it('createSession() runs over any Duplex, not only sockets', async function () {
    this.timeout(10_000)
    const [a, b] = duplexPair()
    const client = trackSession(createSession(a, { role: 'client' }))
    const server = trackSession(createSession(b, { role: 'server' }))
    echoStreams(server)
    const stream = await client.open()
    expect((await echoRoundTrip(stream, Buffer.alloc(200_000, 3))).equals(Buffer.alloc(200_000, 3))).to.equal(true)
    await client.close()
    expect(await within(sessionClosed(server), 5000, 'the server end')).to.equal(undefined)
  })

  it('over a Duplex without writev, a turn\'s frames go out as one buffer in one write', async function () {
    const [a, b] = duplexPair()
    const client = trackSession(createSession(a, { role: 'client', enableHeartbeat: false }))
    const server = trackSession(createSession(b, { role: 'server', enableHeartbeat: false }))
    const stream = await client.open()
    const accepted = await server.accept()
    await sleep(20)
    const writes: number[] = []
    const write = a._write
    a._write = function (chunk: Buffer, ...rest: any[]) {
      writes.push(chunk.byteLength)
      write.call(this, chunk, ...(rest as [BufferEncoding, (err?: Error | null) => void]))
    }

    const data = Buffer.alloc(3 * 16383 + 10, 5)
    stream.write(data)
    await sleep(20)
    // four DATA frames, each an 8-byte header and its payload
    expect(writes).to.deep.equal([data.byteLength + 4 * 8])
    stream.end()
    expect((await readAll(accepted)).equals(data)).to.equal(true)
  })

  it('rejects bad options at once', () => {
    const socket = new PassThrough()
    expect(() => createSession(socket, { role: 'peer' as any })).to.throw(TypeError)
    expect(() => createSession(socket, { role: 'client', heartbeatInterval: -1 })).to.throw(RangeError)
  })
})
