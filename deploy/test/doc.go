// Package deploytest checks the deployment files of sendfile-otel without a
// container engine or a cluster: docker-compose.yaml (with compose-go's
// loader), the OpenTelemetry Collector configurations (with the collector's
// own config packages and component factories), the Kubernetes manifests
// (rendered with kustomize and decoded strictly into k8s.io/api types), the
// Prometheus configuration, and the Grafana dashboard's queries (parsed as
// PromQL and checked against the Prometheus names of the agent's metrics).
//
// It is a Go module of its own, so that the agent's module does not depend
// on compose, Kubernetes or collector packages:
//
//	cd deploy/test && go test ./...
//
// The package has only tests; this file holds its documentation.
package deploytest
