{{/* Chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "auth-manager.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name: the release name, plus the chart name unless it contains it. */}}
{{- define "auth-manager.fullname" -}}
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

{{- define "auth-manager.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "auth-manager.selectorLabels" -}}
app.kubernetes.io/name: {{ include "auth-manager.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The serving pods only: the migration Job's pod must not match Service, PDB or spread. */}}
{{- define "auth-manager.serverSelectorLabels" -}}
{{ include "auth-manager.selectorLabels" . }}
app.kubernetes.io/component: server
{{- end }}

{{- define "auth-manager.labels" -}}
helm.sh/chart: {{ include "auth-manager.chart" . }}
{{ include "auth-manager.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "auth-manager.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "auth-manager.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "auth-manager.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* Drain delay + shutdown timeout + 5 s, or the explicit value when it is long enough. */}}
{{- define "auth-manager.terminationGracePeriodSeconds" -}}
{{- $need := add .Values.shutdown.drainDelaySeconds .Values.shutdown.timeoutSeconds }}
{{- $set := .Values.shutdown.terminationGracePeriodSeconds }}
{{- if kindIs "invalid" $set }}
{{- add $need 5 }}
{{- else if lt (int $set) (int $need) }}
{{- fail (printf "shutdown.terminationGracePeriodSeconds (%v) must be at least drainDelaySeconds + timeoutSeconds (%v): the kubelet would kill pods with requests in flight" $set $need) }}
{{- else }}
{{- $set }}
{{- end }}
{{- end }}

{{/*
Variables the chart sets itself, and the secret ones that may only come from Secrets.
*/}}
{{- define "auth-manager.managedEnv" -}}
HOST PORT METRICS_ADDR SHUTDOWN_DRAIN_DELAY SHUTDOWN_TIMEOUT AUTH_MANAGER_SKIP_MIGRATIONS GOMEMLIMIT
{{- end }}
{{- define "auth-manager.secretEnv" -}}
DATABASE_URL AUTH_MANAGER_TOKEN_VAULT_ENCRYPTION_KEY AUTH_MANAGER_TOKEN_VAULT_PREVIOUS_KEYS KEYCLOAK_CLIENT_SECRET STATE_TOKEN_SECRET
{{- end }}

{{- define "auth-manager.secretRef" -}}
{{- $root := index . 0 }}{{- $var := index . 1 }}{{- $ref := index . 2 }}{{- $optional := index . 3 -}}
- name: {{ $var }}
  valueFrom:
    secretKeyRef:
      name: {{ $ref.name | default $root.Values.secrets.existingSecret | required (printf "secrets.existingSecret (or a name for %s) is required" $var) | quote }}
      key: {{ $ref.key | required (printf "the Secret key of %s is required" $var) | quote }}
      {{- if $optional }}
      optional: true
      {{- end }}
{{- end }}

{{/*
The container environment, shared by the Deployment and the migration Job: the plain
values of .Values.env, the chart-managed variables, the Secret references, extraEnv.
Argument: (list $ "serve"|"migrate").
*/}}
{{- define "auth-manager.env" -}}
{{- $root := index . 0 }}
{{- $managed := splitList " " (include "auth-manager.managedEnv" $root) }}
{{- $secret := splitList " " (include "auth-manager.secretEnv" $root) }}
{{- range $k, $v := $root.Values.env }}
{{- if has $k $secret }}
{{- fail (printf "env.%s: a secret; reference it through secrets.* (never a value in values)" $k) }}
{{- end }}
{{- if has $k $managed }}
{{- fail (printf "env.%s: set by the chart (see shutdown, migrations, resources)" $k) }}
{{- end }}
{{- end }}
{{- range $e := $root.Values.extraEnv }}
{{- if and (has $e.name $secret) (hasKey $e "value") }}
{{- fail (printf "extraEnv %s: a secret; use valueFrom.secretKeyRef or secrets.*" $e.name) }}
{{- end }}
{{- end }}
{{- $_ := required "env.KEYCLOAK_ISSUER is required (the Keycloak base URL, e.g. https://sso.example.com)" $root.Values.env.KEYCLOAK_ISSUER }}
{{- $_ := required "env.KEYCLOAK_CONSENT_REDIRECT_URI is required (this service's public /v1/offline-token/callback URL)" $root.Values.env.KEYCLOAK_CONSENT_REDIRECT_URI }}
{{- if and (not $root.Values.env.KEYCLOAK_REALM) (not (contains "/realms/" $root.Values.env.KEYCLOAK_ISSUER)) }}
{{- fail "env.KEYCLOAK_REALM is required (or a realm URL …/realms/NAME in KEYCLOAK_ISSUER)" }}
{{- end -}}
- name: HOST
  value: "0.0.0.0"
- name: PORT
  value: "8000"
- name: METRICS_ADDR
  value: {{ printf ":%v" $root.Values.metrics.port | quote }}
- name: SHUTDOWN_DRAIN_DELAY
  value: {{ $root.Values.shutdown.drainDelaySeconds | quote }}
- name: SHUTDOWN_TIMEOUT
  value: {{ $root.Values.shutdown.timeoutSeconds | quote }}
- name: AUTH_MANAGER_SKIP_MIGRATIONS
  value: {{ $root.Values.migrations.enabled | quote }}
{{- if $root.Values.goMemLimitFromResources }}
{{- with $root.Values.resources.limits }}{{ if .memory }}
- name: GOMEMLIMIT
  valueFrom:
    resourceFieldRef:
      resource: limits.memory
{{- end }}{{ end }}
{{- end }}
{{- range $k, $v := $root.Values.env }}
{{- if not (kindIs "invalid" $v) }}
- name: {{ $k }}
  value: {{ toString $v | quote }}
{{- end }}
{{- end }}
{{- with $root.Values.secrets }}
{{ include "auth-manager.secretRef" (list $root "DATABASE_URL" .databaseUrl false) }}
{{ include "auth-manager.secretRef" (list $root "AUTH_MANAGER_TOKEN_VAULT_ENCRYPTION_KEY" .encryptionKey false) }}
{{ include "auth-manager.secretRef" (list $root "KEYCLOAK_CLIENT_SECRET" .clientSecret false) }}
{{ include "auth-manager.secretRef" (list $root "STATE_TOKEN_SECRET" .stateSecret false) }}
{{- if .previousKeys.key }}
{{ include "auth-manager.secretRef" (list $root "AUTH_MANAGER_TOKEN_VAULT_PREVIOUS_KEYS" .previousKeys true) }}
{{- end }}
{{- end }}
{{- with $root.Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}
