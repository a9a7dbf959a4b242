/**
 * libp2p-muxado/net, TS ↔ TS over real TCP and over TLS: dial(), listen(), sessions and
 * streams as Node Duplexes.
 */

import { once } from 'node:events'
import { pipeline } from 'node:stream/promises'
import { expect } from 'aegir/chai'
import { MuxadoDuplex, StreamResetByPeerError } from '../../src/net/index.ts'
import { sleep, within } from '../helpers/time.ts'
import { cleanup, dialTracked, echoRoundTrip, echoStreams, listenTracked, payload, readAll, sessionClosed, testCertificate } from './helpers.ts'
import type { DialOptions, ListenOptions, Server, Session, SessionOptions } from '../../src/net/index.ts'
import type { Duplex } from 'node:stream'

interface Transport {
  name: string
  listenOptions(): Partial<ListenOptions>
  dialOptions(): Partial<DialOptions>
}

const TRANSPORTS: Transport[] = [{
  name: 'TCP',
  listenOptions: () => ({}),
  dialOptions: () => ({})
}, {
  name: 'TLS',
  listenOptions: () => ({ tls: testCertificate() }),
  dialOptions: () => ({ tls: { ca: testCertificate().cert, servername: 'localhost' } })
}]

const KB = 1024

for (const transport of TRANSPORTS) {
  describe(`libp2p-muxado/net over ${transport.name}`, () => {
    afterEach(cleanup)

    /** A listening server and a client session dialed to it, plus the server's session */
    async function connect (options: SessionOptions = {}, serverOptions: SessionOptions = options): Promise<{ server: Server, client: Session, serverSession: Session }> {
      const server = await listenTracked({ ...serverOptions, ...transport.listenOptions() })
      const accepted = server.accept()
      const client = await dialTracked({ port: server.address().port, ...options, ...transport.dialOptions() })
      return { server, client, serverSession: await accepted }
    }

    it('echoes 50 streams of 100 KB each with pipeline()', async function () {
      this.timeout(30_000)
      const { client, serverSession } = await connect()
      echoStreams(serverSession)

      const results = await Promise.all(Array.from({ length: 50 }, async (_, i) => {
        const stream = await client.open()
        const data = payload(100 * KB, i)
        const reply = await echoRoundTrip(stream, data)
        return { id: stream.id, ok: reply.equals(data), length: reply.byteLength }
      }))
      for (const result of results) {
        expect(result, `stream ${result.id}`).to.deep.equal({ id: result.id, ok: true, length: 100 * KB })
        expect(result.id % 2, 'client stream ids are odd').to.equal(1)
      }
      expect(new Set(results.map(r => r.id)).size).to.equal(50)
    })

    it('streams opened by the server reach the client, with their stream type', async function () {
      this.timeout(20_000)
      const { client, serverSession } = await connect()
      echoStreams(client)

      const results = await Promise.all(Array.from({ length: 10 }, async (_, i) => {
        const stream = await serverSession.open({ streamType: 1000 + i })
        const data = payload(20 * KB + i, i)
        const reply = await echoRoundTrip(stream, data)
        return { id: stream.id, ok: reply.equals(data) }
      }))
      for (const result of results) {
        expect(result.ok, `stream ${result.id}`).to.equal(true)
        expect(result.id % 2, 'server stream ids are even').to.equal(0)
      }
    })

    it('accept() gives the stream type, id and addresses of a stream', async () => {
      const { client, serverSession } = await connect()
      const opened = await client.open({ streamType: 0x2a })
      opened.write('x')
      const accepted = await serverSession.accept()
      expect(accepted).to.be.an.instanceOf(MuxadoDuplex)
      expect(accepted.streamType).to.equal(0x2a)
      expect(accepted.id).to.equal(opened.id)
      expect(accepted.remoteAddress).to.match(/127\.0\.0\.1/)
      const [first] = await once(accepted, 'data')
      expect(first.toString()).to.equal('x')
      await expect(client.open({ streamType: 0xfffffeff })).to.eventually.be.rejectedWith(RangeError)
    })

    it('holds a fast sender at the window while the reader is slow, then delivers everything', async function () {
      this.timeout(30_000)
      const { client, serverSession } = await connect()
      const total = 4 * 1024 * KB
      const data = payload(total, 7)
      const stream = await client.open()

      // write as fast as the Duplex lets us, counting what write() accepted
      let accepted = 0
      const writing = (async () => {
        for (let offset = 0; offset < total; offset += 16 * KB) {
          accepted += 16 * KB
          if (!stream.write(data.subarray(offset, offset + 16 * KB))) {
            await once(stream, 'drain')
          }
        }
        stream.end()
      })()

      // the reader accepts the stream but does not read for a while
      const reader = await serverSession.accept()
      await sleep(500)
      const held = accepted
      // the receive window (64 KiB, grown when the reader's Duplex filled its buffer with the first
      // burst: a window doubles at each sixteenth its reader drains quickly; 512 KiB with Node 20's
      // 16 KiB buffers, 1 MiB with Node 22's 64 KiB), the reader's readable buffer, the sender's
      // writable buffer and one piece in the muxado stream: nowhere near the 4 MiB payload
      const window: number = (reader.stream as any).receiveWindow.limit
      expect(window, 'the grown window').to.be.at.most(1024 * KB)
      expect(held, 'bytes the sender got rid of while nobody read').to.be.at.most(window + reader.readableHighWaterMark + stream.writableHighWaterMark + 64 * KB)
      expect(held, 'the window was used').to.be.at.least(64 * KB)
      expect(stream.stream.writeBufferLength, 'bytes buffered in the muxado stream').to.be.at.most(64 * KB)
      await sleep(200)
      expect(accepted, 'still held').to.equal(held)

      // now read slowly for a bit, then at full speed. The reader sends nothing: it ends its side
      // first, or the loop's end destroys a half-open Duplex and the sender gets RST Cancel
      reader.end()
      const chunks: Buffer[] = []
      let received = 0
      for await (const chunk of reader) {
        chunks.push(chunk)
        received += chunk.byteLength
        if (received < 512 * KB) { await sleep(5) }
      }
      await writing
      expect(Buffer.concat(chunks).equals(data)).to.equal(true)
    })

    it('writes a turn\'s frames to the socket with one writev, the application\'s bytes uncopied', async () => {
      const { client, serverSession } = await connect({ enableHeartbeat: false }, { enableHeartbeat: false })
      const stream = await client.open()
      const accepted = await serverSession.accept()
      await sleep(20)

      const socket = client.socket as Duplex & Record<'_write' | '_writev', (...args: any[]) => void>
      const writes: Array<{ method: string, chunks: Uint8Array[] }> = []
      const write = socket._write
      const writev = socket._writev
      socket._write = function (chunk: Uint8Array, ...rest: any[]) {
        writes.push({ method: '_write', chunks: [chunk] })
        write.call(this, chunk, ...rest)
      }
      socket._writev = function (chunks: Array<{ chunk: Uint8Array }>, ...rest: any[]) {
        writes.push({ method: '_writev', chunks: chunks.map(c => c.chunk) })
        writev.call(this, chunks, ...rest)
      }

      // three full frames and a short one, each a header and a payload
      const data = payload(3 * 16383 + 10, 1)
      stream.write(data)
      await sleep(20)
      expect(writes.map(w => w.method)).to.deep.equal(['_writev'])
      stream.end()
      expect((await readAll(accepted)).equals(data)).to.equal(true)

      // the full frames' payloads are the application's bytes; the short one rides with its header
      const uncopied = writes[0].chunks.filter(chunk => chunk.buffer === data.buffer)
      expect(uncopied.map(chunk => chunk.byteLength)).to.deep.equal([16383, 16383, 16383])
      expect(writes[0].chunks.at(-1)?.byteLength).to.equal(8 + 10)
    })

    it('end() half-closes: the peer reads EOF and can still answer', async () => {
      const { client, serverSession } = await connect()
      const stream = await client.open()
      stream.end('question')
      const accepted = await serverSession.accept()
      expect((await readAll(accepted)).toString()).to.equal('question')
      accepted.end('answer')
      expect((await readAll(stream)).toString()).to.equal('answer')
      await within(Promise.all([stream, accepted].map(async d => { if (!d.closed) { await once(d, 'close') } })), 5000, 'both Duplexes closing')
      expect(stream.stream.status).to.equal('closed')
    })

    it('destroy(err) resets the stream: the peer gets a StreamResetByPeerError', async () => {
      const { client, serverSession } = await connect()
      const stream = await client.open()
      stream.write('hello')
      stream.on('error', () => {})
      const accepted = await serverSession.accept()
      await once(accepted, 'data')
      const failed = once(accepted, 'error')
      stream.destroy(new Error('changed my mind'))
      const [err] = await within(failed, 5000, 'the reset')
      expect(err).to.be.an.instanceOf(StreamResetByPeerError)
      expect(err.errorCode).to.equal(7)
    })

    it('destroy() without an error is Go\'s Close(): the peer reads what was sent, then EOF', async () => {
      const { client, serverSession } = await connect()
      const stream = await client.open()
      stream.write('all of it')
      await sleep(20)
      stream.destroy()
      const accepted = await serverSession.accept()
      expect((await readAll(accepted)).toString()).to.equal('all of it')
      // the peer may still write: we discard it, and the stream ends with its FIN
      accepted.end('ignored')
      if (stream.stream.status === 'open') { await within(once(stream.stream, 'close'), 5000, 'the stream end') }
      expect(stream.stream.status).to.equal('closed')
    })

    it('refuses streams beyond the accept backlog and keeps the session', async () => {
      const { client, serverSession } = await connect({}, { acceptBacklog: 2 })
      const streams = await Promise.all([0, 1, 2, 3].map(async () => client.open()))
      const errors = streams.map(async stream => new Promise<Error | undefined>(resolve => {
        stream.once('error', resolve)
        stream.once('close', () => { resolve(undefined) })
      }))
      for (const stream of streams) { stream.write('x') }
      const refused = await within(Promise.all(errors.slice(2)), 5000, 'the refusals')
      for (const err of refused) { expect(err).to.be.an.instanceOf(StreamResetByPeerError) }

      const first = await serverSession.accept()
      const second = await serverSession.accept()
      expect([first.id, second.id]).to.deep.equal([streams[0].id, streams[1].id])
      echoStreams(serverSession)
      const later = await client.open()
      expect((await echoRoundTrip(later, Buffer.from('still alive'))).toString()).to.equal('still alive')
    })

    it('measures the heartbeat RTT and closes both sides in order', async function () {
      this.timeout(10_000)
      const { client, serverSession } = await connect({ heartbeatInterval: 50 })
      await sleep(200)
      expect(client.rtt).to.be.a('number')
      expect(serverSession.rtt).to.be.a('number')

      const clientClosed = sessionClosed(client)
      const serverClosed = sessionClosed(serverSession)
      await client.close()
      expect(await clientClosed).to.equal(undefined)
      expect(await within(serverClosed, 5000, 'the server session close')).to.equal(undefined)
      expect(client.closed).to.equal(true)
      await expect(client.open()).to.eventually.be.rejected()
      await expect(serverSession.accept()).to.eventually.be.rejected()
    })

    it('for await over the server yields every session', async function () {
      this.timeout(10_000)
      const server = await listenTracked(transport.listenOptions())
      const port = server.address().port
      const clients = await Promise.all([0, 1, 2].map(async () => dialTracked({ port, ...transport.dialOptions() })))
      const seen: Session[] = []
      for await (const session of server) {
        seen.push(session)
        echoStreams(session)
        if (seen.length === 3) { break }
      }
      expect(seen.every(s => s.role === 'server')).to.equal(true)
      for (const client of clients) {
        const stream = await client.open()
        expect((await echoRoundTrip(stream, Buffer.from('hi'))).toString()).to.equal('hi')
      }
      await server.close()
      await expect(server.accept()).to.eventually.be.rejected()
    })

    it('pipes one stream into another across two sessions', async function () {
      this.timeout(10_000)
      const { client, serverSession } = await connect()
      echoStreams(serverSession)
      const a = await client.open()
      const b = await client.open()
      const data = payload(300 * KB, 3)
      // data → a → echo → a → b → echo → b → collected
      const collected = readAll(b)
      await Promise.all([
        pipeline(async function * () { yield data }, a),
        pipeline(a, b)
      ])
      expect((await collected).equals(data)).to.equal(true)
    })
  })
}
