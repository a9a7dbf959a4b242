import { logger } from '@libp2p/logger'
import { expect } from 'aegir/chai'
import { ConnectionWriter } from '../src/writer.ts'
import type { Uint8ArrayList } from 'uint8arraylist'

/** A writer whose connection reports, after each send(), whether it still holds what it was given */
function writerOver (holds: () => boolean): { writer: ConnectionWriter, sent: Uint8Array[] } {
  const sent: Uint8Array[] = []
  const writer = new ConnectionWriter({
    send: (data: Uint8Array | Uint8ArrayList) => { sent.push(data as Uint8Array); return true },
    transport: { sendsViews: false, finishedWithSent: () => !holds() },
    onStall: () => {},
    writeTimeout: 1000,
    log: logger('test:writer')
  })
  return { writer, sent }
}

/** One batch of two pieces, so it is copied */
function sendBatch (writer: ConnectionWriter, fill: number): void {
  writer.enqueue(new Uint8Array(8).fill(fill))
  writer.enqueue(new Uint8Array(100).fill(fill))
  writer.flush()
}

describe('ConnectionWriter: scratch buffers', () => {
  it('a connection that holds nothing after send() gets every batch in the same buffer', () => {
    const { writer, sent } = writerOver(() => false)
    for (let i = 0; i < 5; i++) { sendBatch(writer, i) }
    expect(new Set(sent.map(batch => batch.buffer)).size).to.equal(1)
  })

  it('while the connection holds its batches, each gets a buffer of its own, four at most, then fresh memory; once it holds nothing they are reused', () => {
    let holding = true
    const { writer, sent } = writerOver(() => holding)
    for (let i = 0; i < 6; i++) { sendBatch(writer, i) }
    const scratch = sent.slice(0, 4).map(batch => batch.buffer)
    expect(new Set(scratch).size, 'four scratch buffers').to.equal(4)
    expect(scratch, 'batches 5 and 6 in fresh memory').to.not.include(sent[4].buffer).and.not.include(sent[5].buffer)
    sent.forEach((batch, i) => { expect(batch[0], `batch ${i} unchanged`).to.equal(i) })

    holding = false
    sendBatch(writer, 9)
    expect(scratch, 'the next batch reuses a scratch buffer').to.include(sent[6].buffer)
  })
})
