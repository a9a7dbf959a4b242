import { logger } from '@libp2p/logger'
import { expect } from 'aegir/chai'
import { pEvent } from 'p-event'
import { ErrorCode, FrameType, HEARTBEAT_STREAM_TYPE, HeartbeatTimeoutError } from '../src/index.ts'
import { encodeDataHeader, encodeSyn } from '../src/protocol/index.ts'
import { ConnectionWriter } from '../src/writer.ts'
import { fromHex } from './helpers/bytes.ts'
import { muxerPair } from './helpers/muxer-pair.ts'
import { RawPeer } from './helpers/raw-peer.ts'
import type { Uint8ArrayList } from 'uint8arraylist'

const heartbeatSynFromGo = (id: number): Uint8Array => encodeSyn(id, HEARTBEAT_STREAM_TYPE, 0x7fffffff)

describe('heartbeat', () => {
  it('two muxers measure each other\'s round trip and libp2p never sees the heartbeat streams', async () => {
    const { client, server } = muxerPair({ enableHeartbeat: true, heartbeatInterval: 20 })
    let announced = 0
    client.addEventListener('stream', () => { announced++ })
    server.addEventListener('stream', () => { announced++ })
    await new Promise(resolve => setTimeout(resolve, 100))
    expect(client.rtt).to.be.a('number')
    expect(server.rtt).to.be.a('number')
    expect(announced).to.equal(0)
    expect(client.streams).to.deep.equal([])
    expect(server.streams).to.deep.equal([])
    const stream = await client.createStream()
    // the heartbeat took the first id
    expect(stream.streamId).to.equal(5)
    await client.close()
  })

  it('opens one heartbeat stream of its own with a typed SYN', async () => {
    const peer = new RawPeer('client', { enableHeartbeat: true })
    const syn = await peer.waitForFrame(f => f.type === FrameType.SYN)
    expect(syn).to.deep.equal({ type: FrameType.SYN, streamId: 3, flags: 0x04, streamType: HEARTBEAT_STREAM_TYPE })
    const ping = await peer.waitForFrame(f => f.type === FrameType.DATA)
    expect(ping.streamId).to.equal(3)
    expect(ping.payload?.byteLength).to.equal(4)
    peer.muxer.abort(new Error('done'))
  })

  it('echoes a Go peer\'s pings and hides its heartbeat stream', async () => {
    const peer = new RawPeer('client')
    let announced = 0
    peer.muxer.addEventListener('stream', () => { announced++ })
    peer.send(heartbeatSynFromGo(2), encodeDataHeader(2, 4, false), fromHex('00000000'), encodeDataHeader(2, 4, false), fromHex('00000000'))
    await peer.waitForFrame(f => f.type === FrameType.DATA && f.streamId === 2)
    await peer.settle()
    const echoed = peer.framesOf(FrameType.DATA, 2).map(f => Array.from(f.payload ?? []))
    expect(echoed.flat()).to.deep.equal([0, 0, 0, 0, 0, 0, 0, 0])
    expect(announced).to.equal(0)
    expect(peer.muxer.streams).to.deep.equal([])
  })

  it('never FINs or RSTs a heartbeat stream when the session closes', async () => {
    const peer = new RawPeer('client', { enableHeartbeat: true })
    peer.send(heartbeatSynFromGo(2))
    await peer.settle()
    await peer.muxer.close()
    await peer.settle()
    expect(peer.framesOf(FrameType.RST)).to.deep.equal([])
    expect(peer.framesOf(FrameType.DATA).filter(f => (f.flags & 1) !== 0)).to.deep.equal([])
    expect(peer.framesOf(FrameType.GOAWAY)).to.have.length(1)
  })

  it('refuses a second heartbeat stream from the peer with RST StreamClosed', async () => {
    const peer = new RawPeer('client')
    peer.send(heartbeatSynFromGo(2), heartbeatSynFromGo(4))
    const rst = await peer.waitForFrame(f => f.type === FrameType.RST)
    expect(rst).to.include({ streamId: 4, errorCode: ErrorCode.StreamClosed })
    expect(peer.muxer.status).to.equal('open')
  })

  it('closes the session with HeartbeatTimeoutError and GOAWAY NoError when pings go unanswered', async () => {
    const peer = new RawPeer('server', { enableHeartbeat: true, heartbeatInterval: 10, heartbeatTimeout: 100 })
    peer.send(encodeSyn(3))
    const stream = await peer.nextStream()
    const started = Date.now()
    const evt: any = await pEvent(stream, 'close')
    expect(evt.error).to.be.instanceOf(HeartbeatTimeoutError)
    expect(Date.now() - started).to.be.within(80, 1000)
    const goaway = await peer.waitForFrame(f => f.type === FrameType.GOAWAY)
    expect(goaway.errorCode).to.equal(ErrorCode.NoError)
    expect(peer.muxer.status).to.equal('closed')
  })

  it('a late echo does not end the session while the peer\'s frames keep arriving; silence then does', async () => {
    const peer = new RawPeer('server', { enableHeartbeat: true, heartbeatInterval: 10, heartbeatTimeout: 100 })
    peer.send(encodeSyn(3))
    const stream = await peer.nextStream()
    let closedAt = 0
    stream.addEventListener('close', () => { closedAt = Date.now() })
    // a peer whose echo is stuck behind its DATA: it never answers the ping, but keeps sending
    const started = Date.now()
    while (Date.now() - started < 400) {
      peer.send(encodeDataHeader(3, 1, false), new Uint8Array(1))
      await new Promise(resolve => setTimeout(resolve, 20))
    }
    expect(peer.muxer.status, 'session after 4 timeouts of a talking peer').to.equal('open')
    const silentFrom = Date.now()
    const evt: any = await pEvent(stream, 'close')
    expect(evt.error).to.be.instanceOf(HeartbeatTimeoutError)
    // the wait that saw the last frame is extended once: at most two timeouts of silence
    expect(closedAt - silentFrom).to.be.within(0, 250)
  })

  it('heartbeat frames go out ahead of the DATA queued in the same turn', async () => {
    const sent: Array<Uint8Array | Uint8ArrayList> = []
    const writer = new ConnectionWriter({ send: (data) => { sent.push(data); return true }, transport: { sendsViews: true }, onStall: () => {}, writeTimeout: 1000, log: logger('test') })
    const ping = encodeDataHeader(3, 4, false)
    writer.enqueue(encodeDataHeader(5, 3, false))
    writer.enqueue(Uint8Array.of(1, 2, 3))
    writer.enqueueUrgent(ping)
    writer.enqueueUrgent(Uint8Array.of(0, 0, 0, 7))
    await Promise.resolve()
    expect(sent).to.have.length(1)
    const bytes = sent[0] instanceof Uint8Array ? sent[0] : sent[0].subarray()
    expect(Array.from(bytes)).to.deep.equal([...ping, 0, 0, 0, 7, ...encodeDataHeader(5, 3, false), 1, 2, 3])
  })

  it('heartbeat frames go out ahead of DATA written into a scratch buffer', async () => {
    const sent: number[] = []
    const send = (data: Uint8Array | Uint8ArrayList): boolean => { sent.push(...data.subarray()); return true }
    const writer = new ConnectionWriter({ send, transport: { sendsViews: false, finishedWithSent: () => true }, onStall: () => {}, writeTimeout: 1000, log: logger('test') })
    const ping = encodeDataHeader(3, 4, false)
    writer.enqueueData(5, Uint8Array.of(1, 2, 3), 3)
    writer.enqueueUrgent(ping)
    writer.enqueueUrgent(Uint8Array.of(0, 0, 0, 7))
    await Promise.resolve()
    expect(sent).to.deep.equal([...ping, 0, 0, 0, 7, ...encodeDataHeader(5, 3, false), 1, 2, 3])
  })
})
