import { expect } from 'aegir/chai'
import { Uint8ArrayList } from 'uint8arraylist'
import { piecesOf } from '../../src/protocol/pieces.ts'

describe('piecesOf', () => {
  const a = Uint8Array.of(1, 2)
  const b = Uint8Array.of(3)

  it('gives the buffers of a list in order, uncopied', () => {
    const pieces = piecesOf(new Uint8ArrayList(a, b))
    expect(pieces).to.have.lengthOf(2)
    expect(pieces[0]).to.equal(a)
    expect(pieces[1]).to.equal(b)
  })

  it('reads the list through its iterator when the list keeps no `bufs` array', () => {
    // what a later uint8arraylist that renamed or hid its field would look like to us
    const hidden = new Uint8ArrayList(a, b)
    Object.defineProperty(hidden, 'bufs', { value: undefined })
    Object.defineProperty(hidden, Symbol.iterator, { value: function * () { yield a; yield b } })
    const pieces = piecesOf(hidden)
    expect(pieces).to.have.lengthOf(2)
    expect(pieces[0]).to.equal(a)
    expect(pieces[1]).to.equal(b)
  })
})
