import { expect } from 'aegir/chai'
import { pipe } from 'it-pipe'
import { pushable } from 'it-pushable'
import pDefer from 'p-defer'
import { concatBytes } from './helpers/bytes.ts'
import { echoInbound, muxerPair } from './helpers/muxer-pair.ts'
import { pattern, readAll, write } from './helpers/streams.ts'
import type { Stream } from '@libp2p/interface'

/** An it-pipe sink that writes every chunk into the stream with backpressure, then half-closes */
function streamSink (stream: Stream) {
  return async (source: AsyncIterable<Uint8Array>): Promise<void> => {
    for await (const chunk of source) {
      await write(stream, chunk)
    }
    await stream.close()
  }
}

describe('echo', () => {
  for (const [streams, bytes] of [[1, 10 * 1024 * 1024], [1000, 4096]]) {
    it(`${streams} concurrent stream(s) echo ${bytes} bytes each, both directions of opening`, async function () {
      this.timeout(120_000)
      const { client, server } = muxerPair()
      echoInbound(server)
      echoInbound(client)
      const run = async (opener: typeof client, seed: number): Promise<void> => {
        const data = pattern(bytes, seed)
        const stream = await opener.createStream()
        const echoed = readAll(stream)
        for (let offset = 0; offset < bytes; offset += 65536) { await write(stream, data.subarray(offset, offset + 65536)) }
        await stream.close()
        expect(await echoed).to.deep.equal(data)
      }
      await Promise.all(Array.from({ length: streams }, async (_, i) => run(i % 2 === 0 ? client : server, i)))
      expect(client.streams).to.have.length(0)
      expect(server.streams).to.have.length(0)
      await client.close()
    })
  }

  it('carries chunks produced asynchronously through it-pipe, in order, while the peer reads', async () => {
    const { client, server } = muxerPair()
    const firstChunkArrived = pDefer<void>()
    const allArrived = pDefer<void>()
    const received: Uint8Array[] = []
    server.addEventListener('stream', (evt) => {
      void (async () => {
        for await (const chunk of evt.detail) {
          received.push(chunk.subarray())
          firstChunkArrived.resolve()
        }
        allArrived.resolve()
      })()
    })
    const source = pushable<Uint8Array>()
    const stream = await client.createStream()
    const sent = pipe(source, streamSink(stream))
    const chunks = Array.from({ length: 50 }, (_, i) => pattern(1000 + i * 997, i))
    source.push(chunks[0])
    // the producer only continues once the consumer has seen data: nothing is buffered up front
    await firstChunkArrived.promise
    for (const chunk of chunks.slice(1)) {
      source.push(chunk)
      await new Promise(resolve => setTimeout(resolve, 1))
    }
    source.end()
    await sent
    await allArrived.promise
    expect(concatBytes(received)).to.deep.equal(concatBytes(chunks))
    await client.close()
  })
})
