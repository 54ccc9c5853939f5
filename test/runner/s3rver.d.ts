// The part of s3rver's programmatic API the runner's tests use (it ships
// no types of its own).
declare module 's3rver' {
  interface S3rverOptions {
    address?: string
    port?: number
    silent?: boolean
    directory?: string
    resetOnClose?: boolean
    vhostBuckets?: boolean
    configureBuckets?: Array<{ name: string, configs?: Array<string | Buffer> }>
  }

  export default class S3rver {
    constructor (options: S3rverOptions)
    run (): Promise<{ address: string, port: number, family: string }>
    close (): Promise<void>
  }
}
