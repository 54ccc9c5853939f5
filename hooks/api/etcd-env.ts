// Which etcd environment variables spec.pod.etcdEnv may not set, shared by
// the hook's validation (api/validate.ts) and the CRD's rules (api/crd.ts).

// etcd settings in spec.pod.etcdEnv that would break what the operator
// assumes about every member. An `ETCD_<FLAG>` variable sets etcd's
// `--<flag>`: etcd refuses to start when the environment repeats a flag the
// hook already passes (a crash loop), and the others change how members
// bootstrap, where their data lives or how the hook and the probes reach
// them. `exact`: this variable; `prefix`: every variable starting so;
// `unlessTrue`: refused unless its value is a literal true (Go's
// strconv.ParseBool: 1, t, T, TRUE, true, True). One reason each, as the
// 422 says it; the CRD's rules (ETCD_ENV_RULES) say the same.
export const RESERVED_ETCD_ENV: ReadonlyArray<{ readonly name: string, readonly match: 'exact' | 'prefix' | 'unlessTrue', readonly why: string }> = [
  { name: 'ETCD_NAME', match: 'exact', why: 'the hook names each member after its pod (--name) and finds it in etcd by that name' },
  { name: 'ETCD_DATA_DIR', match: 'exact', why: 'the data directory is on the member\'s volume (--data-dir), and anywhere else a restarted pod loses its data' },
  { name: 'ETCD_WAL_DIR', match: 'exact', why: 'the write-ahead log belongs in the data directory on the member\'s volume, and anywhere else a restarted pod loses it' },
  { name: 'ETCD_FORCE_NEW_CLUSTER', match: 'exact', why: 'it rewrites the membership to this one member on every start, splitting the cluster' },
  { name: 'ETCD_INITIAL_CLUSTER', match: 'exact', why: 'the hook gives each new member the membership it joins (--initial-cluster), from etcd\'s member list' },
  { name: 'ETCD_INITIAL_CLUSTER_STATE', match: 'exact', why: 'the hook decides whether a member starts the cluster or joins it (--initial-cluster-state)' },
  { name: 'ETCD_INITIAL_CLUSTER_TOKEN', match: 'exact', why: 'the hook sets the cluster token (--initial-cluster-token), and another one would bootstrap a separate cluster' },
  { name: 'ETCD_INITIAL_ADVERTISE_PEER_URLS', match: 'exact', why: 'the hook adds each member to etcd under its peer URL (--initial-advertise-peer-urls) and the member must advertise the same' },
  { name: 'ETCD_LISTEN_PEER_URLS', match: 'exact', why: 'members reach each other on the peer port and scheme the hook sets (--listen-peer-urls) from spec.TLS' },
  { name: 'ETCD_LISTEN_CLIENT_URLS', match: 'exact', why: 'the hook and the client Services reach members on the client port and scheme it sets (--listen-client-urls) from spec.TLS' },
  { name: 'ETCD_ADVERTISE_CLIENT_URLS', match: 'exact', why: 'the hook and clients find members by the client URLs it sets (--advertise-client-urls)' },
  { name: 'ETCD_LISTEN_METRICS_URLS', match: 'exact', why: 'the member\'s probes use the plain-HTTP metrics port 2381 the hook sets (--listen-metrics-urls)' },
  { name: 'ETCD_ENABLE_GRPC_GATEWAY', match: 'unlessTrue', why: 'the hook reads and changes membership through etcd\'s JSON gateway (/v3/...), which this turns off (leave it out)' },
  { name: 'ETCD_CERT_FILE', match: 'exact', why: 'client TLS comes from spec.TLS.static.member.serverSecret, which the hook\'s client URLs follow' },
  { name: 'ETCD_KEY_FILE', match: 'exact', why: 'client TLS comes from spec.TLS.static.member.serverSecret, which the hook\'s client URLs follow' },
  { name: 'ETCD_TRUSTED_CA_FILE', match: 'exact', why: 'client TLS comes from spec.TLS.static.member.serverSecret, whose server-ca.crt the hook\'s own client certificate is checked against' },
  { name: 'ETCD_CLIENT_CERT_AUTH', match: 'exact', why: 'client certificate auth comes with spec.TLS.static.member.serverSecret, and the hook\'s client certificate with operatorSecret' },
  { name: 'ETCD_PEER_', match: 'prefix', why: 'peer TLS comes from spec.TLS.static.member.peerSecret, which the hook\'s peer URLs follow' },
]

export const GO_TRUE = ['1', 't', 'T', 'TRUE', 'true', 'True']

// The same as CEL rules on each etcdEnv entry, so the API server refuses
// them before the hook sees them; messages name the variable and why.
export const ETCD_ENV_RULES = RESERVED_ETCD_ENV.map(({ name, match, why }) => {
  switch (match) {
    case 'exact': return { rule: `self.name != '${name}'`, message: `${name} is set by the operator: ${why}` }
    case 'prefix': return { rule: `!self.name.startsWith('${name}')`, message: `${name}* variables are set by the operator: ${why}` }
    case 'unlessTrue': return {
      rule: `self.name != '${name}' || (has(self.value) && !has(self.valueFrom) && self.value in [${GO_TRUE.map(v => `'${v}'`).join(', ')}])`,
      message: `${name} may only be a literal true (or left out): ${why}`,
    }
  }
})
