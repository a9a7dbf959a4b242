import { AbstractStream } from '@libp2p/utils'
import { expect } from 'aegir/chai'
import { encodeSyn } from '../src/protocol/index.ts'
import { concatBytes, dataFrame } from './helpers/bytes.ts'
import { RawPeer } from './helpers/raw-peer.ts'
import type { Uint8ArrayList } from 'uint8arraylist'

/**
 * The `@libp2p/utils` behaviour our workarounds exist for (docs/upstream-bugs.md). Each test fails
 * once upstream changes it: then the workaround it names can go.
 */
describe('upstream behaviour the workarounds rely on', () => {
  it('AbstractMessageStream\'s iterator never ends when the data and FIN arrived before it (workaround: MuxadoStream[Symbol.asyncIterator])', async () => {
    const peer = new RawPeer('server')
    const opened = peer.nextStream()
    peer.send(concatBytes([encodeSyn(3), dataFrame(3, new Uint8Array(5)), dataFrame(3, 0, true)]))
    const stream = await opened
    await new Promise(resolve => setTimeout(resolve, 0))

    const baseIterator: () => AsyncGenerator<unknown> = AbstractStream.prototype[Symbol.asyncIterator]
    const reading = (async () => { for await (const chunk of baseIterator.call(stream)) { void chunk } })()
    const outcome = await Promise.race([reading.then(() => 'ended'), new Promise(resolve => setTimeout(resolve, 300, 'still reading'))])

    expect(outcome, 'the base iterator now ends: remove the workaround').to.equal('still reading')
    peer.muxer.abort(new Error('test over'))
    await reading.catch(() => {})
  })

  it('AbstractMessageStream\'s iterator ends on a clean close while a paused reader has data buffered, which it never yields (workaround: MuxadoStream[Symbol.asyncIterator])', async () => {
    const peer = new RawPeer('server')
    const opened = peer.nextStream()
    peer.send(encodeSyn(3))
    const stream = await opened
    const baseIterator: () => AsyncGenerator<Uint8Array | Uint8ArrayList> = AbstractStream.prototype[Symbol.asyncIterator]
    let received = 0
    const reading = (async () => { for await (const chunk of baseIterator.call(stream)) { received += chunk.byteLength } })()
    stream.pause()
    await stream.close()
    peer.send(concatBytes([dataFrame(3, new Uint8Array(100)), dataFrame(3, 0, true)]))
    await reading
    stream.resume()

    expect(received, 'the base iterator now yields the buffered data: remove the workaround').to.equal(0)
    peer.muxer.abort(new Error('test over'))
  })
})
