// The part of autocannon 8's API the benchmark uses (the package ships no
// types, and @types/autocannon is not a dependency).
declare module 'autocannon' {
  export interface Histogram {
    average: number
    mean: number
    stddev: number
    min: number
    max: number
    total: number
    p50: number
    p90: number
    p97_5: number
    p99: number
  }

  export interface Options {
    url: string
    method?: 'GET' | 'POST'
    headers?: Record<string, string>
    body?: string | Buffer
    connections?: number
    pipelining?: number
    duration?: number
    timeout?: number
  }

  export interface Result {
    'duration': number
    'errors': number
    'timeouts': number
    'non2xx': number
    '2xx': number
    'statusCodeStats': Record<string, { count: number }>
    'latency': Histogram
    'requests': Histogram
    'throughput': Histogram
  }

  export interface Instance extends PromiseLike<Result> {
    stop(): void
  }

  export default function autocannon (options: Options): Instance
}
