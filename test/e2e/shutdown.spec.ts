import { expect } from 'aegir/chai'
import { pEvent } from 'p-event'
import { sha256 } from '../helpers/digest.ts'
import { pattern, write } from '../helpers/streams.ts'
import { connect, createNode, echo, stopAll } from './helpers.ts'
import type { Libp2p, Stream, StreamCloseEvent } from '@libp2p/interface'

/** A protocol whose handler reads everything and never answers */
const SINK = '/e2e/sink/1.0.0'
/** A protocol whose handler never reads, so the sender runs out of window */
const STALL = '/e2e/stall/1.0.0'

interface Outcome {
  /** how `for await (const chunk of stream)` finished: 'ended' or the error's name */
  iteration: string
  /** the error carried by the stream's 'close' event, or 'none' */
  closeError: string
  /** the remote half-closed (FIN) before the stream closed */
  remoteCloseWrite: boolean
}

/** Read a stream to its end and report how it ended */
async function outcome (stream: Stream): Promise<Outcome> {
  let remoteCloseWrite = false
  stream.addEventListener('remoteCloseWrite', () => { remoteCloseWrite = true })
  const closed = stream.status === 'open'
    ? pEvent<'close', StreamCloseEvent>(stream, 'close')
    : Promise.resolve(undefined)
  let iteration = 'ended'
  try {
    for await (const chunk of stream) { void chunk }
  } catch (err: any) {
    iteration = err.name
  }
  const evt = await closed
  return { iteration, closeError: evt?.error?.name ?? 'none', remoteCloseWrite }
}

/** Keep writing 64 KiB chunks until the stream fails; resolves with the error's name */
async function writeUntilFailure (stream: Stream): Promise<string> {
  const chunk = pattern(65536)
  try {
    for (;;) { await write(stream, chunk) }
  } catch (err: any) {
    return err.name
  }
}

function group (outcomes: Outcome[]): Record<string, number> {
  const groups: Record<string, number> = {}
  for (const o of outcomes) {
    const key = `iteration ${o.iteration}, close error ${o.closeError}, FIN ${o.remoteCloseWrite}`
    groups[key] = (groups[key] ?? 0) + 1
  }
  return groups
}

describe('e2e: a node stops while streams are open', () => {
  let nodes: Libp2p[] = []
  /** streams each node accepted, by node */
  let accepted: Map<Libp2p, Stream[]>

  afterEach(async () => {
    await stopAll(nodes)
    nodes = []
  })

  async function node (): Promise<Libp2p> {
    const n = await createNode()
    const streams: Stream[] = []
    accepted.set(n, streams)
    await n.handle(SINK, (stream) => {
      streams.push(stream)
      stream.addEventListener('message', () => {})
    })
    await n.handle(STALL, (stream) => {
      streams.push(stream)
      stream.pause()
    })
    nodes.push(n)
    return n
  }

  beforeEach(() => {
    accepted = new Map()
  })

  /**
   * `opener` opens 10 SINK streams that the other node reads and that both sides keep open, plus
   * one STALL stream whose writer is stuck on a full window; `stopper` then stops. Returns how
   * the streams of the node that keeps running ended.
   */
  async function stopWithOpenStreams (opener: Libp2p, other: Libp2p, stopper: Libp2p): Promise<{ survivor: Outcome[], stalledWrite: Promise<string>, stopMs: number }> {
    await connect(opener, other)
    const opened = await Promise.all(Array.from({ length: 10 }, async () => opener.dialProtocol(other.peerId, SINK)))
    for (const stream of opened) { stream.send(pattern(1000)) }
    const stalled = await opener.dialProtocol(other.peerId, STALL)
    const stalledWrite = writeUntilFailure(stalled)
    while (accepted.get(other)?.length !== 11) { await new Promise(resolve => setTimeout(resolve, 10)) }
    // let the stalled writer use up its window
    await new Promise(resolve => setTimeout(resolve, 100))
    expect(stalled.writableNeedsDrain).to.equal(true)

    const survivor = stopper === opener ? other : opener
    const survivorStreams = survivor === opener ? opened : accepted.get(other) ?? []
    const outcomes = Promise.all(survivorStreams.map(outcome))
    const start = Date.now()
    await stopper.stop()
    const stopMs = Date.now() - start
    return { survivor: await outcomes, stalledWrite, stopMs }
  }

  it('the dialer stops: the listener\'s streams end cleanly (FIN), a stalled one with ConnectionClosedError; reconnecting works', async function () {
    this.timeout(15_000)
    const dialer = await node()
    const listener = await node()
    const { survivor, stalledWrite, stopMs } = await stopWithOpenStreams(dialer, listener, dialer)

    // libp2p closes the connection gracefully: every stream half-closes (FIN) and muxado sends
    // GOAWAY. The stalled stream cannot flush, so libp2p's 500 ms close timeout fires and the
    // connection is aborted: that writer gets the TimeoutError, its peer a ConnectionClosedError.
    expect(stopMs).to.be.below(3000)
    expect(await stalledWrite).to.equal('TimeoutError')
    expect(group(survivor)).to.deep.equal({
      'iteration ended, close error none, FIN true': 10,
      'iteration ConnectionClosedError, close error ConnectionClosedError, FIN false': 1
    })
    expect(listener.getConnections(dialer.peerId)).to.have.length(0)

    await dialer.start()
    const data = pattern(200_000, 9)
    expect(sha256(await echo(dialer, listener.getMultiaddrs(), data))).to.equal(sha256(data))
  })

  it('the listener stops: the dialer\'s streams close with ConnectionClosedError; reconnecting works', async function () {
    this.timeout(15_000)
    const dialer = await node()
    const listener = await node()
    const { survivor, stalledWrite, stopMs } = await stopWithOpenStreams(dialer, listener, listener)

    // the TCP listener destroys its sockets while the connection manager is still closing the
    // connections, so no FIN reaches the dialer: muxado reports the cut
    expect(stopMs).to.be.below(3000)
    expect(group(survivor)).to.deep.equal({ 'iteration ConnectionClosedError, close error ConnectionClosedError, FIN false': 10 })
    expect(await stalledWrite).to.equal('ConnectionClosedError')
    expect(dialer.getConnections(listener.peerId)).to.have.length(0)

    await listener.start()
    const data = pattern(200_000, 10)
    expect(sha256(await echo(dialer, listener.getMultiaddrs(), data))).to.equal(sha256(data))
  })
})
