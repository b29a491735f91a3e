{{/* Labels every object of the chart carries. */}}
{{- define "wallet.labels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/part-of: e-wallet
app.kubernetes.io/version: {{ .root.Values.image.tag | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end }}

{{/* The selector of one service's pods (stable across upgrades). */}}
{{- define "wallet.selector" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end }}

{{/* Services whose tokens are verified against the issuer (ADR 0008). */}}
{{- define "wallet.verifiers" -}}
api-gateway bank-service bank-card-adapter webhook-service
{{- end }}

{{/* The environment every service gets from its ConfigMap, beyond its own `env`. */}}
{{- define "wallet.sharedEnv" -}}
{{- $v := .root.Values -}}
NODE_ENV: production
LOG_LEVEL: {{ $v.logLevel | quote }}
TLS_CA_FILE: /run/secrets/tls-ca.pem
TLS_CERT_FILE: /run/secrets/tls-cert.pem
TLS_KEY_FILE: /run/secrets/tls-key.pem
OTEL_EXPORTER_OTLP_ENDPOINT: {{ $v.tracing.otlpEndpoint | quote }}
OTEL_TRACES_SAMPLER: {{ $v.tracing.sampler | quote }}
OTEL_TRACES_SAMPLER_ARG: {{ $v.tracing.samplerArg | quote }}
{{- if has .name (splitList " " (include "wallet.verifiers" .)) }}
AUTH_ISSUER: {{ $v.auth.issuer | quote }}
AUTH_AUDIENCE: {{ $v.auth.audience | quote }}
{{- end }}
{{- if eq .name "identity-service" }}
IDENTITY_ISSUER: {{ $v.auth.issuer | quote }}
IDENTITY_AUDIENCE: {{ $v.auth.audience | quote }}
{{- end }}
{{- if has .name $v.infrastructureCalls.kafka }}
KAFKA_BROKERS: {{ printf "%s-kafka-bootstrap:%v" $v.kafka.clusterName $v.kafka.port | quote }}
{{- end }}
{{- if eq .name "analytics-service" }}
ANALYTICS_KAFKA_OPERATIONS_TOPIC: {{ $v.kafka.operationsTopic | quote }}
ANALYTICS_KAFKA_DLQ_TOPIC: {{ $v.kafka.dlqTopic | quote }}
{{- end }}
{{- if eq .name "webhook-service" }}
WEBHOOK_KAFKA_OPERATIONS_TOPIC: {{ $v.kafka.operationsTopic | quote }}
{{- end }}
{{- if eq .name "bank-card-adapter" }}
CARD_ADAPTER_PAYMENT_GATEWAY_URL: {{ $v.paymentGateway.url | quote }}
{{- end }}
{{- end }}

{{/* Pods of one of our services, for NetworkPolicy peers. */}}
{{- define "wallet.peer" -}}
- podSelector:
    matchLabels:
      {{- include "wallet.selector" . | nindent 6 }}
{{- end }}
