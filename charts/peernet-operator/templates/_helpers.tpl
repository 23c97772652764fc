{{- define "peernet-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "peernet-operator.labels" -}}
app.kubernetes.io/name: peernet-operator
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "peernet-operator.selectorLabels" -}}
app.kubernetes.io/name: peernet-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "peernet-operator.serviceAccountName" -}}
{{- default (include "peernet-operator.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{/* The namespaced rules: what the operator does to PeerNetworks and their children. */}}
{{- define "peernet-operator.namespacedRules" -}}
- apiGroups: [peernet.io]
  resources: [peernetworks]
  verbs: [get, list, watch]
- apiGroups: [peernet.io]
  resources: [peernetworks/status]
  verbs: [update]
- apiGroups: ['']
  resources: [pods]
  verbs: [get, list, watch, create, delete]
- apiGroups: ['']
  resources: [secrets]
  verbs: [get, list, watch, create, update]
- apiGroups: ['']
  resources: [configmaps, services]
  verbs: [get, list, watch, create, patch]
- apiGroups: ['']
  resources: [events]
  verbs: [create, patch]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [networking.k8s.io]
  resources: [networkpolicies]
  verbs: [get, list, watch, create, patch, delete]
{{- end -}}
