{{/*
The pod template shared by the Deployment (one exporter) and the StatefulSet (one exporter per shard).
*/}}
{{- define "cph-exporter.podTemplate" -}}
{{- $paths := include "cph-exporter.paths" . | fromYaml }}
{{- $scheme := include "cph-exporter.scheme" . -}}
metadata:
  labels:
    {{- include "cph-exporter.selectorLabels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    # Restart on a configuration change: the exporter reads its config file once, at start-up.
    checksum/config: {{ include "cph-exporter.configFile" . | sha256sum }}
    {{- if and .Values.webConfig.enabled (not .Values.webConfig.existingSecret) }}
    checksum/web-config: {{ toYaml .Values.webConfig.config | sha256sum }}
    {{- end }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "cph-exporter.serviceAccountName" . }}
  # The exporter never calls the Kubernetes API.
  automountServiceAccountToken: false
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  securityContext:
    {{- toYaml .Values.podSecurityContext | nindent 4 }}
  terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
  containers:
    - name: exporter
      image: {{ include "cph-exporter.image" . | quote }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args:
        - --config.file={{ $paths.configFile }}
        - --web.listen-address=:{{ .Values.service.port }}
        - --log.level={{ .Values.logLevel }}
        {{- if .Values.webConfig.enabled }}
        - --web.config.file={{ $paths.webDir }}/web-config.yml
        {{- end }}
        {{- if include "cph-exporter.sharded" . }}
        # The exporter takes its shard index from the ordinal ending the pod name: <name>-3 is shard 3.
        - --shard.count={{ .Values.sharding.shards }}
        {{- end }}
        {{- range .Values.extraArgs }}
        - {{ . | quote }}
        {{- end }}
      {{- if or (include "cph-exporter.sharded" .) .Values.extraEnv }}
      env:
        {{- if include "cph-exporter.sharded" . }}
        - name: POD_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        {{- end }}
        {{- with .Values.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- end }}
      ports:
        - name: metrics
          containerPort: {{ .Values.service.port }}
          protocol: TCP
      {{- if and .Values.webConfig.enabled .Values.webConfig.tls.clientCertificateRequired }}
      {{- /* The kubelet cannot present a client certificate: probe the port instead of the HTTP routes. */}}
      livenessProbe:
        tcpSocket:
          port: metrics
        {{- toYaml .Values.livenessProbe | nindent 8 }}
      readinessProbe:
        tcpSocket:
          port: metrics
        {{- toYaml .Values.readinessProbe | nindent 8 }}
      {{- else }}
      livenessProbe:
        httpGet:
          path: /healthz
          port: metrics
          scheme: {{ $scheme }}
        {{- toYaml .Values.livenessProbe | nindent 8 }}
      readinessProbe:
        httpGet:
          path: /readyz
          port: metrics
          scheme: {{ $scheme }}
        {{- toYaml .Values.readinessProbe | nindent 8 }}
      {{- end }}
      resources:
        {{- toYaml .Values.resources | nindent 8 }}
      securityContext:
        {{- toYaml .Values.securityContext | nindent 8 }}
      volumeMounts:
        - name: config
          mountPath: {{ $paths.configDir }}
          readOnly: true
        - name: credentials
          mountPath: {{ $paths.secretsDir }}
          readOnly: true
        {{- if .Values.webConfig.enabled }}
        - name: web-config
          mountPath: {{ $paths.webDir }}
          readOnly: true
        {{- if .Values.webConfig.tls.enabled }}
        - name: tls
          mountPath: {{ $paths.tlsDir }}
          readOnly: true
        {{- end }}
        {{- end }}
        # The root file system is read-only; /tmp is the one writable place (Node's os.tmpdir()).
        - name: tmp
          mountPath: /tmp
        {{- with .Values.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: config
      configMap:
        name: {{ include "cph-exporter.fullname" . }}
    # Mounted as files, never as environment variables. No subPath, so that a rotated Secret reaches
    # the pod (the kubelet swaps the files in place) and the exporter re-reads it.
    - name: credentials
      secret:
        secretName: {{ include "cph-exporter.credentialsSecretName" . }}
        defaultMode: 288  # 0440: owner and the pod's fsGroup may read
        items:
          {{- $keys := .Values.credentials.existingSecretKeys }}
          {{- if .Values.credentials.existingSecret }}
          - key: {{ $keys.accessKey }}
            path: ak
          - key: {{ $keys.secretKey }}
            path: sk
          {{- if $keys.securityToken }}
          - key: {{ $keys.securityToken }}
            path: token
          {{- end }}
          {{- else }}
          - key: access-key
            path: ak
          - key: secret-key
            path: sk
          {{- if .Values.credentials.securityToken }}
          - key: security-token
            path: token
          {{- end }}
          {{- end }}
    {{- if .Values.webConfig.enabled }}
    - name: web-config
      secret:
        secretName: {{ include "cph-exporter.webConfigSecretName" . }}
        defaultMode: 288  # 0440: owner and the pod's fsGroup may read
        items:
          - key: {{ if .Values.webConfig.existingSecret }}{{ .Values.webConfig.existingSecretKey }}{{ else }}web-config.yml{{ end }}
            path: web-config.yml
    {{- if .Values.webConfig.tls.enabled }}
    - name: tls
      secret:
        secretName: {{ .Values.webConfig.tls.secretName }}
        defaultMode: 288  # 0440: owner and the pod's fsGroup may read
        items:
          - key: tls.crt
            path: tls.crt
          - key: tls.key
            path: tls.key
    {{- end }}
    {{- end }}
    - name: tmp
      emptyDir:
        sizeLimit: 64Mi
    {{- with .Values.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
