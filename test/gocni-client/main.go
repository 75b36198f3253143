// gocnictl: a small go-cni client, as containerd's CRI plugin and nerdctl drive CNI plugins
// (go-cni over libcni). Built offline against Debian's golang-github-containerd-go-cni-dev
// (GOPATH mode) by test/go-client.sh.
//
//	gocnictl setup|check|remove|status <netns path>
//
// Environment: CONF_DIR (conflists; containerd's conf_dir), CNI_PATH (plugin dirs, ':'),
// NETWORKS (how many conflists to load, as max_conf_num: eth0, eth1, ...; lo always first),
// LOOPBACK=0 (leave out the loopback network), CONTAINER_ID, LABELS (JSON object: K8S_POD_* labels, as the CRI passes them), PORTS (JSON
// list of go-cni PortMapping), IPRANGES (JSON list of lists of go-cni IPRanges), DNS (JSON
// go-cni DNS), BANDWIDTH (JSON go-cni BandWidth). setup prints go-cni's Result as JSON.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	gocni "github.com/containerd/go-cni"
)

func fail(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "gocnictl: "+format+"\n", a...)
	os.Exit(1)
}

func fromEnv(name string, v interface{}) bool {
	s := os.Getenv(name)
	if s == "" {
		return false
	}
	if err := json.Unmarshal([]byte(s), v); err != nil {
		fail("%s is not valid JSON: %v", name, err)
	}
	return true
}

func main() {
	if len(os.Args) != 3 {
		fail("usage: gocnictl setup|check|remove|status <netns path>")
	}
	op, netns := os.Args[1], os.Args[2]
	n, err := strconv.Atoi(os.Getenv("NETWORKS"))
	if err != nil || n < 1 {
		n = 1
	}
	c, err := gocni.New(
		gocni.WithMinNetworkCount(n),
		gocni.WithPluginConfDir(os.Getenv("CONF_DIR")),
		gocni.WithPluginDir(strings.Split(os.Getenv("CNI_PATH"), ":")),
		gocni.WithPluginMaxConfNum(n),
		gocni.WithInterfacePrefix("eth"),
	)
	if err != nil {
		fail("new: %v", err)
	}
	// as containerd's CRI: the loopback network first (LOOPBACK=0: not, e.g. for a CHECK, which
	// libcni refuses for its 0.3.1 config), then the conf dir's networks
	load := []gocni.Opt{gocni.WithLoNetwork, gocni.WithDefaultConf}
	if os.Getenv("LOOPBACK") == "0" {
		load = load[1:]
	}
	if err := c.Load(load...); err != nil {
		fail("load: %v", err)
	}
	var opts []gocni.NamespaceOpts
	labels := map[string]string{}
	if fromEnv("LABELS", &labels) {
		opts = append(opts, gocni.WithLabels(labels))
	}
	var ports []gocni.PortMapping
	if fromEnv("PORTS", &ports) {
		opts = append(opts, gocni.WithCapabilityPortMap(ports))
	}
	var ranges [][]gocni.IPRanges
	if fromEnv("IPRANGES", &ranges) {
		opts = append(opts, gocni.WithCapability("ipRanges", ranges))
	}
	var dns gocni.DNS
	if fromEnv("DNS", &dns) {
		opts = append(opts, gocni.WithCapabilityDNS(dns))
	}
	var bw gocni.BandWidth
	if fromEnv("BANDWIDTH", &bw) {
		opts = append(opts, gocni.WithCapabilityBandWidth(bw))
	}
	ctx := context.Background()
	id := os.Getenv("CONTAINER_ID")
	switch op {
	case "setup":
		r, err := c.Setup(ctx, id, netns, opts...)
		if err != nil {
			fail("setup: %v", err)
		}
		out, _ := json.Marshal(r)
		fmt.Println(string(out))
	case "check":
		if err := c.Check(ctx, id, netns, opts...); err != nil {
			fail("check: %v", err)
		}
	case "remove":
		if err := c.Remove(ctx, id, netns, opts...); err != nil {
			fail("remove: %v", err)
		}
	case "status":
		if err := c.Status(); err != nil {
			fail("status: %v", err)
		}
	default:
		fail("unknown operation %q", op)
	}
}
