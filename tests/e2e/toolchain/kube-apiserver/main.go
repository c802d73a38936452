// kube-apiserver for the e2e tests: the upstream command, built from the published
// k8s.io/kubernetes module with its staging modules replaced by their published
// v0.X.Y tags (go.mod). The version string comes from -ldflags (build.sh).
package main

import (
	"os"
	_ "time/tzdata"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
