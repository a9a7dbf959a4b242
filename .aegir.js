/** @type {import('aegir').PartialOptions} */
export default {
  build: {
    bundle: false
  }
}
