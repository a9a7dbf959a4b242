import { expect } from 'aegir/chai'
import { fuzzRuns, fuzzSeed } from '../helpers/fuzz-settings.ts'
import { Random, describeInput, generate, runInput } from './fuzz.ts'
import { TimerTracker, onEscapedErrors } from './harness.ts'

/**
 * fault checklist row 46 (docs/fault-checklist.md) in CI: a few hundred inputs of the mutation fuzzer (random bytes,
 * random frames, mutated Go session traffic) in both roles. `MUXADO_FUZZ_RUNS` and
 * `MUXADO_FUZZ_SEED` override the count and the seed; long runs use `npm run fuzz`.
 */

describe('hostile: fuzz (row 46)', function () {
  this.timeout(120_000)
  const timers = new TimerTracker()
  const escaped: unknown[] = []
  let stopRecording = (): void => {}

  before(() => {
    stopRecording = onEscapedErrors((err) => { escaped.push(err) })
  })

  after(() => {
    stopRecording()
  })

  it('row 46: random and mutated input gives only typed errors (closed with one GOAWAY) or an open, consistent session; nothing leaks', async () => {
    const runs = fuzzRuns(600)
    const rand = new Random(fuzzSeed(46))
    const failures: string[] = []
    const ends = { closed: 0, open: 0 }
    for (let i = 0; i < runs; i++) {
      const input = generate(rand)
      timers.install()
      try {
        const outcome = await runInput(input, timers)
        ends[outcome.end]++
        for (const problem of outcome.problems) { failures.push(`#${i} ${problem}\n    ${describeInput(input)}`) }
      } finally {
        timers.restore()
      }
    }
    expect(escaped, 'uncaught exceptions / unhandled rejections').to.deep.equal([])
    expect(failures.slice(0, 5).join('\n'), `${failures.length} failing inputs`).to.equal('')
    // both kinds of ending are exercised
    expect(ends.closed).to.be.greaterThan(runs / 10)
    expect(ends.open).to.be.greaterThan(runs / 10)
  })
})
