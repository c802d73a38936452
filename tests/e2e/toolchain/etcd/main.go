// etcd for the e2e tests: the upstream server's own entry point, built from the
// published go.etcd.io/etcd/server/v3 module (version in ../versions.env).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
