{{- define "noetl.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "noetl.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "noetl.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "noetl.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "noetl.secretName" -}}
{{- if .Values.secrets.existingSecret -}}{{ .Values.secrets.existingSecret }}{{- else -}}{{ include "noetl.fullname" . }}-secrets{{- end -}}
{{- end -}}

{{- define "noetl.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}{{ default (include "noetl.fullname" .) .Values.serviceAccount.name }}{{- else -}}{{ default "default" .Values.serviceAccount.name }}{{- end -}}
{{- end -}}

{{- define "noetl.url" -}}
{{- $scheme := ternary "https" "http" .root.Values.internalTls.enabled -}}
{{ $scheme }}://{{ include "noetl.fullname" .root }}-{{ .component }}:{{ .port }}
{{- end -}}

{{/* Environment every service reads. */}}
{{- define "noetl.commonEnv" -}}
- name: NOETL_HOST
  value: "0.0.0.0"
- name: NOETL_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: NOETL_DEBUG
  value: {{ .Values.debug | quote }}
- name: NOETL_DISABLE_METRICS
  value: {{ .Values.disableMetrics | quote }}
- name: NOETL_INTERNAL_API_TOKEN
  valueFrom:
    secretKeyRef: {name: {{ include "noetl.secretName" . }}, key: internal-api-token}
{{- if .Values.internalTls.enabled }}
- name: NOETL_INTERNAL_TLS_CERT
  value: /etc/noetl/internal-tls/tls.crt
- name: NOETL_INTERNAL_TLS_KEY
  value: /etc/noetl/internal-tls/tls.key
- name: NOETL_INTERNAL_TLS_CA
  value: /etc/noetl/internal-tls/ca.crt
{{- end }}
{{- end -}}

{{/* Listener TLS of an internal service (api, wallet, broker): the internal certs. */}}
{{- define "noetl.internalListenerEnv" -}}
{{- if .Values.internalTls.enabled }}
- name: NOETL_TLS_CERT
  value: /etc/noetl/internal-tls/tls.crt
- name: NOETL_TLS_KEY
  value: /etc/noetl/internal-tls/tls.key
- name: NOETL_TLS_CLIENT_CA
  value: /etc/noetl/internal-tls/ca.crt
{{- end }}
{{- end -}}

{{- define "noetl.dbEnv" -}}
- name: POSTGRES_HOST
  value: {{ .Values.postgres.host | quote }}
- name: POSTGRES_PORT
  value: {{ .Values.postgres.port | quote }}
- name: POSTGRES_USER
  value: {{ .Values.postgres.user | quote }}
- name: POSTGRES_DATABASE
  value: {{ .Values.postgres.database | quote }}
- name: POSTGRES_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ include "noetl.secretName" . }}, key: postgres-password}
- name: POSTGRES_MAX_CONNECTIONS
  value: {{ .Values.postgres.maxConnections | quote }}
- name: POSTGRES_MIN_CONNECTIONS
  value: {{ .Values.postgres.minConnections | quote }}
- name: POSTGRES_ACQUIRE_TIMEOUT
  value: {{ .Values.postgres.acquireTimeout | quote }}
- name: NOETL_SCHEMA
  value: {{ .Values.postgres.schema | quote }}
{{- end -}}

{{/* NATS connection and the command subjects (api and worker). */}}
{{- define "noetl.natsEnv" -}}
- name: NATS_URL
  value: {{ .Values.nats.url | quote }}
{{- if .Values.nats.user }}
- name: NATS_USER
  value: {{ .Values.nats.user | quote }}
- name: NATS_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ include "noetl.secretName" . }}, key: nats-password}
{{- end }}
- name: NOETL_NATS_SUBJECT_PREFIX
  value: {{ .Values.nats.subjectPrefix | quote }}
- name: NOETL_NATS_STREAM
  value: {{ .Values.nats.stream | quote }}
- name: NOETL_NATS_STREAM_MAX_AGE
  value: {{ .Values.nats.streamMaxAge | quote }}
{{- end -}}

{{/* The pod ordinal of a StatefulSet pod (Kubernetes >= 1.28 sets the label). */}}
{{- define "noetl.podIndexEnv" -}}
- name: NOETL_SERVER_MACHINE_ID
  valueFrom:
    fieldRef: {fieldPath: "metadata.labels['apps.kubernetes.io/pod-index']"}
{{- end -}}

{{/* Probes: httpGet, or tcpSocket when the listener requires client certificates. */}}
{{- define "noetl.probes" -}}
{{- $mtls := .mtls -}}
{{- $scheme := ternary "HTTPS" "HTTP" .tls -}}
startupProbe:
  {{- if $mtls }}
  tcpSocket: {port: http}
  {{- else }}
  httpGet: {path: /healthz, port: http, scheme: {{ $scheme }}}
  {{- end }}
  periodSeconds: 5
  failureThreshold: 30
livenessProbe:
  {{- if $mtls }}
  tcpSocket: {port: http}
  {{- else }}
  httpGet: {path: /healthz, port: http, scheme: {{ $scheme }}}
  {{- end }}
  initialDelaySeconds: 10
  periodSeconds: 10
  failureThreshold: 3
readinessProbe:
  {{- if $mtls }}
  tcpSocket: {port: http}
  {{- else }}
  httpGet: {path: /readyz, port: http, scheme: {{ $scheme }}}
  {{- end }}
  initialDelaySeconds: 5
  periodSeconds: 5
  failureThreshold: 3
{{- end -}}

{{- define "noetl.volumes" -}}
volumes:
  - name: tmp
    emptyDir: {}
  {{- if and .public .root.Values.tls.enabled }}
  - name: tls
    secret: {secretName: {{ .root.Values.tls.secretName | required "tls.secretName is required when tls.enabled" }}}
  {{- end }}
  {{- if .root.Values.internalTls.enabled }}
  - name: internal-tls
    secret: {secretName: {{ .root.Values.internalTls.secretName | required "internalTls.secretName is required when internalTls.enabled" }}}
  {{- end }}
{{- end -}}

{{- define "noetl.volumeMounts" -}}
volumeMounts:
  - name: tmp
    mountPath: /tmp
  {{- if and .public .root.Values.tls.enabled }}
  - name: tls
    mountPath: /etc/noetl/tls
    readOnly: true
  {{- end }}
  {{- if .root.Values.internalTls.enabled }}
  - name: internal-tls
    mountPath: /etc/noetl/internal-tls
    readOnly: true
  {{- end }}
{{- end -}}
