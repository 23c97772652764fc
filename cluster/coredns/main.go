// CoreDNS with only the plugins the local cluster's DNS needs: a smaller, faster build than
// upstream's full plugin set. cluster/build-runtime.sh writes the go.mod next to a copy of this.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
)

func init() {
	// Upstream's execution order (core/dnsserver/zdirectives.go) restricted to these plugins:
	// a request passes through them top to bottom, so the order matters (cache before kubernetes).
	dnsserver.Directives = []string{
		"reload", "bind", "ready", "health", "errors", "log", "cache", "kubernetes", "loop", "forward",
	}
}

func main() {
	coremain.Run()
}
