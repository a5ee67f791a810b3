{{/* The chart's name. */}}
{{- define "tessera.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-qualified name; resource names append -<service>. */}}
{{- define "tessera.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The five services, in start-up order. */}}
{{- define "tessera.services" -}}
ingest embedder clusterer publisher decider dashboard
{{- end }}

{{- define "tessera.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/part-of: tessera
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}

{{/* Selector labels of one service: (dict "root" $ "svc" "embedder"). */}}
{{- define "tessera.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tessera.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .svc }}
{{- end }}

{{- define "tessera.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "tessera.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Image of one service: (dict "root" $ "svc" "embedder" "tag" "..."). */}}
{{- define "tessera.image" -}}
{{- $i := .root.Values.image }}
{{- $repo := printf "%s/%s" $i.repository .svc }}
{{- if $i.registry }}{{ $repo = printf "%s/%s" $i.registry $repo }}{{ end }}
{{- printf "%s:%s" $repo (default $i.tag .tag) }}
{{- end }}

{{/* A value as a TESSERA__ variable's text: integers stay integers (YAML numbers arrive as
float64, which would print 5.36870912e+10), lists become comma-separated. */}}
{{- define "tessera.scalar" -}}
{{- if kindIs "float64" . }}
{{- if eq . (floor .) }}{{ printf "%d" (int64 .) }}{{ else }}{{ toString . }}{{ end }}
{{- else if kindIs "slice" . }}
{{- join "," . }}
{{- else }}
{{- toString . }}
{{- end }}
{{- end }}

{{/* `config` as TESSERA__SECTION__KEY[__SUBKEY] data lines. */}}
{{- define "tessera.configData" -}}
{{- range $section, $keys := . }}
{{- range $key, $v := $keys }}
{{- if kindIs "map" $v }}
{{- range $k2, $v2 := $v }}
{{ printf "TESSERA__%s__%s__%s" (upper $section) (upper $key) (upper $k2) }}: {{ include "tessera.scalar" $v2 | quote }}
{{- end }}
{{- else }}
{{ printf "TESSERA__%s__%s" (upper $section) (upper $key) }}: {{ include "tessera.scalar" $v | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* The options of one service: its own `config` over the shared one, then what the chart
sets itself. (dict "root" $ "svc" "embedder"). */}}
{{- define "tessera.serviceConfig" -}}
{{- $root := .root }}
{{- $s := index $root.Values .svc }}
{{- $cfg := mergeOverwrite (deepCopy $root.Values.config) (deepCopy (default dict $s.config)) }}
{{- $bus := mergeOverwrite (default dict (get $cfg "bus")) (dict "url" (include "tessera.natsUrl" $root) "name" (printf "tessera-%s" .svc)) }}
{{- if $root.Values.nats.jsDomain }}{{ $_ := set $bus "js_domain" $root.Values.nats.jsDomain }}{{ end }}
{{- if $root.Values.nats.auth.enabled }}{{ $_ := set $bus "user" (ternary "admin" .svc (eq .svc "topology")) }}{{ end }}
{{- if $root.Values.nats.tls.enabled }}
{{- $tls := dict "ca" "/etc/tessera/nats-tls/ca.crt" }}
{{- if $root.Values.nats.tls.clientCert }}
{{- $_ := set $tls "cert" "/etc/tessera/nats-tls/tls.crt" }}
{{- $_ := set $tls "key" "/etc/tessera/nats-tls/tls.key" }}
{{- end }}
{{- $_ := set $bus "tls" $tls }}
{{- end }}
{{- $_ := set $cfg "bus" $bus }}
{{- if and (eq .svc "embedder") (include "tessera.redisUrl" $root) }}
{{- $cache := mergeOverwrite (default dict (get $cfg "cache")) (dict "url" (include "tessera.redisUrl" $root)) }}
{{- if $root.Values.redis.username }}{{ $_ := set $cache "username" $root.Values.redis.username }}{{ end }}
{{- $_ := set $cfg "cache" $cache }}
{{- end }}
{{- if and (eq .svc "embedder") $root.Values.embedder.gpu.enabled }}
{{- $model := mergeOverwrite (default dict (get $cfg "model")) (dict "provider" $s.gpu.provider) }}
{{- $_ := set $cfg "model" $model }}
{{- end }}
{{- if eq .svc "dashboard" }}
{{- $dash := mergeOverwrite (default dict (get $cfg "dashboard")) (dict "bind" (printf "0.0.0.0:%d" (int $s.port))) }}
{{- $_ := set $cfg "dashboard" $dash }}
{{- end }}
{{- include "tessera.configData" $cfg }}
{{- end }}

{{/* Labels of the in-chart nats-server or Redis: (dict "root" $ "app" "nats"). Their own
app.kubernetes.io/name, so that the services' NetworkPolicy does not select them. */}}
{{- define "tessera.infraSelectorLabels" -}}
app.kubernetes.io/name: {{ .app }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end }}

{{/* The effective bus.url: the in-chart nats-server's Service with nats.install, else nats.url. */}}
{{- define "tessera.natsUrl" -}}
{{- if .Values.nats.install }}
{{- printf "nats://%s-nats:4222" (include "tessera.fullname" .) }}
{{- else }}
{{- .Values.nats.url }}
{{- end }}
{{- end }}

{{/* The effective monitoring endpoint for KEDA, whose operator runs in its own namespace:
the in-chart Service by its namespace-qualified name with nats.install, else
nats.monitoringEndpoint. */}}
{{- define "tessera.natsMonitoringEndpoint" -}}
{{- if .Values.nats.install }}
{{- printf "%s-nats.%s.svc:8222" (include "tessera.fullname" .) .Release.Namespace }}
{{- else }}
{{- .Values.nats.monitoringEndpoint }}
{{- end }}
{{- end }}

{{/* The effective cache.url: the in-chart Redis's Service with redis.install, else redis.url
(empty: an in-process cache per embedder). */}}
{{- define "tessera.redisUrl" -}}
{{- if .Values.redis.install }}
{{- printf "redis://%s-redis:6379/0" (include "tessera.fullname" .) }}
{{- else }}
{{- .Values.redis.url }}
{{- end }}
{{- end }}

{{/* The users of files/nats/auth.conf (a copy of deploy/nats/auth.conf) as a list of
"user=VARIABLE" pairs: the in-chart nats-server reads each password from $VARIABLE, which the
chart fills from key <user>-password of nats.auth.existingSecret. */}}
{{- define "tessera.natsAuthUsers" -}}
{{- $users := list }}
{{- range regexFindAll "user: *[A-Za-z0-9_-]+, *password: *\\$[A-Z0-9_]+" (.Files.Get "files/nats/auth.conf") -1 }}
{{- $users = append $users (printf "%s=%s" (regexReplaceAll "^user: *([A-Za-z0-9_-]+),.*$" . "${1}") (regexReplaceAll "^.*\\$([A-Z0-9_]+)$" . "${1}")) }}
{{- end }}
{{- join " " $users }}
{{- end }}
