// promlint reads Prometheus text exposition on stdin and prints what
// github.com/prometheus/client_golang/prometheus/testutil/promlint (the linter behind
// `promtool check metrics`) finds, one "metric: text" line each. Exit 0: clean; 3: problems;
// 1: unreadable input.
package main

import (
	"fmt"
	"os"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

func main() {
	problems, err := promlint.New(os.Stdin).Lint()
	if err != nil {
		fmt.Fprintf(os.Stderr, "promlint: %v\n", err)
		os.Exit(1)
	}
	for _, p := range problems {
		fmt.Printf("%s: %s\n", p.Metric, p.Text)
	}
	if len(problems) > 0 {
		os.Exit(3)
	}
}
