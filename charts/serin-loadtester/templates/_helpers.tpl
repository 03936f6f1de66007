{{/* The name of every object: the release name, as the example Canary's URLs expect. */}}
{{- define "serin-loadtester.fullname" -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The ConfigMap that keeps gate state across restarts. */}}
{{- define "serin-loadtester.stateConfigMap" -}}
{{- printf "%s-gates" (include "serin-loadtester.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "serin-loadtester.selectorLabels" -}}
app.kubernetes.io/name: serin-loadtester
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "serin-loadtester.labels" -}}
{{ include "serin-loadtester.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}
