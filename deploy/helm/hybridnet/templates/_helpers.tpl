{{/* Image reference: registryURL/image:tag (tag defaults to the chart's appVersion). */}}
{{- define "hybridnet.image" -}}
{{- $img := .Values.images.hybridnet -}}
{{- $tag := default .Chart.AppVersion $img.tag -}}
{{- if .Values.images.registryURL -}}
{{- printf "%s/%s:%s" .Values.images.registryURL $img.image $tag -}}
{{- else -}}
{{- printf "%s:%s" $img.image $tag -}}
{{- end -}}
{{- end -}}

{{/* Labels of every object: app=hybridnet plus component. Call with (dict "ctx" $ "component" "manager"). */}}
{{- define "hybridnet.labels" -}}
app: hybridnet
component: {{ .component }}
app.kubernetes.io/name: hybridnet
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version }}
{{- end -}}

{{- define "hybridnet.selectorLabels" -}}
app: hybridnet
component: {{ .component }}
{{- end -}}

{{/* Environment DEFAULT_NETWORK_TYPE / DEFAULT_IP_FAMILY (SPEC §1.3). */}}
{{- define "hybridnet.defaultsEnv" -}}
- name: DEFAULT_NETWORK_TYPE
  value: {{ .Values.defaultNetworkType | quote }}
- name: DEFAULT_IP_FAMILY
  value: {{ .Values.defaultIPFamily | quote }}
{{- end -}}

{{/* Node selector of the control-plane components: the value, or control-plane nodes. */}}
{{- define "hybridnet.controlPlaneNodeSelector" -}}
{{- if . -}}
{{- toYaml . -}}
{{- else -}}
node-role.kubernetes.io/control-plane: ""
{{- end -}}
{{- end -}}

{{/* Security context of the non-root components (manager, webhook). */}}
{{- define "hybridnet.nonRootSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Users the webhook lets write IPInstances: this release's manager and daemon, plus Kubernetes' GC. */}}
{{- define "hybridnet.ipInstanceWriters" -}}
{{- $ns := .Release.Namespace -}}
{{- list (printf "system:serviceaccount:%s:hybridnet-manager" $ns) (printf "system:serviceaccount:%s:hybridnet-daemon" $ns) "system:serviceaccount:kube-system:generic-garbage-collector" "system:serviceaccount:kube-system:namespace-controller" "system:kube-controller-manager" | join "," -}}
{{- end -}}
