import { expect } from 'aegir/chai'
import { echoInbound, muxerPair, pattern, readAll, write } from './helpers/muxer-pair.ts'

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
})
