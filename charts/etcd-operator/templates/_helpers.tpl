{{/* Chart name, overridable. */}}
{{- define "etcd-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of the hook server's objects. A release named like the chart
(`helm install etcd-operator ...`) gives plain `etcd-operator`.
*/}}
{{- define "etcd-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "etcd-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels that select the hook server's pods; never change them on upgrade. */}}
{{- define "etcd-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "etcd-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "etcd-operator.labels" -}}
helm.sh/chart: {{ include "etcd-operator.chart" . }}
{{ include "etcd-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: etcd-operator
{{- end }}

{{- define "etcd-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/* http, or https when the hook serves TLS. */}}
{{- define "etcd-operator.scheme" -}}
{{- if .Values.security.tlsSecret }}https{{ else }}http{{ end }}
{{- end }}

{{/*
The port the kubelet probes: the hook's own when it serves plain HTTP, else
the plain-HTTP probe port (HOOK_PROBE_PORT), which needs no client
certificate.
*/}}
{{- define "etcd-operator.probePort" -}}
{{- if .Values.security.tlsSecret }}probes{{ else }}http{{ end }}
{{- end }}

{{/* The Service port: 443 for HTTPS unless set otherwise. */}}
{{- define "etcd-operator.servicePort" -}}
{{- if and .Values.security.tlsSecret (eq (int .Values.service.port) 80) }}443{{ else }}{{ int .Values.service.port }}{{ end }}
{{- end }}

{{/* Where Metacontroller reaches the hook server: <scheme>://<service>.<namespace>[:port]<path> */}}
{{- define "etcd-operator.hookURL" -}}
{{- $scheme := include "etcd-operator.scheme" .root }}
{{- $port := int (include "etcd-operator.servicePort" .root) }}
{{- if or (and (eq $scheme "http") (eq $port 80)) (and (eq $scheme "https") (eq $port 443)) }}
{{- printf "%s://%s.%s%s" $scheme (include "etcd-operator.fullname" .root) .root.Release.Namespace .path }}
{{- else }}
{{- printf "%s://%s.%s:%d%s" $scheme (include "etcd-operator.fullname" .root) .root.Release.Namespace $port .path }}
{{- end }}
{{- end }}

{{/*
Metacontroller's webhook settings matching `security`, read by Metacontroller
from Secrets in the release namespace: the credentials it sends, the CA it
trusts for the hook's HTTPS, and the client certificate it presents.
*/}}
{{- define "etcd-operator.webhookAuth" -}}
{{- $security := .Values.security }}
{{- $namespace := .Release.Namespace }}
{{- $auth := dict }}
{{- if .Values.hook.metacontrollerAuth }}
{{- if and $security.bearerTokenSecret $security.basicAuthSecret }}
{{- fail "security.bearerTokenSecret and security.basicAuthSecret are both set: Metacontroller refuses a webhook with both authorization and basicAuth. Set one (or hook.metacontrollerAuth=false to configure Metacontroller yourself)." }}
{{- end }}
{{- with $security.bearerTokenSecret }}
{{- $_ := set $auth "authorization" (dict "type" "Bearer" "secretRef" (dict "name" . "namespace" $namespace "key" "token")) }}
{{- end }}
{{- with $security.basicAuthSecret }}
{{- $_ := set $auth "basicAuth" (dict "secretRef" (dict "name" . "namespace" $namespace) "usernameKey" "username" "passwordKey" "password") }}
{{- end }}
{{- if $security.tlsSecret }}
{{- if $security.caBundle }}
{{- $_ := set $auth "caBundle" (dict "inline" $security.caBundle) }}
{{- else }}
{{- $_ := set $auth "caBundle" (dict "secretRef" (dict "name" $security.tlsSecret "namespace" $namespace "key" "ca.crt")) }}
{{- end }}
{{- if $security.requireClientCert }}
{{- if not $security.metacontrollerClientSecret }}
{{- fail "security.requireClientCert needs security.metacontrollerClientSecret: a kubernetes.io/tls Secret with the client certificate Metacontroller presents, signed by the CA in the tlsSecret's ca.crt (or set hook.metacontrollerAuth=false to configure Metacontroller yourself)." }}
{{- end }}
{{- $_ := set $auth "clientTLS" (dict "secretRef" (dict "name" $security.metacontrollerClientSecret "namespace" $namespace) "certKey" "tls.crt" "privateKeyKey" "tls.key") }}
{{- end }}
{{- else if $security.caBundle }}
{{- fail "security.caBundle needs security.tlsSecret: without it the hook serves plain HTTP." }}
{{- end }}
{{- end }}
{{- toYaml $auth }}
{{- end }}

{{/* Fields added to both webhooks: the auth settings, then hook.webhook over them. */}}
{{- define "etcd-operator.webhookExtras" -}}
{{- $extras := mergeOverwrite (include "etcd-operator.webhookAuth" . | fromYaml) (.Values.hook.webhook | default dict | deepCopy) }}
{{- if $extras }}
{{- toYaml $extras }}
{{- end }}
{{- end }}

{{/* One webhook of a CompositeController, at a path of the hook server: (dict "root" . "path" "/sync"). */}}
{{- define "etcd-operator.webhook" -}}
url: {{ include "etcd-operator.hookURL" . }}
timeout: {{ .root.Values.hook.timeout | quote }}
{{- with include "etcd-operator.webhookExtras" .root }}
{{ . }}
{{- end }}
{{- end }}
