{{- define "scorestream.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "scorestream.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "scorestream.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "scorestream.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "scorestream.selectorLabels" -}}
app.kubernetes.io/name: {{ include "scorestream.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "scorestream.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "scorestream.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Names of the settings that are secrets: they must come from the Secret, never the ConfigMap. */}}
{{- define "scorestream.secretSettings" -}}
KAFKA_SASL_PASSWORD REDIS_PASSWORD
{{- end -}}

{{- define "scorestream.secretName" -}}
{{- default (include "scorestream.fullname" .) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* Whole seconds of SHUTDOWN_TIMEOUT_MS (the engine's default is 10000). */}}
{{- define "scorestream.shutdownSeconds" -}}
{{- $ms := int (default "10000" .Values.config.SHUTDOWN_TIMEOUT_MS) -}}
{{- div (add $ms 999) 1000 -}}
{{- end -}}

{{- define "scorestream.gracePeriod" -}}
{{- if .Values.terminationGracePeriodSeconds -}}
{{- int .Values.terminationGracePeriodSeconds -}}
{{- else -}}
{{- add (int (include "scorestream.shutdownSeconds" .)) 20 -}}
{{- end -}}
{{- end -}}

{{/* Render-time checks: settings a cluster would only reveal as idle pods or killed drains. */}}
{{- define "scorestream.validate" -}}
{{- $partitions := int .Values.inputTopicPartitions -}}
{{- if lt $partitions 1 -}}
{{- fail "inputTopicPartitions must be the input topic's partition count (>= 1)" -}}
{{- end -}}
{{- if .Values.autoscaling.enabled -}}
{{- if gt (int .Values.autoscaling.maxReplicaCount) $partitions -}}
{{- fail (printf "autoscaling.maxReplicaCount (%d) exceeds inputTopicPartitions (%d): a consumer group cannot use more consumers than partitions" (int .Values.autoscaling.maxReplicaCount) $partitions) -}}
{{- end -}}
{{- if gt (int .Values.autoscaling.minReplicaCount) (int .Values.autoscaling.maxReplicaCount) -}}
{{- fail "autoscaling.minReplicaCount exceeds autoscaling.maxReplicaCount" -}}
{{- end -}}
{{- if not .Values.config.KAFKA_BROKERS -}}
{{- fail "autoscaling on consumer lag needs config.KAFKA_BROKERS" -}}
{{- end -}}
{{- else if gt (int .Values.replicaCount) $partitions -}}
{{- fail (printf "replicaCount (%d) exceeds inputTopicPartitions (%d): a consumer group cannot use more consumers than partitions" (int .Values.replicaCount) $partitions) -}}
{{- end -}}
{{- if le (int (include "scorestream.gracePeriod" .)) (int (include "scorestream.shutdownSeconds" .)) -}}
{{- fail (printf "terminationGracePeriodSeconds (%s) must exceed SHUTDOWN_TIMEOUT_MS (%s s), or the kubelet kills the drain" (include "scorestream.gracePeriod" .) (include "scorestream.shutdownSeconds" .)) -}}
{{- end -}}
{{- range $k, $v := .Values.config -}}
{{- if has $k (splitList " " (include "scorestream.secretSettings" $)) -}}
{{- fail (printf "config.%s is a secret: put it under secrets.values (or in secrets.existingSecret)" $k) -}}
{{- end -}}
{{- if or (eq $k "METRICS_PORT") (eq $k "METRICS_HOST") -}}
{{- fail (printf "config.%s is set by the chart (metrics.port; 0.0.0.0)" $k) -}}
{{- end -}}
{{- end -}}
{{- range $k, $v := .Values.secrets.values -}}
{{- if not (has $k (splitList " " (include "scorestream.secretSettings" $))) -}}
{{- fail (printf "secrets.values.%s is not a secret setting (those are: %s)" $k (include "scorestream.secretSettings" $)) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* KEDA's name for the SASL mechanism. */}}
{{- define "scorestream.kedaSasl" -}}
{{- $m := default "none" .Values.config.KAFKA_SASL_MECHANISM -}}
{{- if eq $m "plain" -}}plaintext{{- else -}}{{- $m | replace "sha-" "sha" | replace "-" "_" -}}{{- end -}}
{{- end -}}

{{- define "scorestream.kedaAuth" -}}
{{- or (ne (include "scorestream.kedaSasl" .) "none") (eq (toString (default "false" .Values.config.KAFKA_SSL)) "true") -}}
{{- end -}}
