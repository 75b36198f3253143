// cnictl: a small libcni client, as containerd, podman and cnitool drive CNI plugins.
// Built offline against Debian's golang-github-appc-cni-dev (GOPATH mode) by test/go-client.sh.
//
//	cnictl add|check|del <network> <netns path>
//
// Environment: NETCONFPATH (conflist directory, default /etc/cni/net.d), CNI_PATH,
// CNI_IFNAME (default eth0), CNI_CONTAINERID (default derived from the netns path),
// CNI_ARGS ("K=V;K=V"), CAP_ARGS (JSON object of capability args: portMappings, ips, mac,
// aliases...), CNI_CACHE_DIR (libcni's result cache, default /var/lib/cni).
package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/containernetworking/cni/libcni"
)

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func fail(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "cnictl: "+format+"\n", a...)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 4 {
		fail("usage: cnictl add|check|del <network> <netns path>")
	}
	op, network, netns := os.Args[1], os.Args[2], os.Args[3]

	list, err := libcni.LoadConfList(env("NETCONFPATH", "/etc/cni/net.d"), network)
	if err != nil {
		fail("loading network %q: %v", network, err)
	}

	var capArgs map[string]interface{}
	if s := os.Getenv("CAP_ARGS"); s != "" {
		if err := json.Unmarshal([]byte(s), &capArgs); err != nil {
			fail("CAP_ARGS is not a JSON object: %v", err)
		}
	}
	var args [][2]string
	for _, kv := range strings.Split(os.Getenv("CNI_ARGS"), ";") {
		if kv == "" {
			continue
		}
		parts := strings.SplitN(kv, "=", 2)
		if len(parts) != 2 {
			fail("CNI_ARGS: %q is not K=V", kv)
		}
		args = append(args, [2]string{parts[0], parts[1]})
	}
	id := os.Getenv("CNI_CONTAINERID")
	if id == "" {
		id = fmt.Sprintf("cnictl-%x", sha256.Sum256([]byte(netns)))[:24]
	}
	rt := &libcni.RuntimeConf{
		ContainerID:    id,
		NetNS:          netns,
		IfName:         env("CNI_IFNAME", "eth0"),
		Args:           args,
		CapabilityArgs: capArgs,
	}
	cni := libcni.NewCNIConfigWithCacheDir(filepath.SplitList(os.Getenv("CNI_PATH")), env("CNI_CACHE_DIR", "/var/lib/cni"), nil)
	ctx := context.Background()

	switch op {
	case "add":
		res, err := cni.AddNetworkList(ctx, list, rt)
		if err != nil {
			fail("ADD: %v", err)
		}
		if err := res.Print(); err != nil {
			fail("printing the result: %v", err)
		}
	case "check":
		if err := cni.CheckNetworkList(ctx, list, rt); err != nil {
			fail("CHECK: %v", err)
		}
	case "del":
		if err := cni.DelNetworkList(ctx, list, rt); err != nil {
			fail("DEL: %v", err)
		}
	default:
		fail("unknown operation %q (add, check or del)", op)
	}
}
