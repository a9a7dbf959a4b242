export * from './constants.ts'
export * from './encode.ts'
export * from './decode.ts'
export * from './frame-error.ts'
