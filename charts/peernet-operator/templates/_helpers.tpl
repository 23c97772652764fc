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

{{/* A map of labels as `k=v,k2=v2` (sorted), for the operator's label settings. */}}
{{- define "peernet-operator.labelList" -}}
{{- $items := list -}}
{{- range $k, $v := . -}}
{{- $items = append $items (printf "%s=%s" $k $v) -}}
{{- end -}}
{{- join "," $items -}}
{{- end -}}

{{/*
The namespaced rules: what the operator does to PeerNetworks and their children, each verb one
its client sends (docs/reference/operator.md#rbac names the call behind each). Objects are read
by list + watch (informers); `get` only where it looks one up by name: a PeerNetwork (a status
write that conflicted), a Secret, ConfigMap or PersistentVolumeClaim by a child's name that is
not in its cache.
*/}}
{{- define "peernet-operator.namespacedRules" -}}
- apiGroups: [peernet.io]
  resources: [peernetworks]
  verbs: [get, list, watch]
- apiGroups: [peernet.io]
  resources: [peernetworks/status]
  verbs: [update]
- apiGroups: ['']
  resources: [pods]
  verbs: [list, watch, create, delete]
- apiGroups: ['']
  resources: [secrets]
  verbs: [get, list, watch, create, update]
- apiGroups: ['']
  resources: [configmaps]
  verbs: [get, list, watch, create, patch]
- apiGroups: ['']
  resources: [services]
  verbs: [list, watch, create, patch, delete]
- apiGroups: ['']
  resources: [persistentvolumeclaims]
  verbs: [get, list, watch, create, update, delete]
- apiGroups: ['']
  resources: [events]
  verbs: [create]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [list, watch, create, patch, delete]
- apiGroups: [networking.k8s.io]
  resources: [networkpolicies]
  verbs: [list, watch, create, patch, delete]
{{- end -}}
