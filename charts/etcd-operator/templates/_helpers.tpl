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
