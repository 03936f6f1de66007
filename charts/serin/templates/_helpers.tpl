{{- define "serin.fullname" -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "serin.selectorLabels" -}}
app.kubernetes.io/name: serin
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "serin.labels" -}}
{{ include "serin.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Whether router `name` (gatewayapi, istio, smi) gets RBAC: its providers value, else whether `provider` selects it. */}}
{{- define "serin.providerEnabled" -}}
{{- $name := index . 0 -}}
{{- $root := index . 1 -}}
{{- $set := index $root.Values.providers $name -}}
{{- if kindIs "bool" $set -}}
{{- ternary "true" "" $set -}}
{{- else -}}
{{- $p := $root.Values.provider | default "" -}}
{{- if eq $name "gatewayapi" -}}{{- ternary "true" "" (hasPrefix "gatewayapi" $p) -}}
{{- else if eq $name "istio" -}}{{- ternary "true" "" (eq $p "istio") -}}
{{- else if eq $name "smi" -}}{{- ternary "true" "" (or (hasPrefix "smi" $p) (eq $p "linkerd")) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "serin.leaderElect" -}}
{{- ternary "true" "" (or .Values.leaderElection.enabled (gt (int .Values.replicaCount) 1)) -}}
{{- end -}}
