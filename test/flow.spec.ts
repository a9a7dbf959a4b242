import { expect } from 'aegir/chai'
import { ReceiveWindow } from '../src/flow.ts'

describe('ReceiveWindow', () => {
  it('accepts exactly the initial 65536 bytes', () => {
    const window = new ReceiveWindow()
    expect(window.receive(65536)).to.equal(true)
    expect(window.receive(1)).to.equal(false)
  })

  it('grants nothing until half the window is consumed, then all of it', () => {
    const window = new ReceiveWindow()
    window.receive(40000)
    expect(window.consume(32767)).to.equal(0)
    expect(window.consume(1)).to.equal(32768)
    expect(window.remaining).to.equal(65536 - 40000 + 32768)
  })

  it('never grants more than arrived from the wire', () => {
    const window = new ReceiveWindow()
    window.receive(100)
    expect(window.consume(65536)).to.equal(0)
    expect(window.release()).to.equal(100)
  })

  it('doubles the window up to the maximum while the reader keeps up', () => {
    const window = new ReceiveWindow(262144)
    window.receive(32768)
    expect(window.consume(32768)).to.equal(32768 + 65536)
    expect(window.remaining).to.equal(131072)
    window.receive(131072)
    expect(window.consume(131072)).to.equal(131072 + 131072)
    expect(window.remaining).to.equal(262144)
    window.receive(262144)
    expect(window.consume(262144)).to.equal(262144)
  })

  it('does not grow while consumed data is still waiting behind unconsumed data', () => {
    const window = new ReceiveWindow(262144)
    window.receive(65536)
    expect(window.consume(32768)).to.equal(32768)
    expect(window.remaining).to.equal(32768)
  })
})
