import net from 'node:net'
import { expect } from 'aegir/chai'
import { pEvent } from 'p-event'
import { muxado } from '../src/index.ts'
import { SocketConnection } from '../src/net/index.ts'
import { defaultConfig } from '../src/config.ts'
import { LinkEmulator } from './helpers/link-emulator.ts'
import type { MuxadoMuxer, MuxadoStream } from '../src/index.ts'

const KiB = 1024
const MiB = 1024 * KiB
const STREAMS = 100
/** each reader takes this much before it pauses: enough for its window to grow */
const READ_FIRST = MiB
/** each sender then offers this much more than its reader takes */
const OFFER = 2 * MiB

async function connectedSockets (port: number, server: net.Server): Promise<[net.Socket, net.Socket]> {
  const accepted = pEvent<'connection', net.Socket>(server, 'connection')
  const client = net.connect({ host: '127.0.0.1', port, noDelay: true })
  return [client, await accepted]
}

/** Resolves once `probe()` has not changed for `quietMs` */
async function settled (probe: () => number, quietMs: number): Promise<number> {
  let last = probe()
  let since = Date.now()
  while (Date.now() - since < quietMs) {
    await new Promise(resolve => setTimeout(resolve, 50))
    if (probe() !== last) {
      last = probe()
      since = Date.now()
    }
  }
  return last
}

describe('the session receive budget', function () {
  this.timeout(60_000)
  const cleanups: Array<() => Promise<void> | void> = []
  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) { await fn() }
  })

  it('100 readers that read, then pause, on a 1 Gbit/s 100 ms link: buffered ≤ budget + 100 × 64 KiB, and windows did grow', async () => {
    const server = net.createServer({ noDelay: true })
    await new Promise<void>(resolve => { server.listen(0, '127.0.0.1', resolve) })
    cleanups.push(async () => { await new Promise(resolve => server.close(resolve)) })
    const link = await LinkEmulator.start((server.address() as net.AddressInfo).port, { rttMs: 100, bitsPerSecond: 1e9 })
    cleanups.push(async () => { await link.close() })
    const [clientSocket, serverSocket] = await connectedSockets(link.port, server)
    const factory = muxado()()
    const client = factory.createStreamMuxer(new SocketConnection({ socket: clientSocket, direction: 'outbound' })) as MuxadoMuxer
    const receiver = factory.createStreamMuxer(new SocketConnection({ socket: serverSocket, direction: 'inbound' })) as MuxadoMuxer
    cleanups.push(() => { client.abort(new Error('test over')); receiver.abort(new Error('test over')) })
    // the receiver's windows grow only once it knows the round trip
    while (receiver.rtt === undefined) { await new Promise(resolve => setTimeout(resolve, 10)) }

    let paused = 0
    const allPaused = new Promise<void>(resolve => {
      receiver.addEventListener('stream', (evt) => {
        const stream = evt.detail
        let read = 0
        const onMessage = (msg: { data: { byteLength: number } }): void => {
          read += msg.data.byteLength
          if (read < READ_FIRST) { return }
          stream.removeEventListener('message', onMessage)
          stream.pause()
          if (++paused === STREAMS) { resolve() }
        }
        stream.addEventListener('message', onMessage)
      })
    })
    const chunk = new Uint8Array(64 * KiB)
    for (let i = 0; i < STREAMS; i++) {
      const stream = await client.createStream()
      void (async () => {
        for (let sent = 0; sent < READ_FIRST + OFFER && stream.status === 'open'; sent += chunk.byteLength) {
          if (!stream.send(chunk)) { await pEvent(stream, 'drain', { rejectionEvents: ['close'] }) }
        }
      })().catch(() => {})
    }
    await allPaused

    const streams = (): MuxadoStream[] => receiver.streams
    const buffered = await settled(() => streams().reduce((sum, s) => sum + s.readBufferLength, 0), 1000)
    expect(streams()).to.have.length(STREAMS)
    for (const stream of streams()) {
      expect(stream.readBufferLength).to.be.at.most(defaultConfig.maxStreamWindow)
    }
    expect(buffered, 'buffered by the paused streams').to.be.at.most(defaultConfig.sessionReceiveBudget + STREAMS * 64 * KiB)
    // the bound was reached through growth, not because windows stayed at 64 KiB
    expect(buffered).to.be.greaterThan(STREAMS * 64 * KiB * 2)
    expect(receiver.status).to.equal('open')
  })
})
