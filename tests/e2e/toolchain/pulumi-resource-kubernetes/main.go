// pulumi-resource-kubernetes for the e2e engine run: the upstream provider served from its
// published module. Upstream's main embeds schema files generated at release time, which the
// module does not hold; build.sh generates them beside this file in a temporary copy of this
// folder (from the module's committed schema.json and terraform-mapping.json, with the version
// set) before `go build`.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema-embed.json
var pulumiSchema []byte

//go:embed terraform-mapping-embed.json
var terraformMapping []byte

func main() {
	provider.Serve("kubernetes", version.Version, pulumiSchema, terraformMapping)
}
