{{/*
Names. Resource names are truncated to 63 characters (DNS label); a StatefulSet's pods add "-<ordinal>",
so with sharding the name is cut shorter to leave room for it.
*/}}
{{- define "cph-exporter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "cph-exporter.fullname" -}}
{{- $max := ternary 52 63 (gt (int .Values.sharding.shards) 1) }}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc $max | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc $max | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc $max | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "cph-exporter.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "cph-exporter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cph-exporter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "cph-exporter.labels" -}}
helm.sh/chart: {{ include "cph-exporter.chart" . }}
{{ include "cph-exporter.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: cph-exporter
{{- end }}

{{- define "cph-exporter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "cph-exporter.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "cph-exporter.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{- define "cph-exporter.sharded" -}}
{{- if gt (int .Values.sharding.shards) 1 }}true{{ end }}
{{- end }}

{{/* The Secret that holds AK/SK (and optionally a security token). */}}
{{- define "cph-exporter.credentialsSecretName" -}}
{{- .Values.credentials.existingSecret | default (printf "%s-credentials" (include "cph-exporter.fullname" .)) }}
{{- end }}

{{/* Whether a security token file is mounted and configured. */}}
{{- define "cph-exporter.hasSecurityToken" -}}
{{- if .Values.credentials.existingSecret }}
{{- if .Values.credentials.existingSecretKeys.securityToken }}true{{ end }}
{{- else if .Values.credentials.securityToken }}true{{ end }}
{{- end }}

{{- define "cph-exporter.webConfigSecretName" -}}
{{- .Values.webConfig.existingSecret | default (printf "%s-web-config" (include "cph-exporter.fullname" .)) }}
{{- end }}

{{- define "cph-exporter.scheme" -}}
{{- if and .Values.webConfig.enabled .Values.webConfig.tls.enabled }}HTTPS{{ else }}HTTP{{ end }}
{{- end }}

{{/* Paths inside the container; the exporter's config file names the credential files by these paths. */}}
{{- define "cph-exporter.paths" -}}
configDir: /etc/cph-exporter/config
configFile: /etc/cph-exporter/config/config.yml
secretsDir: /etc/cph-exporter/secrets
webDir: /etc/cph-exporter/web
tlsDir: /etc/cph-exporter/tls
{{- end }}

{{/*
The exporter's configuration file (docs/CONTRACTS.md, "Configuration file"): the targets and tuning from
.Values.config, and a credentials block the chart owns, pointing at the mounted Secret files.
*/}}
{{- define "cph-exporter.configFile" -}}
{{- $paths := include "cph-exporter.paths" . | fromYaml }}
{{- $credentials := dict "access_key_file" (printf "%s/ak" $paths.secretsDir) "secret_key_file" (printf "%s/sk" $paths.secretsDir) }}
{{- if include "cph-exporter.hasSecurityToken" . }}
{{- $_ := set $credentials "security_token_file" (printf "%s/token" $paths.secretsDir) }}
{{- end }}
{{- $config := dict "targets" .Values.config.targets "credentials" $credentials }}
{{- range $section := list "poll" "api" "metrics" }}
{{- with index $.Values.config $section }}
{{- $_ := set $config $section . }}
{{- end }}
{{- end }}
{{- toYaml $config }}
{{- end }}

{{/*
Checks that values.schema.json cannot express. Included by the workload template, so that
`helm install` and `helm template` stop with one clear message instead of a crash-looping pod.
*/}}
{{- define "cph-exporter.validate" -}}
{{- if not .Values.config.targets }}
{{- fail "config.targets is empty: list at least one target, e.g. --set 'config.targets[0].project_id=<32-hex project id>,config.targets[0].region=cn-north-4'" }}
{{- end }}
{{- $seen := dict }}
{{- range .Values.config.targets }}
{{- $key := printf "%s/%s" .project_id .region }}
{{- if hasKey $seen $key }}
{{- fail (printf "config.targets: (project_id, region) %s is listed twice" $key) }}
{{- end }}
{{- $_ := set $seen $key true }}
{{- end }}
{{- if not .Values.credentials.existingSecret }}
{{- if not (and .Values.credentials.accessKey .Values.credentials.secretKey) }}
{{- fail "credentials: set credentials.existingSecret (recommended) or both credentials.accessKey and credentials.secretKey" }}
{{- end }}
{{- end }}
{{- if .Values.webConfig.enabled }}
{{- if not (or .Values.webConfig.existingSecret .Values.webConfig.config) }}
{{- fail "webConfig.enabled: set webConfig.existingSecret or webConfig.config" }}
{{- end }}
{{- if and .Values.webConfig.tls.enabled (not .Values.webConfig.tls.secretName) }}
{{- fail "webConfig.tls.enabled: set webConfig.tls.secretName to a kubernetes.io/tls Secret (tls.crt, tls.key)" }}
{{- end }}
{{- end }}
{{- end }}
