// Node 20 lacks Promise.withResolvers, which libp2p v3 calls unguarded. Tests and benchmarks
// preload this file; src/ never patches globals.
if (typeof Promise.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers () {
      let resolve, reject
      const promise = new this((/** @type {any} */ res, /** @type {any} */ rej) => { resolve = res; reject = rej })
      return { promise, resolve, reject }
    }
  })
}
