{{/*
Helpers shared by every service. A service is a "component" (router, api, wallet,
broker); its pod template, ServiceAccount, autoscaler, disruption budget, network policy
and internal certificate all come from the helpers below, so a new binary needs a values
section, an env template ("noetl.env.<component>") and a workload file, plus its name in
"noetl.components".
*/}}

{{- define "noetl.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The services of this chart, space-separated. */}}
{{- define "noetl.components" -}}router api wallet broker{{- end -}}

{{/* The services that mint snowflake ids, with their machine-id ranges. */}}
{{- define "noetl.idMinters" -}}api wallet{{- end -}}

{{- define "noetl.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of a component: dict root, component. */}}
{{- define "noetl.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Labels of a component's objects: dict root, component. */}}
{{- define "noetl.componentLabels" -}}
{{ include "noetl.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/*
<fullname>-<suffix> in at most max characters (default 63: a Service or a Job is a DNS
label, and a Job's name is a label value of its pods): the fullname is cut, never the
suffix, so the release's names stay distinct. Every name the chart derives from the
fullname comes from here. dict root, suffix, max.
*/}}
{{- define "noetl.suffixed" -}}
{{- $keep := sub (int (.max | default 63)) (add1 (len .suffix)) -}}
{{- printf "%s-%s" (include "noetl.fullname" .root | trunc (int $keep) | trimSuffix "-") .suffix -}}
{{- end -}}

{{/* The name of a component's objects: dict root, component. A StatefulSet's is at most
52 characters: the controller labels its pods <name>-<revision hash of up to 10>, and a
longer label value keeps every pod from being created. */}}
{{- define "noetl.name" -}}
{{- include "noetl.suffixed" (dict "root" .root "suffix" .component "max" (ternary 52 63 (has .component (splitList " " (include "noetl.idMinters" .root))))) -}}
{{- end -}}

{{/* The headless Service of a StatefulSet component: dict root, component. */}}
{{- define "noetl.headless" -}}
{{- include "noetl.suffixed" (dict "root" .root "suffix" (printf "%s-headless" .component)) -}}
{{- end -}}

{{/* Image of a component: dict root, component. A digest pins it: the component's own
(<component>.image.digest), else image.digest when the component runs the shared image
(the worker has an image of its own, which image.digest cannot pin). */}}
{{- define "noetl.image" -}}
{{- $v := .root.Values -}}
{{- $own := (index $v .component).image | default dict -}}
{{- $repo := $own.repository | default $v.image.repository -}}
{{- if $own.digest -}}
{{ $repo }}@{{ $own.digest }}
{{- else if and $v.image.digest (not $own.repository) -}}
{{ $repo }}@{{ $v.image.digest }}
{{- else -}}
{{ $repo }}:{{ $own.tag | default $v.image.tag | default .root.Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{- define "noetl.secretName" -}}
{{- if .Values.secrets.existingSecret -}}{{ .Values.secrets.existingSecret }}{{- else -}}{{ include "noetl.suffixed" (dict "root" . "suffix" "secrets") }}{{- end -}}
{{- end -}}

{{/* ServiceAccount name of a component: dict root, component. */}}
{{- define "noetl.serviceAccountName" -}}
{{- $sa := (index .root.Values .component).serviceAccount -}}
{{- if $sa.create -}}{{ default (include "noetl.name" .) $sa.name }}{{- else -}}{{ default "default" $sa.name }}{{- end -}}
{{- end -}}

{{/*
"true" when the render can see the cluster (helm install/upgrade, --dry-run=server), ""
during helm template, --dry-run=client and GitOps renders. Listing Secrets of the release
namespace needs no permission Helm itself does not need (it keeps releases there).
*/}}
{{- define "noetl.clusterReachable" -}}
{{- if (lookup "v1" "Secret" .Release.Namespace "") -}}true{{- end -}}
{{- end -}}

{{/* The message of a render that would have to invent a key. */}}
{{- define "noetl.noInventedKeys" -}}
noetl: {{ . }} is not set and this render cannot look up the cluster (helm template, --dry-run=client or a GitOps tool). The chart never invents a key outside a real install, since every render would make a different one. GitOps: create the Secret yourself and set secrets.existingSecret (and internalTls.mode=certManager or existingSecret); or install with helm install/upgrade, which keeps what it generated.
{{- end -}}

{{/* Internal mTLS. */}}
{{- define "noetl.internalTlsSecret" -}}
{{- $t := .Values.internalTls -}}
{{- if eq $t.mode "existingSecret" -}}{{ required "internalTls.existingSecret is required with internalTls.mode=existingSecret" $t.existingSecret }}{{- else -}}{{ include "noetl.suffixed" (dict "root" . "suffix" "internal-tls") }}{{- end -}}
{{- end -}}

{{/* The mode of mounted files that hold a private key: 0440 (288), readable by the
pod's fsGroup and not by other users, when the pod has an fsGroup to own them; without
one the files belong to root and the default 0644 is what the non-root user can read. */}}
{{- define "noetl.keyFileMode" -}}
{{- if dig "fsGroup" nil (.Values.podSecurityContext | default dict) }}288{{ end -}}
{{- end -}}

{{- define "noetl.internalTlsVolume" -}}
{{- $t := .root.Values.internalTls -}}
- name: internal-tls
  secret:
    {{- with include "noetl.keyFileMode" .root }}
    defaultMode: {{ . }}
    {{- end }}
    {{- if eq $t.mode "certManager" }}
    secretName: {{ include "noetl.suffixed" (dict "root" .root "suffix" (printf "%s-internal-tls" .component)) }}
    {{- else }}
    secretName: {{ include "noetl.internalTlsSecret" .root }}
    items:
      - {key: ca.crt, path: ca.crt}
      - {key: {{ .component }}.crt, path: tls.crt}
      - {key: {{ .component }}.key, path: tls.key}
    {{- end }}
{{- end -}}

{{/* Whether a component's own listener requires client certificates. */}}
{{- define "noetl.listenerMTLS" -}}
{{- if eq .component "router" -}}
{{- if and .root.Values.tls.enabled .root.Values.tls.mtls }}true{{ end -}}
{{- else if .root.Values.internalTls.enabled -}}true{{- end -}}
{{- end -}}

{{/* "true" when a list of variables ([{name, ...}]: an extraEnv) sets name or
name_FILE: dict env, name. */}}
{{- define "noetl.envSets" -}}
{{- $name := .name -}}
{{- range (.env | default list) -}}
{{- $n := toString (.name | default "") -}}
{{- if or (eq $n $name) (eq $n (printf "%s_FILE" $name)) }}true{{ end -}}
{{- end -}}
{{- end -}}

{{/*
A variable from a key of a Secret: dict root, name, key, optional, secret (default: the
platform Secret), extra (the container's other environment: its extraEnv). Left out when
extra sets the variable itself or <name>_FILE (a file from a CSI driver or a volume of
your own): the binaries refuse a secret given both ways, and a required reference would
force an empty key into the Secret just to let the pod start.
*/}}
{{- define "noetl.secretEnv" -}}
{{- $name := .name -}}
{{- if not (include "noetl.envSets" (dict "env" .extra "name" $name)) -}}
- name: {{ $name }}
  valueFrom:
    secretKeyRef: {name: {{ .secret | default (include "noetl.secretName" .root) }}, key: {{ .key }}{{ if .optional }}, optional: true{{ end }}}
{{- end -}}
{{- end -}}

{{/* Environment every service reads: dict root, component. */}}
{{- define "noetl.commonEnv" -}}
{{- $v := .root.Values -}}
- name: NOETL_HOST
  value: "0.0.0.0"
- name: NOETL_PORT
  value: {{ (index $v .component).port | quote }}
- name: NOETL_LOG_LEVEL
  value: {{ $v.logLevel | quote }}
- name: NOETL_DEBUG
  value: {{ $v.debug | quote }}
- name: NOETL_DISABLE_METRICS
  value: {{ $v.disableMetrics | quote }}
- name: NOETL_SHUTDOWN_TIMEOUT
  value: {{ printf "%ds" (int $v.shutdownTimeoutSeconds) | quote }}
{{- include "noetl.secretEnv" (dict "root" .root "name" "NOETL_INTERNAL_API_TOKEN" "key" "internal-api-token" "extra" (index $v .component).extraEnv) | nindent 0 }}
{{- if $v.internalTls.enabled }}
- name: NOETL_INTERNAL_TLS_CERT
  value: /etc/noetl/internal-tls/tls.crt
- name: NOETL_INTERNAL_TLS_KEY
  value: /etc/noetl/internal-tls/tls.key
- name: NOETL_INTERNAL_TLS_CA
  value: /etc/noetl/internal-tls/ca.crt
{{- if ne .component "router" }}
- name: NOETL_TLS_CERT
  value: /etc/noetl/internal-tls/tls.crt
- name: NOETL_TLS_KEY
  value: /etc/noetl/internal-tls/tls.key
- name: NOETL_TLS_CLIENT_CA
  value: /etc/noetl/internal-tls/ca.crt
{{- end }}
{{- end }}
{{- end -}}

{{/* The public-surface tokens of api, wallet and router (which answers 401 with them on
a path it forwards nowhere): dict root. worker-token is optional,
as in the worker's own reference: an existing Secret without it leaves the worker class
taking api-token (docs/security.md) instead of keeping the pods from starting. api-token
stays required, so publicAuth never ends up open because of a missing key. */}}
{{- define "noetl.publicAuthEnv" -}}
{{- if .root.Values.publicAuth }}
{{- $extra := (index .root.Values .component).extraEnv }}
{{- include "noetl.secretEnv" (dict "root" .root "name" "NOETL_API_TOKEN" "key" "api-token" "extra" $extra) | nindent 0 }}
{{- include "noetl.secretEnv" (dict "root" .root "name" "NOETL_WORKER_TOKEN" "key" "worker-token" "optional" true "extra" $extra) | nindent 0 }}
{{- end }}
{{- end -}}

{{/* Where a component is reached by the others: dict root, component. */}}
{{- define "noetl.url" -}}
{{- $scheme := ternary "https" "http" .root.Values.internalTls.enabled -}}
{{ $scheme }}://{{ include "noetl.name" . }}:{{ (index .root.Values .component).port }}
{{- end -}}

{{/* The router Service inside the cluster, as workers reach it (https when the router
serves TLS): the root context. */}}
{{- define "noetl.routerUrl" -}}
{{ ternary "https" "http" .Values.tls.enabled }}://{{ include "noetl.name" (dict "root" . "component" "router") }}:{{ .Values.router.service.port }}
{{- end -}}

{{/* PostgreSQL settings: dict root, secret (default: the platform Secret), extra (the
container's own extraEnv, beside postgres.extraEnv). */}}
{{- define "noetl.dbEnv" -}}
{{- $v := .root.Values -}}
- name: POSTGRES_HOST
  value: {{ $v.postgres.host | quote }}
- name: POSTGRES_PORT
  value: {{ $v.postgres.port | quote }}
- name: POSTGRES_USER
  value: {{ $v.postgres.user | quote }}
- name: POSTGRES_DATABASE
  value: {{ $v.postgres.database | quote }}
{{- /* Optional: a role that signs in without one (Cloud SQL IAM authentication) has no
postgres-password in its Secret, and a required key would keep the pods (and the
migration hook, so helm install) from ever starting. */}}
{{- include "noetl.secretEnv" (dict "root" .root "secret" .secret "name" "POSTGRES_PASSWORD" "key" "postgres-password" "optional" true "extra" (concat ($v.postgres.extraEnv | default list) (.extra | default list))) | nindent 0 }}
- name: POSTGRES_MAX_CONNECTIONS
  value: {{ $v.postgres.maxConnections | quote }}
- name: POSTGRES_MIN_CONNECTIONS
  value: {{ $v.postgres.minConnections | quote }}
- name: POSTGRES_ACQUIRE_TIMEOUT
  value: {{ $v.postgres.acquireTimeout | quote }}
- name: NOETL_SCHEMA
  value: {{ $v.postgres.schema | quote }}
{{- with $v.postgres.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* NATS and the command subjects (api and worker): dict root, extra (the container's
extraEnv). */}}
{{- define "noetl.natsEnv" -}}
{{- $v := .root.Values -}}
- name: NATS_URL
  value: {{ $v.nats.url | quote }}
{{- if $v.nats.user }}
- name: NATS_USER
  value: {{ $v.nats.user | quote }}
{{- include "noetl.secretEnv" (dict "root" .root "name" "NATS_PASSWORD" "key" "nats-password" "extra" .extra) | nindent 0 }}
{{- end }}
- name: NOETL_NATS_SUBJECT_PREFIX
  value: {{ $v.nats.subjectPrefix | quote }}
- name: NOETL_NATS_STREAM
  value: {{ $v.nats.stream | quote }}
- name: NOETL_NATS_STREAM_MAX_AGE
  value: {{ $v.nats.streamMaxAge | quote }}
{{- end -}}

{{/* Machine id of a StatefulSet pod: its ordinal (the pod-index label) plus the offset. */}}
{{- define "noetl.machineIdEnv" -}}
- name: NOETL_SERVER_MACHINE_ID
  valueFrom:
    fieldRef: {fieldPath: "metadata.labels['apps.kubernetes.io/pod-index']"}
- name: NOETL_SERVER_MACHINE_ID_OFFSET
  value: {{ (index .root.Values .component).machineIdOffset | quote }}
{{- end -}}

{{/* Most pods a component can have (its autoscaler's maximum when enabled). */}}
{{- define "noetl.maxReplicas" -}}
{{- $c := index .root.Values .component -}}
{{- if $c.autoscaling.enabled }}{{ $c.autoscaling.maxReplicas }}{{ else }}{{ $c.replicas }}{{ end -}}
{{- end -}}

{{/*
Probes: dict root, component. An HTTP GET where kubelet can make one; `noetl-<component>
healthcheck` in the container when the listener requires client certificates of the
internal CA (the check presents the service's own); tcpSocket for a router whose public
mTLS trusts another CA.
*/}}
{{- define "noetl.probes" -}}
{{- $p := .root.Values.probes -}}
{{- $mtls := include "noetl.listenerMTLS" . -}}
{{- $scheme := "HTTP" -}}
{{- if or (and (eq .component "router") .root.Values.tls.enabled) (and (ne .component "router") .root.Values.internalTls.enabled) }}{{ $scheme = "HTTPS" }}{{ end -}}
{{- range $kind := list "startup" "liveness" "readiness" }}
{{ $kind }}Probe:
  {{- $path := ternary "/readyz" "/healthz" (eq $kind "readiness") }}
  {{- if and $mtls (eq $.component "router") }}
  tcpSocket: {port: http}
  {{- else if $mtls }}
  exec:
    command: [{{ printf "noetl-%s" $.component | quote }}, "healthcheck"{{ if ne $kind "readiness" }}, "--live"{{ end }}]
  {{- else }}
  httpGet: {path: {{ $path }}, port: http, scheme: {{ $scheme }}}
  {{- end }}
  {{- toYaml (index $p $kind) | nindent 2 }}
{{- end }}
{{- end -}}

{{/*
The pod template of a component: dict root, component, env (the name of the template
with the component's own variables), db (the pod reads PostgreSQL).
*/}}
{{- define "noetl.podTemplate" -}}
{{- $v := .root.Values -}}
{{- $c := index $v .component -}}
{{- $mig := and .db (eq $v.migrate.mode "initContainer") -}}
metadata:
  labels:
    {{- include "noetl.componentLabels" . | nindent 4 }}
  {{- with $c.podAnnotations }}
  annotations: {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  # A Service named like the variable prefix would inject NOETL_PORT=tcp://... otherwise.
  enableServiceLinks: false
  serviceAccountName: {{ include "noetl.serviceAccountName" . }}
  {{- /* The wallet's token reads Kubernetes Secrets, or logs in to Vault (Kubernetes auth). */}}
  automountServiceAccountToken: {{ and (eq .component "wallet") (or $v.wallet.kubernetesSecrets.enabled (not (empty (dig "role" "" ($v.wallet.vaultKubernetesAuth | default dict))))) }}
  terminationGracePeriodSeconds: {{ add $v.shutdownTimeoutSeconds $v.preStopDelaySeconds 5 }}
  {{- with $v.imagePullSecrets }}
  imagePullSecrets: {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext: {{- toYaml $v.podSecurityContext | nindent 4 }}
  {{- with $c.nodeSelector }}
  nodeSelector: {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $c.tolerations }}
  tolerations: {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $c.affinity }}
  affinity: {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if $v.topologySpread.enabled }}
  topologySpreadConstraints:
    {{- range $key := list "topology.kubernetes.io/zone" "kubernetes.io/hostname" }}
    - maxSkew: 1
      topologyKey: {{ $key }}
      whenUnsatisfiable: {{ $v.topologySpread.whenUnsatisfiable }}
      labelSelector:
        matchLabels:
          {{- include "noetl.selector" $ | nindent 10 }}
    {{- end }}
  {{- end }}
  {{- if $mig }}
  initContainers:
    # The service's own migrations before it starts: idempotent, and an advisory lock
    # serialises replicas that start together.
    - name: migrate
      image: {{ include "noetl.image" . }}
      imagePullPolicy: {{ $v.image.pullPolicy }}
      command: [{{ printf "noetl-%s" .component | quote }}, "migrate"]
      env:
        {{- include "noetl.dbEnv" (dict "root" .root) | nindent 8 }}
      resources: {{- toYaml $v.migrate.resources | nindent 8 }}
      securityContext: {{- toYaml $v.securityContext | nindent 8 }}
      {{- with $v.postgres.extraVolumeMounts }}
      volumeMounts: {{- toYaml . | nindent 8 }}
      {{- end }}
  {{- end }}
  containers:
    - name: {{ .component }}
      image: {{ include "noetl.image" . }}
      imagePullPolicy: {{ $v.image.pullPolicy }}
      command: [{{ printf "noetl-%s" .component | quote }}, "serve"]
      ports:
        - {name: http, containerPort: {{ $c.port }}}
      env:
        {{- include "noetl.commonEnv" . | nindent 8 }}
        {{- if .db }}
        {{- include "noetl.dbEnv" (dict "root" .root "extra" $c.extraEnv) | nindent 8 }}
        {{- end }}
        {{- include .env . | nindent 8 }}
        {{- with $c.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- include "noetl.probes" . | trim | nindent 6 }}
      lifecycle:
        # Keep serving while endpoints are removed; then SIGTERM drains in-flight requests.
        preStop:
          sleep: {seconds: {{ $v.preStopDelaySeconds }}}
      resources: {{- toYaml $c.resources | nindent 8 }}
      securityContext: {{- toYaml $v.securityContext | nindent 8 }}
      volumeMounts:
        - {name: tmp, mountPath: /tmp}
        {{- if and (eq .component "router") $v.tls.enabled }}
        - {name: tls, mountPath: /etc/noetl/tls, readOnly: true}
        {{- end }}
        {{- if $v.internalTls.enabled }}
        - {name: internal-tls, mountPath: /etc/noetl/internal-tls, readOnly: true}
        {{- end }}
        {{- if .db }}
        {{- with $v.postgres.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
        {{- end }}
        {{- with $c.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: tmp
      emptyDir: {}
    {{- if and (eq .component "router") $v.tls.enabled }}
    - name: tls
      secret:
        secretName: {{ $v.tls.secretName | required "tls.secretName is required when tls.enabled" }}
        {{- with include "noetl.keyFileMode" .root }}
        defaultMode: {{ . }}
        {{- end }}
    {{- end }}
    {{- if $v.internalTls.enabled }}
    {{- include "noetl.internalTlsVolume" . | nindent 4 }}
    {{- end }}
    {{- if .db }}
    {{- with $v.postgres.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
    {{- end }}
    {{- with $c.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end -}}

{{/* A component's ClusterIP Service: dict root, component. */}}
{{- define "noetl.service" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "noetl.name" . }}
  labels:
    {{- include "noetl.componentLabels" . | nindent 4 }}
spec:
  selector:
    {{- include "noetl.selector" . | nindent 4 }}
  ports:
    - {name: http, port: {{ (index .root.Values .component).port }}, targetPort: http}
{{- end -}}
