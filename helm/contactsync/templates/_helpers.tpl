{{/* Names, labels and the RBAC rules shared by the templates. */}}

{{- define "contactsync.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name; the release name alone when it already contains the chart name. */}}
{{- define "contactsync.fullname" -}}
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

{{- define "contactsync.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "contactsync.selectorLabels" -}}
app.kubernetes.io/name: {{ include "contactsync.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "contactsync.labels" -}}
{{ include "contactsync.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: contactsync
helm.sh/chart: {{ include "contactsync.chart" . }}
{{- end }}

{{- define "contactsync.serviceAccountName" -}}
{{- default (include "contactsync.fullname" .) .Values.serviceAccount.name }}
{{- end }}

{{- define "contactsync.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* Watching the whole cluster, or only the listed namespaces. */}}
{{- define "contactsync.clusterWide" -}}
{{- if not .Values.watchNamespaces }}true{{ end }}
{{- end }}

{{/*
What the operator does inside a watched namespace (or everywhere, in cluster-wide mode).
Its argument is the Kopf peering resource: clusterkopfpeerings or kopfpeerings.
*/}}
{{- define "contactsync.rules" -}}
- apiGroups: [contactsync.dev]
  resources: [contactsyncs]
  verbs: [get, list, watch, patch, update]
- apiGroups: [contactsync.dev]
  resources: [contactsyncs/status]
  verbs: [get, patch, update]
# The children of each ContactSync region.
- apiGroups: [""]
  resources: [serviceaccounts, configmaps, persistentvolumeclaims]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [networking.k8s.io]
  resources: [networkpolicies]
  verbs: [get, list, watch, create, patch, delete]
# The payload-encryption keys Secret a region names: read by name, never listed or watched.
- apiGroups: [""]
  resources: [secrets]
  verbs: [get]
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create, patch]
# Kopf's peering object: the operator creates it at start when it is missing.
- apiGroups: [kopf.dev]
  resources: [{{ . }}]
  verbs: [get, list, watch, create, patch]
{{- end }}

{{/* The platform's egress policies are cluster-scoped: read in either mode. Created only with
egressPolicy.create, the one the chart hands the operator; never changed or deleted. */}}
{{- define "contactsync.egressPolicyRules" -}}
- apiGroups: [contactsync.dev]
  resources: [contactsyncegresspolicies]
  verbs: [get, list, watch{{ if .Values.egressPolicy.create }}, create{{ end }}]
{{- end }}

{{/* Kopf scans CRDs at start to find the resources it serves, in either mode. */}}
{{- define "contactsync.crdScanRules" -}}
- apiGroups: [apiextensions.k8s.io]
  resources: [customresourcedefinitions]
  verbs: [list, watch]
{{- end }}
