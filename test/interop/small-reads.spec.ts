/**
 * A Go peer that reads in small reads, as code behind `bufio` or a varint reader does. Go muxado
 * sends one WNDINC per `Read()` and keeps reading (and granting) data that arrived before it saw
 * our FIN, so many of its WNDINCs arrive for streams we have already closed, followed by a second
 * FIN from its `Close()`. None of that may trip the session's defences: every byte arrives, and
 * the session still opens a new stream at the end. Default options throughout.
 */

import { expect } from 'aegir/chai'
import { DIRECTIONS, useGoPeer } from './directions.ts'
import { EchoServer, failures, openAndCheck, openAndCheckMany } from './streams.ts'
import type { Direction } from './directions.ts'
import type { GoEvent } from './go-peer.ts'

const ROUNDS = 5
const STREAMS = 100
const BYTES = 10_000

/**
 * 64-byte reads in every pairing. 1-byte reads cost Go a WNDINC write per byte (5 million per
 * test, about 25 s here), so each reading side runs them once: Go reading our echo as the client,
 * and Go echoing our streams as the server.
 */
function readSizes (dir: Direction, goOpens: boolean): number[] {
  return goOpens === (dir.goRole === 'client') ? [1, 64] : [64]
}

describe('interop with Go muxado v1: a Go peer reading in small reads', function () {
  useGoPeer()

  for (const dir of DIRECTIONS) {
    describe(dir.title, () => {
      for (const readSize of readSizes(dir, true)) {
        it(`Go opens ${ROUNDS} rounds × ${STREAMS} streams × ${BYTES} B and reads the echo ${readSize} B at a time`, async function () {
          this.timeout(120_000)
          const echo = new EchoServer()
          const { peer } = await dir.start([
            '-streams', String(STREAMS), '-bytes', String(BYTES), '-rounds', String(ROUNDS),
            '-read-size', String(readSize), '-hold', '1ms'
          ], { onStream: echo.handler, timeoutMs: 100_000 })

          // the -hold stream is opened after the last round: the session is still open
          await peer.waitFor('hold-ok', 100_000)
          await peer.expectSuccess()
          const rounds = peer.events.filter((e: GoEvent) => e.event === 'streams-done')
          expect(rounds.map(e => e.okCount)).to.deep.equal(Array(ROUNDS).fill(STREAMS))
          const results = await echo.settled()
          expect(results.filter(r => r.error != null).map(r => `${r.id}: ${String(r.error)}`)).to.deep.equal([])
          // every round's streams, then the 1000 bytes of the -hold stream
          expect(results.map(r => r.bytes)).to.deep.equal([...Array(ROUNDS * STREAMS).fill(BYTES), 1000])
        })
      }

      for (const readSize of readSizes(dir, false)) {
        it(`TS opens ${ROUNDS} rounds × ${STREAMS} streams × ${BYTES} B; Go echoes them reading ${readSize} B at a time`, async function () {
          this.timeout(120_000)
          const { peer, muxer } = await dir.start(['-read-size', String(readSize)], { timeoutMs: 100_000 })
          for (let round = 0; round < ROUNDS; round++) {
            expect(failures(await openAndCheckMany(muxer, STREAMS, BYTES)), `round ${round + 1}`).to.deep.equal([])
          }
          expect(muxer.status).to.equal('open')
          const last = await openAndCheck(muxer, STREAMS, 1000)
          expect(failures([last])).to.deep.equal([])

          await muxer.close()
          await peer.expectSuccess()
          const echoed = peer.streamsDone('accepted')
          expect(echoed).to.have.lengthOf(ROUNDS * STREAMS + 1)
          expect(echoed.filter(e => e.ok !== true)).to.deep.equal([])
        })
      }
    })
  }
})
