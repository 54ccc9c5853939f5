// The Job and CronJob controllers of kube-controller-manager, as far as the
// backup Jobs need them:
// - a Job makes one pod from its template (name `<job>-<5 chars>`, the
//   template's labels plus `batch.kubernetes.io/job-name`, `job-name` and
//   `controller-uid`, a controller ownerReference to the Job), once its
//   service account exists (the API server's ServiceAccount admission
//   refuses the pod before). Job status follows the pod: active, then
//   succeeded (condition Complete) or failed (condition Failed, reason
//   BackoffLimitExceeded; these Jobs have backoffLimit 0, more is not
//   supported), each after its interim condition SuccessCriteriaMet or
//   FailureTarget with the same reason, as Kubernetes 1.31+ writes them;
//   startTime/completionTime. activeDeadlineSeconds: the pod is
//   deleted and the Job Failed with reason DeadlineExceeded.
// - a CronJob makes a Job only when the test says so (`trigger`, a run of
//   the schedule: no cron timing here), from its jobTemplate (labels,
//   annotations, spec) with a controller ownerReference to the CronJob, named
//   `<cronjob>-<scheduled time in minutes>` as the controller names them;
//   suspend and concurrencyPolicy Forbid refuse a run; finished Jobs beyond
//   successfulJobsHistoryLimit / failedJobsHistoryLimit are deleted, oldest
//   first; status active, lastScheduleTime, lastSuccessfulTime.
// Deleting a Job deletes its pod through the store's garbage collector.
import { randomBytes } from 'node:crypto'
import { POD, type Obj, type Store, type WatchEvent } from './store.js'
import { JOB, SERVICEACCOUNT } from './apiserver.js'
import { clone } from './util.js'

export const CRONJOB = 'CronJob.batch/v1'
const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z')

export class JobController {
  private readonly deadlines = new Map<string, NodeJS.Timeout>()
  private lastMinute = 0
  private stopped = false
  private readonly onEvent = (ev: WatchEvent) => this.handle(ev)

  constructor (
    private readonly store: Store,
    private readonly log: (s: string) => void,
  ) {
    store.on('event', this.onEvent)
  }

  stop (): void {
    this.stopped = true
    this.store.off('event', this.onEvent)
    for (const t of this.deadlines.values()) clearTimeout(t)
  }

  private handle (ev: WatchEvent): void {
    if (this.stopped) return
    if (ev.key === JOB && ev.type === 'added') this.startJob(ev.obj)
    if (ev.key === JOB && ev.type === 'deleted') clearTimeout(this.deadlines.get(ev.obj.metadata.uid ?? ''))
    if (ev.key === SERVICEACCOUNT && ev.type === 'added') for (const j of this.store.list(JOB)) if (!this.podOf(j) && !finished(j)) this.startJob(j)
    if (ev.key === POD && ev.type !== 'deleted') {
      const job = this.ownerJob(ev.obj)
      if (job) this.podChanged(job, ev.obj)
    }
  }

  private ownerJob (pod: Obj): Obj | undefined {
    const ref = (pod.metadata.ownerReferences ?? []).find(r => r.controller && r.kind === 'Job')
    const job = ref ? this.store.get(JOB, ref.name) : undefined
    return job?.metadata.uid === ref?.uid ? job : undefined
  }

  private podOf (job: Obj): Obj | undefined {
    return this.store.list(POD).find(p => (p.metadata.ownerReferences ?? []).some(r => r.uid === job.metadata.uid))
  }

  private startJob (job: Obj): void {
    if (this.podOf(job) || finished(job) || job.metadata.deletionTimestamp) return
    const tmpl = job.spec?.template ?? {}
    const sa = tmpl.spec?.serviceAccountName ?? 'default'
    if (sa !== 'default' && !this.store.get(SERVICEACCOUNT, sa)) {
      this.log(`job controller: ${job.metadata.name}: Error creating: pods is forbidden: error looking up service account ${this.store.namespace}/${sa}: serviceaccount "${sa}" not found`)
      return
    }
    const uid = job.metadata.uid ?? ''
    const labels = { ...(tmpl.metadata?.labels ?? {}), 'batch.kubernetes.io/job-name': job.metadata.name, 'job-name': job.metadata.name, 'batch.kubernetes.io/controller-uid': uid, 'controller-uid': uid }
    const name = `${job.metadata.name}-${randomBytes(4).toString('hex').slice(0, 5)}`
    this.store.create({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: this.store.namespace, labels, annotations: tmpl.metadata?.annotations, ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: job.metadata.name, uid, controller: true, blockOwnerDeletion: true }] },
      spec: clone(tmpl.spec ?? {}),
    })
    this.store.updateStatus(JOB, job.metadata.name, { ...(job.status ?? {}), active: 1, startTime: now(), ready: 0 })
    this.log(`job controller: ${job.metadata.name}: created pod ${name}`)
    const deadline = job.spec?.activeDeadlineSeconds
    if (typeof deadline === 'number') this.deadlines.set(uid, setTimeout(() => this.deadlineExceeded(job.metadata.name, uid), deadline * 1000))
  }

  private podChanged (job: Obj, pod: Obj): void {
    const phase = pod.status?.phase
    if (finished(job) || (phase !== 'Succeeded' && phase !== 'Failed')) return
    if (phase === 'Succeeded') this.finish(job, { succeeded: 1 }, { type: 'Complete', reason: 'CompletionsReached', message: 'Reached expected number of succeeded pods' })
    else this.finish(job, { failed: 1 }, { type: 'Failed', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' })
  }

  private deadlineExceeded (name: string, uid: string): void {
    const job = this.store.get(JOB, name)
    if (job?.metadata.uid !== uid || !job || finished(job)) return
    const pod = this.podOf(job)
    if (pod) this.store.delete(POD, pod.metadata.name)
    this.finish(job, { failed: 1 }, { type: 'Failed', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' })
  }

  private finish (job: Obj, counts: Record<string, number>, cond: { type: string, reason: string, message: string }): void {
    clearTimeout(this.deadlines.get(job.metadata.uid ?? ''))
    const t = now()
    const status = { ...(job.status ?? {}), active: 0, ready: 0, ...counts, ...(cond.type === 'Complete' ? { completionTime: t } : {}), conditions: [cond.type === 'Complete' ? 'SuccessCriteriaMet' : 'FailureTarget', cond.type].map(type => ({ type, status: 'True', reason: cond.reason, message: cond.message, lastProbeTime: t, lastTransitionTime: t })) }
    delete status.active
    this.store.updateStatus(JOB, job.metadata.name, status)
    this.log(`job controller: ${job.metadata.name}: ${cond.type} (${cond.reason})`)
    const owner = (job.metadata.ownerReferences ?? []).find(r => r.controller && r.kind === 'CronJob')
    if (owner) this.cronJobFinished(owner.name, cond.type === 'Complete')
  }

  // One run of a CronJob's schedule, now. Returns the Job, or undefined with
  // the reason logged (suspended; Forbid while a run is active).
  trigger (cronJob: string): Obj | undefined {
    const cj = this.store.get(CRONJOB, cronJob)
    if (!cj) throw new Error(`no CronJob ${cronJob}`)
    if (cj.spec?.suspend === true) {
      this.log(`cronjob controller: ${cronJob} is suspended: no run`)
      return undefined
    }
    const active = this.jobsOf(cj).filter(j => !finished(j))
    if (active.length && cj.spec?.concurrencyPolicy === 'Forbid') {
      this.log(`cronjob controller: ${cronJob}: Forbid and ${active.map(j => j.metadata.name).join(', ')} still active: no run`)
      return undefined
    }
    // The controller names a run by its scheduled time in minutes; runs the
    // test asks for within one minute take the next minutes.
    this.lastMinute = Math.max(this.lastMinute + 1, Math.floor(Date.now() / 60_000))
    const tmpl = cj.spec?.jobTemplate ?? {}
    const scheduled = new Date(this.lastMinute * 60_000).toISOString().replace(/\.\d+Z$/, 'Z')
    const job = this.store.create({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: {
        name: `${cronJob}-${this.lastMinute}`,
        namespace: this.store.namespace,
        labels: clone(tmpl.metadata?.labels ?? {}),
        annotations: { ...(tmpl.metadata?.annotations ?? {}), 'batch.kubernetes.io/cronjob-scheduled-timestamp': scheduled },
        ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: cronJob, uid: cj.metadata.uid ?? '', controller: true, blockOwnerDeletion: true }],
      },
      spec: clone(tmpl.spec ?? {}),
    })
    this.store.updateStatus(CRONJOB, cronJob, { ...(cj.status ?? {}), lastScheduleTime: now(), active: [{ apiVersion: 'batch/v1', kind: 'Job', name: job.metadata.name, namespace: job.metadata.namespace, uid: job.metadata.uid }] })
    this.log(`cronjob controller: ${cronJob}: created Job ${job.metadata.name}`)
    return job
  }

  jobsOf (cj: Obj): Obj[] {
    return this.store.list(JOB).filter(j => (j.metadata.ownerReferences ?? []).some(r => r.uid === cj.metadata.uid))
  }

  private cronJobFinished (cronJob: string, succeeded: boolean): void {
    const cj = this.store.get(CRONJOB, cronJob)
    if (!cj) return
    const status = { ...(cj.status ?? {}), ...(succeeded ? { lastSuccessfulTime: now() } : {}) }
    delete status.active
    this.store.updateStatus(CRONJOB, cronJob, status)
    // History limits, oldest first (by name: the scheduled minute).
    const done = this.jobsOf(cj).filter(j => finished(j))
    for (const [ok, limit] of [[true, cj.spec?.successfulJobsHistoryLimit ?? 3], [false, cj.spec?.failedJobsHistoryLimit ?? 1]] as const) {
      const these = done.filter(j => (finished(j) === 'Complete') === ok)
      for (const old of these.slice(0, Math.max(0, these.length - limit))) {
        this.log(`cronjob controller: ${cronJob}: history limit ${limit}: deleting Job ${old.metadata.name}`)
        this.store.delete(JOB, old.metadata.name)
      }
    }
  }
}

// 'Complete' or 'Failed' once the Job finished.
export function finished (job: Obj): 'Complete' | 'Failed' | undefined {
  for (const c of job.status?.conditions ?? []) if (c.status === 'True' && (c.type === 'Complete' || c.type === 'Failed')) return c.type
  return undefined
}
