import net from 'node:net'
import { expect } from 'aegir/chai'
import { pEvent } from 'p-event'
import { defaultConfig } from '../../src/config.ts'
import { muxado } from '../../src/index.ts'
import { SocketConnection } from '../../src/net/index.ts'
import { LinkEmulator } from '../helpers/link-emulator.ts'
import { buffered, pauseAfter, settled } from '../helpers/paused-readers.ts'
import type { MuxadoMuxer } from '../../src/index.ts'

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

describe('receive windows and the session budget, paused readers', function () {
  this.timeout(60_000)
  const cleanups: Array<() => Promise<void> | void> = []
  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) { await fn() }
  })

  /** A muxado pair over an emulated 1 Gbit/s link, torn down after the test */
  async function overLink (rttMs: number): Promise<{ client: MuxadoMuxer, receiver: MuxadoMuxer }> {
    const server = net.createServer({ noDelay: true })
    await new Promise<void>(resolve => { server.listen(0, '127.0.0.1', resolve) })
    cleanups.push(async () => { await new Promise(resolve => server.close(resolve)) })
    const link = await LinkEmulator.start((server.address() as net.AddressInfo).port, { rttMs, bitsPerSecond: 1e9 })
    cleanups.push(async () => { await link.close() })
    const [clientSocket, serverSocket] = await connectedSockets(link.port, server)
    const factory = muxado()()
    const client = factory.createStreamMuxer(new SocketConnection({ socket: clientSocket, direction: 'outbound' })) as MuxadoMuxer
    const receiver = factory.createStreamMuxer(new SocketConnection({ socket: serverSocket, direction: 'inbound' })) as MuxadoMuxer
    cleanups.push(() => { client.abort(new Error('test over')); receiver.abort(new Error('test over')) })
    // the receiver's windows grow only once it knows the round trip
    while (receiver.rtt === undefined) { await new Promise(resolve => setTimeout(resolve, 10)) }
    return { client, receiver }
  }

  /** Each of `streams` new streams offers `bytes`, as fast as its window lets it */
  async function offer (client: MuxadoMuxer, streams: number, bytes: number): Promise<void> {
    const chunk = new Uint8Array(64 * KiB)
    for (let i = 0; i < streams; i++) {
      const stream = await client.createStream()
      void (async () => {
        for (let sent = 0; sent < bytes && stream.status === 'open'; sent += chunk.byteLength) {
          if (!stream.send(chunk)) { await pEvent(stream, 'drain', { rejectionEvents: ['close'] }) }
        }
      })().catch(() => {})
    }
  }

  it('a reader that reads, then pauses, on a 1 Gbit/s 50 ms link: its stream stays open and holds its grown window, ≤ maxStreamWindow', async () => {
    const { client, receiver } = await overLink(50)
    const allPaused = pauseAfter(receiver, 32 * MiB, 1)
    await offer(client, 1, 64 * MiB)
    await allPaused
    const bytes = await settled(() => buffered(receiver), 1000)
    expect(receiver.streams).to.have.length(1)
    expect(receiver.streams[0].status).to.equal('open')
    // more than libp2p's default read buffer limit of 4 MiB: the window, not that, bounds it
    expect(bytes).to.be.greaterThan(4 * MiB)
    expect(bytes).to.be.at.most(defaultConfig.maxStreamWindow)
  })

  it('100 readers that read, then pause, on a 1 Gbit/s 100 ms link: buffered ≤ budget + 100 × 64 KiB, and windows did grow', async () => {
    const { client, receiver } = await overLink(100)
    const allPaused = pauseAfter(receiver, READ_FIRST, STREAMS)
    await offer(client, STREAMS, READ_FIRST + OFFER)
    await allPaused

    const bytes = await settled(() => buffered(receiver), 1000)
    expect(receiver.streams).to.have.length(STREAMS)
    for (const stream of receiver.streams) {
      expect(stream.readBufferLength).to.be.at.most(defaultConfig.maxStreamWindow)
    }
    expect(bytes, 'buffered by the paused streams').to.be.at.most(defaultConfig.sessionReceiveBudget + STREAMS * 64 * KiB)
    // the bound was reached through growth, not because windows stayed at 64 KiB
    expect(bytes).to.be.greaterThan(STREAMS * 64 * KiB * 2)
    expect(receiver.status).to.equal('open')
  })
})
