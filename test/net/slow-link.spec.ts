import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { expect } from 'aegir/chai'
import { LinkEmulator } from '../helpers/link-emulator.ts'
import { cleanup, dialTracked, listenTracked, payload } from './helpers.ts'
import type { Session } from '../../src/net/index.ts'

const RTT_MS = 100
const BITS_PER_SECOND = 2e6
const UPLOAD_MS = 30_000

/** The error that ends `session`, or undefined while it is open */
function closeReason (session: Session): () => Error | undefined {
  let reason: Error | undefined
  session.once('close', (err?: Error) => { reason = err ?? new Error('closed without an error') })
  return () => reason
}

describe('a slow link: 2 Mbit/s, 100 ms round trip', function () {
  // the upload takes 30 s: pings must survive many heartbeat intervals behind queued DATA
  this.timeout(UPLOAD_MS + 30_000)
  let link: LinkEmulator | undefined

  afterEach(async () => {
    await cleanup()
    await link?.close()
  })

  it('a 30 s upload with default heartbeats on both ends: no HeartbeatTimeoutError, data intact, rtt near the path\'s', async () => {
    const server = await listenTracked()
    link = await LinkEmulator.start(server.address().port, { rttMs: RTT_MS, bitsPerSecond: BITS_PER_SECOND })
    const accepted = once(server, 'session') as Promise<[Session]>
    const client = await dialTracked({ port: link.port })
    const [serverSession] = await accepted
    const clientEnd = closeReason(client)
    const serverEnd = closeReason(serverSession)

    // a session measures its round trip before it is loaded (libp2p's handshakes give it that
    // time): once the upload runs, every sample crosses the queue on the uplink
    while (client.rtt === undefined || serverSession.rtt === undefined) { await new Promise(resolve => setTimeout(resolve, 10)) }
    const upload = await client.open()
    const sentHash = createHash('sha256')
    const receivedHash = createHash('sha256')
    let received = 0
    const download = (async () => {
      const stream = await serverSession.accept()
      for await (const chunk of stream) {
        receivedHash.update(chunk)
        received += chunk.byteLength
      }
    })()

    const started = performance.now()
    for (let seed = 0; performance.now() - started < UPLOAD_MS; seed++) {
      const chunk = payload(16 * 1024, seed)
      sentHash.update(chunk)
      if (!upload.write(chunk)) { await once(upload, 'drain') }
    }
    upload.end()
    await download

    expect(clientEnd(), 'client session').to.equal(undefined)
    expect(serverEnd(), 'server session').to.equal(undefined)
    expect(receivedHash.digest('hex')).to.equal(sentHash.digest('hex'))
    // the link, not the muxer, was the limit
    expect(received).to.be.at.least(0.8 * BITS_PER_SECOND / 8 * UPLOAD_MS / 1000)
    expect(client.rtt, 'client rtt').to.be.within(RTT_MS, RTT_MS * 1.5)
    expect(serverSession.rtt, 'server rtt').to.be.within(RTT_MS, RTT_MS * 1.5)
  })
})
